import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { z } from "zod";
import type { CounterStore } from "../counters/counter-store.js";
import type { SecurityEvents } from "../events/security-events.js";
import { callerId, type Principal } from "../identity/principal.js";
import type { Logger } from "../observability/logger.js";
import type { Control } from "../pipeline/control.js";
import { policyName } from "../pipeline/names.js";
import { Problem } from "../problem/index.js";

export const quotaSchema = z.strictObject({
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
export type QuotaPolicy = z.infer<typeof quotaSchema>;

/** A route's quotas: the request that would pass one is refused. */
export const quotasSchema = z.array(quotaSchema).max(5).default([]);

/**
 * The quotas of one route. A fixed cost is charged on admission; a cost the upstream states in a
 * header of its answer is charged when that answer's head is seen (`onResponse`), which the
 * decision API never sees: such a quota is refused there at load.
 */
export function quotaControl(quotas: readonly QuotaPolicy[], ledger: QuotaLedger): Control {
  const priced = quotas.filter((q): q is QuotaPolicy & { cost: { header: string } } => typeof q.cost !== "number");
  return {
    name: "quota",
    stage: "quota",
    needsResponse: priced.length === 0 ? undefined : `quota "${priced[0]!.name}" is charged from the upstream's ${priced[0]!.cost.header} header`,
    run: (ctx) => ledger.admit(ctx.principal!, quotas),
    onResponse:
      priced.length === 0
        ? undefined
        : (ctx, head) => {
            for (const quota of priced) ledger.chargeFromResponse(quota, ctx.principal!, head.headers[quota.cost.header]);
          },
  };
}

export interface QuotaUsage {
  name: string;
  by: "tenant" | "key";
  /** For `by: key`, the key id, or `jwt:<tenant>:<issuer>:<subject>` (each escaped) for a token's subject. */
  subject: string;
  period: string;
  used: number;
  limit: number;
  resets_at: string;
}

interface Period {
  id: string;
  endsAt: number;
}

/**
 * Token subjects have no table to list them from, so the usage report learns them as they are
 * charged: at most this many per quota, tenant and period (the counting itself is not capped).
 */
const MAX_LISTED_SUBJECTS = 1_000;

/** Calendar periods in UTC: a day quota resets at midnight UTC, a month one on the 1st. */
export function quotaPeriod(per: QuotaPolicy["per"], now: number): Period {
  const d = new Date(now);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  if (per === "day") return { id: d.toISOString().slice(0, 10), endsAt: Date.UTC(y, m, day + 1) };
  return { id: d.toISOString().slice(0, 7), endsAt: Date.UTC(y, m + 1, 1) };
}

/**
 * Quotas and hard budget caps, counted in the counter store (shared by every node on Redis). A
 * fixed cost is charged atomically on admission: the request whose charge would pass the limit is
 * refused and its charge taken back, so the cap is never exceeded. A cost the upstream states in a
 * response header can only be charged once the upstream has answered: requests are admitted while
 * the period's usage is below the limit, so such a cap can be passed by what is in flight at once.
 * A counter store that cannot answer refuses the request: a budget cap that lets traffic through
 * when it cannot count is no cap.
 */
export class QuotaLedger {
  constructor(
    private readonly store: CounterStore,
    private readonly events: SecurityEvents,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Charges the fixed costs and checks the upstream-priced quotas still have room; all or nothing. */
  async admit(principal: Principal, quotas: readonly QuotaPolicy[]): Promise<void> {
    const charged: { key: string; cost: number; windowMs: number }[] = [];
    try {
      for (const quota of quotas) {
        const bucket = this.bucket(quota, principal);
        if (typeof quota.cost === "number") {
          const total = await this.counted(() => this.store.count(bucket.key, quota.cost as number, bucket.windowMs));
          charged.push({ key: bucket.key, cost: quota.cost, windowMs: bucket.windowMs });
          this.listSubject(quota, principal, bucket, quota.cost, total);
          if (total > quota.limit) throw exhausted(quota);
          this.crossed(quota, principal, total - quota.cost, total);
        } else if ((await this.counted(() => this.store.peek(bucket.key))) >= quota.limit) {
          throw exhausted(quota);
        }
      }
    } catch (error) {
      await Promise.all(charged.map((c) => this.store.count(c.key, -c.cost, c.windowMs).catch(() => undefined)));
      throw error;
    }
  }

  /** Charges what the upstream's answer says the request cost (a whole number in the quota's header). */
  chargeFromResponse(quota: QuotaPolicy, principal: Principal, raw: IncomingHttpHeaders[string] | OutgoingHttpHeaders[string]): void {
    const cost = typeof raw === "string" && /^\d{1,12}$/.test(raw) ? Number(raw) : 0;
    if (cost === 0) return;
    const bucket = this.bucket(quota, principal);
    this.store.count(bucket.key, cost, bucket.windowMs).then(
      (total) => {
        this.listSubject(quota, principal, bucket, cost, total);
        this.crossed(quota, principal, total - cost, total);
      },
      () => this.logger.error({ quota: quota.name, tenant_id: principal.tenantId, cost }, "quota charge lost: counter store unavailable"),
    );
  }

  /** Usage of every quota named, for one tenant and its keys. */
  async usage(quotas: Iterable<QuotaPolicy>, tenantId: string, keyIds: readonly string[]): Promise<QuotaUsage[]> {
    const seen = new Map<string, QuotaPolicy>();
    for (const quota of quotas) seen.set(quota.name, quota);
    const usage: QuotaUsage[] = [];
    for (const quota of seen.values()) {
      const period = quotaPeriod(quota.per, this.now());
      const subjects = quota.by === "tenant" ? [tenantId] : [...keyIds, ...(await this.store.members(subjectsKey(quota, tenantId, period)))];
      const used = await Promise.all(subjects.map((subject) => this.store.peek(bucketKey(quota, subject, period))));
      subjects.forEach((subject, i) =>
        usage.push({ name: quota.name, by: quota.by, subject, period: period.id, used: used[i]!, limit: quota.limit, resets_at: new Date(period.endsAt).toISOString() }),
      );
    }
    return usage;
  }

  private bucket(quota: QuotaPolicy, principal: Principal): Bucket {
    const now = this.now();
    const period = quotaPeriod(quota.per, now);
    // Kept a minute past the period's end, then gone: the next period starts from zero.
    return { key: bucketKey(quota, subjectOf(quota, principal), period), windowMs: period.endsAt - now + 60_000, period };
  }

  /**
   * A token subject's first charge of the period puts it on the usage report's list: one store
   * write per subject and period, not per request. API keys are listed from their table instead.
   */
  private listSubject(quota: QuotaPolicy, principal: Principal, bucket: Bucket, cost: number, total: number): void {
    if (total !== cost || quota.by !== "key" || principal.kind === "api_key") return;
    this.store
      .remember(subjectsKey(quota, principal.tenantId, bucket.period), callerId(principal), bucket.windowMs, MAX_LISTED_SUBJECTS)
      .catch(() => this.logger.warn({ quota: quota.name, tenant_id: principal.tenantId }, "quota subject not listed: counter store unavailable"));
  }

  /** Threshold and exhaustion events, each once per period: only the charge that crosses raises it. */
  private crossed(quota: QuotaPolicy, principal: Principal, before: number, after: number): void {
    for (const fraction of quota.warnAt) {
      const mark = fraction * quota.limit;
      if (before < mark && after >= mark) {
        this.events.emit({
          type: "quota_threshold",
          severity: "warning",
          tenant_id: principal.tenantId,
          detail: { quota: quota.name, threshold: fraction, used: after, limit: quota.limit },
        });
      }
    }
    if (before < quota.limit && after >= quota.limit) {
      this.events.emit({ type: "quota_exhausted", severity: "high", tenant_id: principal.tenantId, detail: { quota: quota.name, used: after, limit: quota.limit } });
    }
  }

  private async counted<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch {
      throw new Problem("STORE_UNAVAILABLE", "Quotas cannot be checked right now.");
    }
  }
}

function exhausted(quota: QuotaPolicy): Problem {
  return new Problem("QUOTA_EXCEEDED", `Quota "${quota.name}" of ${quota.limit} per ${quota.per} is used up.`, { quota: quota.name });
}

function subjectOf(quota: QuotaPolicy, principal: Principal): string {
  return quota.by === "tenant" ? principal.tenantId : callerId(principal);
}

interface Bucket {
  key: string;
  windowMs: number;
  period: Period;
}

function subjectsKey(quota: QuotaPolicy, tenantId: string, period: Period): string {
  return `qs:${encodeURIComponent(quota.name)}|${encodeURIComponent(tenantId)}|${period.id}`;
}

function bucketKey(quota: QuotaPolicy, subject: string, period: Period): string {
  return `q:${encodeURIComponent(quota.name)}|${quota.by}:${encodeURIComponent(subject)}|${period.id}`;
}
