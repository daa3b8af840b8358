import { z } from "zod";
import { HEALTH_ENDPOINTS } from "../health/health.js";
import { JWT_ALGORITHMS } from "../identity/jwt/verifier.js";
import { parseCidr } from "../net/ip.js";
import { validatePattern } from "../routing/router.js";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const scope = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/, "scopes are 1-100 characters of letters, digits and : . _ * -");
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const durationMs = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

const pattern = z.string().superRefine((value, ctx) => {
  const problem = validatePattern(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `route pattern ${problem}` });
});

const cidr = z.string().refine((value) => parseCidr(value) !== undefined, "must be an IP address or CIDR network (IPv4 dotted quad or IPv6)");

export const LIMIT_PERIODS = { second: 1, minute: 60, hour: 3_600, day: 86_400 } as const;

/** Names of routes, limits and quotas: they appear in headers, metrics labels and store keys as they are. */
export const POLICY_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const policyName = (what: string) => z.string().regex(POLICY_NAME, `${what} names are 1-64 characters of letters, digits and . _ -`);

const rateLimit = z.strictObject({
  /** Names the limit in headers, events and per-tenant overrides; routes may share one. */
  name: policyName("limit"),
  /** What one bucket is for: the parts together form its key. */
  by: z
    .array(z.union([z.enum(["ip", "key", "tenant", "route"]), z.string().regex(/^claim:[A-Za-z0-9_.:-]{1,64}$/, "claim parts look like claim:NAME")]))
    .min(1),
  rate: z.number().int().min(1).max(1_000_000),
  per: z.enum(Object.keys(LIMIT_PERIODS) as [keyof typeof LIMIT_PERIODS]),
  /** How many requests may come at once from a full bucket; defaults to `rate`. */
  burst: z.number().int().min(1).max(1_000_000).optional(),
  /** Units each request spends. */
  cost: z.number().int().min(1).max(1_000).default(1),
  /** When the counter store cannot answer: `closed` refuses (503), `open` falls back to this node's own limiter. */
  onStoreError: z.enum(["closed", "open"]).default("closed"),
}).refine((limit) => limit.cost <= (limit.burst ?? limit.rate), {
  path: ["cost"],
  message: "cost must not exceed burst (rate, when burst is not set): no request could ever be admitted",
});

const quota = z.strictObject({
  /** Names the quota in usage reports, events and errors. */
  name: policyName("quota"),
  by: z.enum(["tenant", "key"]),
  /** Units per calendar day or month (UTC). */
  limit: z.number().int().min(1).max(1e12),
  per: z.enum(["day", "month"]),
  /** Units a request costs: a fixed number, charged on admission, or read from a header of the upstream's answer. */
  cost: z.union([z.number().int().min(1).max(1e9), z.strictObject({ header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).transform((h) => h.toLowerCase()) })]).default(1),
  /** Fractions of the limit that raise a warning event once per period, e.g. 0.8 for 80 %. */
  warnAt: z.array(z.number().gt(0).lt(1)).max(5).default([0.8]),
});

export const SHIELD_CHECKS = [
  "bodySize",
  "headerSize",
  "urlLength",
  "encoding",
  "jsonDepth",
  "jsonKeys",
  "fieldLength",
  "words",
  "urls",
  "phoneNumbers",
  "sqli",
  "xss",
  "traversal",
  "cmdi",
  "prototypePollution",
  "methodOverride",
] as const;

const shield = z.strictObject({
  /** What every check does unless `checks` says otherwise: refuse the request, or only log it. */
  mode: z.enum(["block", "monitor"]).default("block"),
  checks: z.partialRecord(z.enum(SHIELD_CHECKS), z.enum(["block", "monitor", "off"])).default({}),
  maxBodyBytes: z.number().int().min(1).max(100 * 1024 * 1024).default(1_048_576),
  maxHeaderBytes: z.number().int().min(256).max(1_048_576).default(16_384),
  maxUrlLength: z.number().int().min(16).max(65_536).default(4_096),
  maxJsonDepth: z.number().int().min(1).max(1_000).default(32),
  maxJsonKeys: z.number().int().min(1).max(1_000_000).default(1_000),
  maxFieldLength: z.number().int().min(1).max(10_000_000).default(8_192),
  maxUrls: z.number().int().min(0).max(10_000).default(5),
  maxPhoneNumbers: z.number().int().min(0).max(10_000).default(3),
  /** Word-count range for the named text fields (JSON or form keys, at any depth). */
  words: z.strictObject({ fields: z.array(z.string().min(1)).min(1), min: z.number().int().min(0).default(0), max: z.number().int().min(1) }).optional(),
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

const routeFields = z.strictObject({
  name: policyName("route"),
  match: z.strictObject({
    path: pattern,
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
  }),
  /** Absent means: require a credential, by every configured method. `none` must be said. */
  authenticate: authenticate.optional(),
  authorize: authorize.optional(),
  /** Every limit must admit the request; one that refuses costs the others nothing. */
  limits: z.array(rateLimit).max(10).default([]),
  /** Input checks and attack detectors; absent, the route has none. */
  shield: shield.optional(),
  /** Hard caps per tenant or key per day or month; the request that would pass one is refused. */
  quotas: z.array(quota).max(5).default([]),
  headers: headers.default({ frameOptions: "DENY", referrerPolicy: "no-referrer" }),
  forward: forward.default({ connectTimeoutMs: 5_000, headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, passCredentials: false }),
});

export const routeSchema = routeFields.superRefine((route, ctx) => {
  if (route.authenticate !== "none") return;
  if (route.quotas.length > 0) ctx.addIssue({ code: "custom", path: ["quotas"], message: "quotas are per tenant or key, and this route has authenticate: none" });
  route.limits.forEach((limit, i) => {
    const part = limit.by.find((p) => p !== "ip" && p !== "route");
    if (part !== undefined) ctx.addIssue({ code: "custom", path: ["limits", i, "by"], message: `"${part}" needs an authenticated caller, and this route has authenticate: none` });
  });
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
  health: z
    .strictObject({
      /** Health endpoints served on the gateway's public port; the admin port serves them all. */
      public: z.array(z.enum(HEALTH_ENDPOINTS)).default(["live", "ready"]),
    })
    .default({ public: ["live", "ready"] }),
  clients: z
    .strictObject({
      /** Proxies whose X-Forwarded-For is believed; empty: the socket's address is the client. */
      trustedProxies: z.array(cidr).default([]),
      /** How much of an IPv6 address counts as one client for limits and blocks. */
      ipv6Prefix: z.number().int().min(32).max(128).default(64),
    })
    .default({ trustedProxies: [], ipv6Prefix: 64 }),
  /** Global address lists, checked before anything else. A non-empty allow list admits only its members. */
  ipAccess: z.strictObject({ allow: z.array(cidr).default([]), deny: z.array(cidr).default([]) }).default({ allow: [], deny: [] }),
  blocking: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Violations (auth failures, 429s, refused paths, shield findings) per window that block a client. */
      threshold: z.number().int().min(1).max(100_000).default(10),
      windowSeconds: z.number().int().min(1).max(86_400).default(60),
      blockSeconds: z.number().int().min(1).max(30 * 86_400).default(900),
    })
    .default({ enabled: true, threshold: 10, windowSeconds: 60, blockSeconds: 900 }),
  events: z.strictObject({ alertWebhook: httpUrl.optional() }).default({}),
  routes: z.array(routeSchema).min(1),
});

export type Policy = z.infer<typeof policySchema>;
export type RoutePolicy = z.infer<typeof routeSchema>;
export type CorsPolicy = z.infer<typeof corsSchema>;
export type HeadersPolicy = z.infer<typeof headers>;
export type ForwardPolicy = z.infer<typeof forward>;
export type RateLimitPolicy = z.infer<typeof rateLimit>;
export type QuotaPolicy = z.infer<typeof quota>;
export type ShieldPolicy = z.infer<typeof shield>;
export type BlockingPolicy = Policy["blocking"];
