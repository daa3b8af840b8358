import { z } from "zod";
import { addressListsSchema } from "../access/ip-access.js";
import { authorizeSchema } from "../authorize/scopes.js";
import { blockingSchema } from "../blocking/client-blocking.js";
import { corsSchema } from "../cors/cors.js";
import { forwardSchema } from "../forward/schema.js";
import { headersSchema } from "../headers/security-headers.js";
import { healthSchema } from "../health/health.js";
import { authenticateSchema } from "../identity/authenticate.js";
import { issuerSchema } from "../identity/jwt/schema.js";
import { idempotencySchema } from "../idempotency/idempotency.js";
import { clientsSchema } from "../net/schema.js";
import { policyName } from "../pipeline/names.js";
import { quotasSchema } from "../quota/quota.js";
import { rateLimitsSchema } from "../rate-limit/rate-limit.js";
import { HTTP_METHODS } from "../routing/method.js";
import { validatePattern } from "../routing/router.js";
import { returnUrlSchema } from "../return-url/return-url.js";
import { rolesSchema } from "../roles/roles.js";
import { sessionsSchema } from "../sessions/sessions.js";
import { shieldSchema } from "../shield/schema.js";
import { webhookSchema } from "../webhooks/webhook.js";
import { egressSchema } from "../egress/schema.js";
import { webhookDeliverySchema } from "../webhook-delivery/schema.js";
import { connectionsSchema } from "../connections/schema.js";
import { routeAuditSchema } from "../audit/route-audit.js";
import { stepUpSchema } from "../step-up/step-up.js";
import { retentionSchema } from "../retention/schema.js";
import { logRedactionSchema } from "../observability/log-redaction.js";

/**
 * The policy: each control's own options schema, composed. Nothing here describes a control;
 * what a field means is said beside the control that reads it.
 */
const pattern = z.string().superRefine((value, ctx) => {
  const problem = validatePattern(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `route pattern ${problem}` });
});

const routeFields = z.strictObject({
  name: policyName("route"),
  match: z.strictObject({
    path: pattern,
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
  }),
  /** Absent means: require a credential, by every configured method. `none` must be said. */
  authenticate: authenticateSchema.optional(),
  authorize: authorizeSchema.optional(),
  /** A recent or stronger sign-in (RFC 9470), from a JWT's or session's `auth_time` and `acr`. */
  stepUp: stepUpSchema.optional(),
  /** Every limit must admit the request; one that refuses costs the others nothing. */
  limits: rateLimitsSchema,
  /** Inbound webhook signatures (Standard Webhooks, Stripe), verified over the raw body. */
  webhook: webhookSchema.optional(),
  /** Input checks and attack detectors; absent, the route has none. */
  shield: shieldSchema.optional(),
  /** Parameters that carry a URL to send the user to, and the origins they may name. */
  returnUrl: returnUrlSchema.optional(),
  /** `Idempotency-Key` on unsafe methods: a retry gets the first answer again instead of running twice. */
  idempotency: idempotencySchema.optional(),
  /** An audit record per request of the listed methods (default the mutating ones); see Audit trail. */
  audit: routeAuditSchema.optional(),
  /** Hard caps per tenant or key per day or month; the request that would pass one is refused. */
  quotas: quotasSchema,
  headers: headersSchema,
  forward: forwardSchema,
});

export const routeSchema = routeFields.superRefine((route, ctx) => {
  if (route.authenticate !== "none") return;
  if (route.idempotency !== undefined) ctx.addIssue({ code: "custom", path: ["idempotency"], message: "idempotency keys are per caller, and this route has authenticate: none" });
  if (route.audit !== undefined) ctx.addIssue({ code: "custom", path: ["audit"], message: "an audit record names its actor and tenant, and this route has authenticate: none" });
  if (route.stepUp !== undefined) ctx.addIssue({ code: "custom", path: ["stepUp"], message: "step-up needs a signed-in caller, and this route has authenticate: none" });
  if (route.quotas.length > 0) ctx.addIssue({ code: "custom", path: ["quotas"], message: "quotas are per tenant or key, and this route has authenticate: none" });
  route.limits.forEach((limit, i) => {
    const part = limit.by.find((p) => p !== "ip" && p !== "route");
    if (part !== undefined) ctx.addIssue({ code: "custom", path: ["limits", i, "by"], message: `"${part}" needs an authenticated caller, and this route has authenticate: none` });
  });
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  upstream: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  jwt: z.strictObject({ issuers: z.array(issuerSchema).default([]) }).default({ issuers: [] }),
  /** What each role may do; who holds which role is kept in the store (admin API). */
  roles: rolesSchema,
  /** Lifetimes of gateway-issued sessions (`POST /portcullis/v1/sessions`). */
  sessions: sessionsSchema,
  cors: corsSchema,
  paths: z
    .strictObject({
      caseSensitive: z.boolean().default(false),
      /**
       * Segments ending in `.` are refused unless this is on: IIS and Windows strip the dot, so
       * `/admin./x` would be another route here and `/admin/x` there.
       */
      allowTrailingDots: z.boolean().default(false),
    })
    .default({ caseSensitive: false, allowTrailingDots: false }),
  health: healthSchema,
  clients: clientsSchema,
  /** Global address lists, checked before anything else. A non-empty allow list admits only its members. */
  ipAccess: addressListsSchema,
  blocking: blockingSchema,
  events: z.strictObject({ alertWebhook: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional() }).default({}),
  /** What may leave: the egress proxy's and every outbound call's rules (README, Egress). */
  egress: egressSchema.default(egressSchema.parse({})),
  /** Outbound webhooks' retry schedule and workers (README, Outbound webhooks). */
  webhookDelivery: webhookDeliverySchema,
  /** OAuth connections to third-party accounts (README, Connections). */
  connections: connectionsSchema,
  /** What the gateway's own log lines may carry (README, Health, metrics and logs). */
  logs: z.strictObject({ redact: logRedactionSchema }).default({ redact: logRedactionSchema.parse(undefined) }),
  /** How long what Portcullis keeps is kept, and tenant deletion's grace period (README, Retention). */
  retention: retentionSchema,
  routes: z.array(routeSchema).min(1),
});

export type Policy = z.infer<typeof policySchema>;
export type RoutePolicy = z.infer<typeof routeSchema>;
