import type { CounterStore, GcraDecision, GcraRule } from "../counters/counter-store.js";
import type { MemoryCounterStore } from "../counters/memory-store.js";
import type { OutageReporter, SecurityEvents } from "../events/security-events.js";
import { z } from "zod";
import { callerId } from "../identity/principal.js";
import { setResponseHeader, type RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { policyName } from "../pipeline/names.js";
import { Problem } from "../problem/index.js";
import type { LimitOverride, LimitOverrideStore } from "./overrides.js";

export const LIMIT_PERIODS = { second: 1, minute: 60, hour: 3_600, day: 86_400 } as const;

export const rateLimitSchema = z
  .strictObject({
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
  })
  .refine((limit) => limit.cost <= (limit.burst ?? limit.rate), {
    path: ["cost"],
    message: "cost must not exceed burst (rate, when burst is not set): no request could ever be admitted",
  });
export type RateLimitPolicy = z.infer<typeof rateLimitSchema>;

/** The route's limits, every one of which must admit the request. */
export const rateLimitsSchema = z.array(rateLimitSchema).max(10).default([]);

export interface RateLimitDeps {
  store: CounterStore;
  /** This node's own limiter, for limits that fail open while the shared store is down. */
  fallback: MemoryCounterStore;
  overrides: LimitOverrideStore;
  events: SecurityEvents;
  outage: OutageReporter;
}

interface Effective {
  limit: RateLimitPolicy;
  rule: GcraRule;
  rate: number;
  periodSeconds: number;
}

interface Outcome {
  effective: Effective;
  key: string;
  decision: GcraDecision;
  /** Where the allowance was taken from, to give it back if another limit refuses. */
  store: CounterStore;
}

/**
 * The rate limits of one route, GCRA per bucket (see counter-store.ts for why GCRA). Every limit is
 * asked at once; when any refuses, what the others granted is given back, so a refused request
 * costs nothing and a client that keeps retrying is admitted as soon as its allowance returns.
 * Answers carry `RateLimit-Policy` and `RateLimit` (IETF httpapi draft), refusals `Retry-After`.
 */
export function rateLimitControl(limits: readonly RateLimitPolicy[], deps: RateLimitDeps): Control {
  const defaults = limits.map((limit) => effective(limit, undefined));
  const defaultPolicyHeader = policyHeader(defaults);

  // Synchronous while the overrides are cached and the store answers synchronously (memory):
  // the admitted request, the common case, then costs no promise at all.
  const limitWith = (ctx: RequestContext, overrides: ReadonlyMap<string, LimitOverride> | undefined): void | Promise<void> => {
    let chosen = defaults;
    let policy = defaultPolicyHeader;
    if (overrides !== undefined && overrides.size > 0 && limits.some((l) => overrides.has(l.name))) {
      chosen = limits.map((limit) => effective(limit, overrides.get(limit.name)));
      policy = policyHeader(chosen);
    }
    const routeName = ctx.route?.name ?? "";
    const decided = chosen.map((e) => decide(e, bucketKey(e.limit, routeName, ctx), routeName, deps));
    if (decided.some((d) => d instanceof Promise)) return Promise.all(decided).then((outcomes) => settle(ctx, outcomes, policy));
    return settle(ctx, decided as Outcome[], policy);
  };

  const settle = (ctx: RequestContext, outcomes: Outcome[], policy: string): void | Promise<void> => {
    setResponseHeader(ctx, "ratelimit-policy", policy);
    if (outcomes.every((o) => o.decision.allowed)) {
      setResponseHeader(ctx, "ratelimit", outcomes.map((o) => rateLimitItem(o, o.decision.remaining)).join(", "));
      return;
    }
    return refuse(ctx, outcomes);
  };

  const refuse = async (ctx: RequestContext, outcomes: Outcome[]): Promise<void> => {
    const refused = outcomes.filter((o) => !o.decision.allowed);
    const refunded = outcomes.filter((o) => o.decision.allowed);
    await Promise.all(refunded.map((o) => refund(o)));
    setResponseHeader(
      ctx,
      "ratelimit",
      outcomes.map((o) => rateLimitItem(o, o.decision.remaining + (refunded.includes(o) ? o.effective.limit.cost : 0))).join(", "),
    );
    const retryAfterMs = Math.max(...refused.map((o) => o.decision.retryAfterMs));
    setResponseHeader(ctx, "retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    const first = refused[0]!;
    if (first.decision.remaining === 0 && (await deps.store.count(`ev:rl:${first.key}`, 1, first.effective.periodSeconds * 1000).catch(() => 2)) === 1) {
      // One event per bucket and period: a client hammering a limit is one story, not thousands.
      deps.events.emit({
        type: "rate_limited",
        severity: "warning",
        client: ctx.clientAddress.holder,
        tenant_id: ctx.principal?.tenantId,
        route: ctx.route?.name,
        detail: { limit: first.effective.limit.name },
      });
    }
    throw new Problem("RATE_LIMITED", `Limit "${first.effective.limit.name}" allows ${first.effective.rate} requests per ${first.effective.periodSeconds} s.`, {
      limit: first.effective.limit.name,
      retry_after_seconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    });
  };

  return {
    name: "rate-limit",
    stage: "limit",
    run(ctx) {
      if (ctx.principal === undefined) return limitWith(ctx, undefined);
      const overrides = deps.overrides.forTenant(ctx.principal.tenantId);
      return overrides instanceof Promise ? overrides.then((o) => limitWith(ctx, o)) : limitWith(ctx, overrides);
    },
  };
}

function rateLimitItem(o: Outcome, remaining: number): string {
  return `"${o.effective.limit.name}";r=${remaining};t=${Math.ceil(o.decision.resetMs / 1000)}`;
}

/** The store's answer, or the fallback's when the store fails and the limit fails open. */
function decide(e: Effective, key: string, routeName: string, deps: RateLimitDeps): Outcome | Promise<Outcome> {
  const fromStore = (decision: GcraDecision): Outcome => ({ effective: e, key, decision, store: deps.store });
  const storeFailed = (): Outcome => {
    storeDown(deps, routeName, e.limit);
    if (e.limit.onStoreError === "closed") throw new Problem("STORE_UNAVAILABLE", "Rate limits cannot be checked right now.");
    return { effective: e, key, decision: deps.fallback.gcra(key, e.rule, e.limit.cost), store: deps.fallback };
  };
  let decision: GcraDecision | Promise<GcraDecision>;
  try {
    decision = deps.store.gcra(key, e.rule, e.limit.cost);
  } catch {
    return storeFailed();
  }
  return decision instanceof Promise ? decision.then(fromStore, storeFailed) : fromStore(decision);
}

/** A negative cost runs GCRA backwards: the arrival time moves back by what was taken. */
async function refund(o: Outcome): Promise<void> {
  try {
    await o.store.gcra(o.key, o.effective.rule, -o.effective.limit.cost);
  } catch {
    // A refund that cannot reach the store leaves the client a little shorter of allowance.
  }
}

function storeDown(deps: RateLimitDeps, routeName: string, limit: RateLimitPolicy): void {
  deps.outage.report({ limit: limit.name, fallback: limit.onStoreError === "open" ? "local limiter (fail open)" : "refused (fail closed)" }, routeName);
}

function effective(limit: RateLimitPolicy, override: LimitOverride | undefined): Effective {
  const rate = override?.rate ?? limit.rate;
  const periodSeconds = override?.period_seconds ?? LIMIT_PERIODS[limit.per];
  const burst = override === undefined ? (limit.burst ?? limit.rate) : (override.burst ?? override.rate);
  return { limit, rate, periodSeconds, rule: { intervalUs: Math.max(1, Math.round((periodSeconds * 1e6) / rate)), burst } };
}

function policyHeader(limits: readonly Effective[]): string {
  return limits.map((e) => `"${e.limit.name}";q=${e.rate};w=${e.periodSeconds}`).join(", ");
}

/**
 * The bucket's key: the limit's name, then each part, each escaped so that no value (a claim is
 * the caller's to choose) can pass for another part or another limit's key.
 */
function bucketKey(limit: RateLimitPolicy, routeName: string, ctx: RequestContext): string {
  let key = encodeURIComponent(limit.name);
  for (const part of limit.by) key += `|${encodeURIComponent(keyPart(part, routeName, ctx))}`;
  return key;
}

function keyPart(part: string, routeName: string, ctx: RequestContext): string {
  const principal = ctx.principal;
  switch (part) {
    case "ip":
      return ctx.clientAddress.holder;
    case "route":
      return routeName;
    case "tenant":
      return principal!.tenantId;
    case "key":
      return callerId(principal!);
    default: {
      const value = principal?.claims?.[part.slice("claim:".length)];
      // A missing or non-scalar claim shares one bucket: absent is never a way around the limit.
      return typeof value === "string" || typeof value === "number" ? `c:${value}` : "none";
    }
  }
}
