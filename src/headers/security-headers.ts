import type { OutgoingHttpHeaders } from "node:http";
import { z } from "zod";

export const headersSchema = z
  .strictObject({
    /** Defaults to on outside development. */
    hsts: z.boolean().optional(),
    frameOptions: z.enum(["DENY", "SAMEORIGIN", "off"]).default("DENY"),
    referrerPolicy: z.string().regex(/^[a-z-]+$/).default("no-referrer"),
    /** Set on forwarded responses too; gateway-made responses always get `default-src 'none'`. */
    contentSecurityPolicy: z.string().regex(/^[\x20-\x7e]+$/).optional(),
  })
  .default({ frameOptions: "DENY", referrerPolicy: "no-referrer" });
export type HeadersPolicy = z.infer<typeof headersSchema>;

/** For responses the gateway writes itself (errors, health, key sets): nothing there is a page. */
export const GATEWAY_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = "max-age=63072000; includeSubDomains";

/**
 * The security headers of one route, computed once at start-up and written with the response
 * head in the same call (not by setHeader per request, which showed up in the profile).
 */
export function securityHeaders(policy: HeadersPolicy, production: boolean, forGatewayResponses = false): Readonly<OutgoingHttpHeaders> {
  const headers: OutgoingHttpHeaders = { "x-content-type-options": "nosniff" };
  if (policy.hsts ?? production) headers["strict-transport-security"] = HSTS;
  if (policy.frameOptions !== "off") headers["x-frame-options"] = policy.frameOptions;
  headers["referrer-policy"] = policy.referrerPolicy;
  const csp = forGatewayResponses ? GATEWAY_CSP : policy.contentSecurityPolicy;
  if (csp !== undefined) headers["content-security-policy"] = csp;
  return Object.freeze(headers);
}
