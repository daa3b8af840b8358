import { z } from "zod";
import { JWT_ALGORITHMS } from "./verifier.js";

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

export const issuerSchema = z.strictObject({
  issuer: z.string().min(1),
  jwksUri: httpUrl,
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(["RS256"]),
  tenantClaim: z.string().min(1).default("org_id"),
  scopeClaim: z.string().min(1).default("scope"),
  authorizedParties: z.array(z.string().min(1)).min(1).optional(),
  clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
  jwksCooldownSeconds: z.number().int().min(0).max(3600).default(30),
});
export type IssuerPolicy = z.infer<typeof issuerSchema>;
