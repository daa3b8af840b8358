import { z } from "zod";
import { JWT_ALGORITHMS } from "../identity/jwt/verifier.js";
import { validatePattern } from "../routing/router.js";

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const scope = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/, "scopes are 1-100 characters of letters, digits and : . _ * -");
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const durationMs = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

const pattern = z.string().superRefine((value, ctx) => {
  const problem = validatePattern(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `route pattern ${problem}` });
});

const authenticate = z.union([
  z.literal("none"),
  z.strictObject({
    methods: z.array(z.enum(["apiKey", "jwt"])).min(1),
    /** Which API keys the route accepts; a `live` route never admits a test key. */
    keyEnv: z.enum(["live", "test", "any"]).default("any"),
  }),
]);

const authorize = z.strictObject({
  /** All of these must be held. */
  scopes: z.array(scope).min(1),
  /** `not_found` answers 404 instead of 403, so a caller cannot learn that the resource exists. */
  onDenied: z.enum(["forbidden", "not_found"]).default("forbidden"),
});

const forward = z.strictObject({
  upstream: httpUrl.optional(),
  connectTimeoutMs: durationMs(60_000, 5_000),
  headersTimeoutMs: durationMs(600_000, 30_000),
  bodyTimeoutMs: durationMs(600_000, 30_000),
  /** Pass the client's Authorization / X-API-Key on to the upstream (off: the upstream gets the signed identity instead). */
  passCredentials: z.boolean().default(false),
});

const headers = z.strictObject({
  /** Defaults to on outside development. */
  hsts: z.boolean().optional(),
  frameOptions: z.enum(["DENY", "SAMEORIGIN", "off"]).default("DENY"),
  referrerPolicy: z.string().regex(/^[a-z-]+$/).default("no-referrer"),
  /** Set on forwarded responses too; gateway-made responses always get `default-src 'none'`. */
  contentSecurityPolicy: z.string().regex(/^[\x20-\x7e]+$/).optional(),
});

export const routeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "route names are 1-64 characters of letters, digits and . _ -"),
  match: z.strictObject({
    path: pattern,
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
  }),
  /** Absent means: require a credential, by every configured method. `none` must be said. */
  authenticate: authenticate.optional(),
  authorize: authorize.optional(),
  headers: headers.default({ frameOptions: "DENY", referrerPolicy: "no-referrer" }),
  forward: forward.default({ connectTimeoutMs: 5_000, headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, passCredentials: false }),
});

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

export const corsSchema = z.strictObject({
  /** Exact origins such as `https://app.example.com`, or `*`. Empty: no cross-origin access. */
  allowOrigins: z.array(z.union([z.literal("*"), z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin)])).default([]),
  allowCredentials: z.boolean().default(false),
  allowMethods: z.array(z.enum(HTTP_METHODS)).default(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
  allowHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(["authorization", "content-type", "x-api-key", "idempotency-key"]),
  exposeHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(["x-request-id"]),
  maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  upstream: httpUrl.optional(),
  jwt: z.strictObject({ issuers: z.array(issuerSchema).default([]) }).default({ issuers: [] }),
  cors: corsSchema.default({
    allowOrigins: [],
    allowCredentials: false,
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: ["authorization", "content-type", "x-api-key", "idempotency-key"],
    exposeHeaders: ["x-request-id"],
    maxAgeSeconds: 600,
  }),
  paths: z.strictObject({ caseSensitive: z.boolean().default(false) }).default({ caseSensitive: false }),
  routes: z.array(routeSchema).min(1),
});

export type Policy = z.infer<typeof policySchema>;
export type RoutePolicy = z.infer<typeof routeSchema>;
export type CorsPolicy = z.infer<typeof corsSchema>;
export type HeadersPolicy = z.infer<typeof headers>;
export type ForwardPolicy = z.infer<typeof forward>;
