import { z } from "zod";
import type { CounterStore } from "../counters/counter-store.js";
import type { SecurityEvents } from "../events/security-events.js";
import type { RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { bufferedBody } from "../server/read-body.js";
import { parseWebhookKey, verifyStandardWebhook, verifyStripeWebhook, type Verified, type WebhookFailure, type WebhookKey } from "./verify.js";

export const webhookSchema = z.strictObject({
  /** `standard`: Standard Webhooks (Svix, Clerk, …; v1 HMAC and v1a Ed25519). `stripe`: Stripe-Signature. */
  scheme: z.enum(["standard", "stripe"]),
  /** Environment variables holding the secrets, several during a rotation. A missing one stops the gateway from starting. */
  secretEnv: z.array(z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, "environment variable names are upper-case letters, digits and _")).min(1).max(5),
  /** How far a delivery's timestamp may lie behind or ahead of this clock. */
  toleranceSeconds: z.number().int().min(1).max(3_600).default(300),
  maxBodyBytes: z.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
});
export type WebhookPolicy = z.infer<typeof webhookSchema>;

/**
 * The configured secrets, read from the environment when the policy is compiled. A route set up
 * for webhooks with a secret missing would verify nothing ("absent secret = silent failure to
 * verify = open door"), so it is an error that stops the start, never a route left open.
 */
export function webhookKeys(policy: WebhookPolicy, env: NodeJS.ProcessEnv = process.env): WebhookKey[] {
  return policy.secretEnv.map((name) => {
    const secret = env[name];
    if (secret === undefined || secret.trim() === "") throw new Error(`the webhook secret ${name} is not set: a webhook route without its secret would let anything through`);
    try {
      return parseWebhookKey(policy.scheme, secret.trim());
    } catch (error) {
      throw new Error(`the webhook secret ${name} is not usable: ${(error as Error).message}`, { cause: error });
    }
  });
}

/**
 * Verifies inbound webhooks on a route: the signature over the raw body, in constant time, with
 * any of the configured secrets; the timestamp within the tolerance either way; and the delivery
 * seen once only, across every node (the counter store remembers its id for twice the tolerance,
 * beyond which the timestamp refuses it anyway). A refusal is 401 `WEBHOOK_SIGNATURE_INVALID`
 * and a security event naming the reason.
 */
export function webhookControl(policy: WebhookPolicy, keys: readonly WebhookKey[], deps: { store: CounterStore; events: SecurityEvents }, now: () => number = Date.now): Control {
  if (keys.length === 0) throw new Error("a webhook route needs at least one secret");
  const verify = policy.scheme === "stripe" ? verifyStripeWebhook : verifyStandardWebhook;
  const refuse = (ctx: RequestContext, reason: WebhookFailure | "replayed"): never => {
    deps.events.emit({ type: "webhook_signature_invalid", severity: "warning", client: ctx.clientAddress.text, route: ctx.route?.name, detail: { reason, scheme: policy.scheme } });
    throw new Problem("WEBHOOK_SIGNATURE_INVALID", "The webhook signature is missing, invalid, expired or replayed.");
  };
  const check = async (ctx: RequestContext, body: Buffer): Promise<void> => {
    const result: Verified | WebhookFailure = verify(ctx.headers, body, keys, Math.floor(now() / 1000), policy.toleranceSeconds);
    if (typeof result === "string") refuse(ctx, result);
    const seen = await deps.store.count(`webhook:${ctx.route?.name ?? ""}:${(result as Verified).id}`, 1, policy.toleranceSeconds * 2_000).catch(() => {
      // Unable to tell a replay from a first delivery: refused, and the sender retries later.
      throw new Problem("STORE_UNAVAILABLE", "Webhook deliveries cannot be checked for replays right now.");
    });
    if (seen > 1) refuse(ctx, "replayed");
  };
  return {
    name: "webhook",
    stage: "webhook",
    needsBody: "webhook signatures are made over the request body",
    run(ctx) {
      const body = bufferedBody(ctx, policy.maxBodyBytes);
      return body instanceof Promise ? body.then((b) => check(ctx, b)) : check(ctx, body);
    },
  };
}
