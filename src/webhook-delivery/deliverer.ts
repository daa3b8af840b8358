import { randomBytes } from "node:crypto";
import type { Egress } from "../egress/egress.js";
import { EgressError } from "../egress/errors.js";
import type { Logger } from "../observability/logger.js";
import { boundedLru } from "../util/bounded-lru.js";
import type { Vault } from "../vault/vault.js";
import type { WebhookDeliveryPolicy } from "./schema.js";
import { signStandardWebhook } from "./sign.js";
import type { AttemptOutcome, ClaimedDelivery, WebhookStore } from "./store.js";

/** A fresh vault name for one of an endpoint's signing secrets: no two secrets ever share one. */
export function newSecretName(endpointId: string): string {
  return `webhooks/endpoints/${endpointId}/${randomBytes(12).toString("base64url").replace(/-/g, "_")}`;
}

const SECRET_CACHE_MS = 60_000;

/** Failures of ours that no retry mends: the egress refusing the destination, say. */
const NOT_RETRIED = new Set(["EGRESS_INVALID_URL", "EGRESS_SCHEME_DENIED", "EGRESS_USERINFO_DENIED", "EGRESS_PORT_DENIED", "EGRESS_HOST_DENIED", "EGRESS_ADDRESS_DENIED"]);

/**
 * The delivery workers of one node: every `pollMs` they claim due deliveries (shared with the
 * other nodes through the queue's SKIP LOCKED claim), sign each with the endpoint's secrets and
 * post it through the egress under the tenant's rules, then record the attempt and what comes
 * next: delivered on a 2xx; on a 410 the endpoint is disabled; otherwise a retry on the schedule,
 * later if the receiver's Retry-After says so, until the schedule runs out.
 */
export class WebhookDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private readonly secrets = boundedLru<string, { value: string; until: number }>(10_000);

  constructor(
    private readonly store: WebhookStore,
    private readonly vault: Vault,
    private readonly egress: Egress,
    private readonly policy: WebhookDeliveryPolicy,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.poll(), this.policy.pollMs);
    this.timer.unref();
  }

  /** Stops claiming and waits for the deliveries under way; their leases would hand them on anyway. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** One round: claims while there is work and room, delivers, records. */
  poll(): Promise<void> {
    if (this.polling !== undefined || this.stopped) return this.polling ?? Promise.resolve();
    this.polling = this.drain()
      .catch((error: unknown) => this.logger.warn({ error: (error as Error).name }, "webhook delivery: the queue could not be read"))
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async drain(): Promise<void> {
    const running = new Set<Promise<void>>();
    for (;;) {
      const room = Math.min(this.policy.batch, this.policy.concurrency - this.inFlight);
      if (room <= 0 || this.stopped) {
        if (running.size === 0) return;
        await Promise.race(running);
        continue;
      }
      const claimed = await this.store.claim(room, this.policy.leaseSeconds);
      for (const delivery of claimed) {
        this.inFlight++;
        const done: Promise<void> = this.deliver(delivery).finally(() => {
          this.inFlight--;
          running.delete(done);
        });
        running.add(done);
      }
      if (claimed.length < room) {
        await Promise.all(running);
        return;
      }
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    try {
      const outcome = await this.attempt(delivery);
      await this.store.record(delivery.tenant_id, delivery, outcome);
    } catch (error) {
      // The lease runs out and another round (here or on another node) tries again.
      this.logger.warn({ tenant_id: delivery.tenant_id, delivery_id: delivery.id, error: (error as Error).name }, "webhook delivery: an attempt could not be recorded");
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    const { tenant_id: tenantId } = delivery;
    const started = this.now();
    if (delivery.endpoint_state !== "enabled") return { status: null, error: "endpoint_disabled", durationMs: 0, next: "failed" };
    const secrets = [await this.secret(tenantId, delivery.secret_name)];
    if (delivery.previous_secret_name !== null && delivery.previous_until !== null && delivery.previous_until.getTime() > started) {
      secrets.push(await this.secret(tenantId, delivery.previous_secret_name));
    }
    const timestamp = Math.floor(started / 1000);
    const headers = {
      "content-type": "application/json",
      "user-agent": "Portcullis-Webhooks/1",
      "webhook-id": delivery.message_id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signStandardWebhook(delivery.message_id, timestamp, delivery.payload, secrets),
    };
    try {
      const answer = await this.egress.request(delivery.url, { method: "POST", headers, body: delivery.payload, tenant: tenantId });
      await answer.body.dump();
      const durationMs = this.now() - started;
      const status = answer.statusCode;
      if (status >= 200 && status < 300) return { status, error: null, durationMs, next: "delivered" };
      if (status === 410) return { status, error: null, durationMs, next: "failed", disableEndpoint: "the endpoint answered 410 Gone" };
      return { status, error: null, durationMs, next: this.retryAt(delivery.attempts, retryAfterSeconds(answer.headers["retry-after"])) };
    } catch (error) {
      const code = error instanceof EgressError ? error.code : "delivery_error";
      const durationMs = this.now() - started;
      if (NOT_RETRIED.has(code)) return { status: null, error: code, durationMs, next: "failed" };
      const retryAfter = error instanceof EgressError ? error.retryAfterSeconds : undefined;
      return { status: null, error: code, durationMs, next: this.retryAt(delivery.attempts, retryAfter) };
    }
  }

  /**
   * A signing secret, from the vault at most once a minute: a vault read is a transaction of its
   * own. A name never gets another value (a rotation makes a new name), so a cached secret is
   * never the wrong one, only kept a minute after its endpoint is deleted.
   */
  private async secret(tenantId: string, name: string): Promise<string> {
    const key = `${tenantId} ${name}`;
    const cached = this.secrets.get(key);
    if (cached !== undefined && cached.until > this.now()) return cached.value;
    const value = await this.vault.getString(tenantId, name);
    this.secrets.set(key, { value, until: this.now() + SECRET_CACHE_MS });
    return value;
  }

  /** After attempt n (from 1), the schedule's n-th wait, or the receiver's longer Retry-After; "failed" once the schedule is spent. */
  private retryAt(attempts: number, retryAfter: number | undefined): Date | "failed" {
    const wait = this.policy.retryScheduleSeconds[attempts - 1];
    if (wait === undefined) return "failed";
    const seconds = Math.max(wait, Math.min(retryAfter ?? 0, this.policy.maxRetryAfterSeconds));
    return new Date(this.now() + seconds * 1000);
  }
}

/** Delta-seconds or an HTTP date (RFC 9110 §10.2.3); anything else is ignored. */
function retryAfterSeconds(header: string | string[] | undefined): number | undefined {
  if (typeof header !== "string") return undefined;
  if (/^\d{1,10}$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
