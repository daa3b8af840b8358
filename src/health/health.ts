import { z } from "zod";
import type { GatewayMetrics } from "../observability/metrics.js";
import type { Answer } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { jsonAnswer } from "../server/respond.js";

export const HEALTH_ENDPOINTS = ["live", "ready", "status", "metrics"] as const;

export const healthSchema = z
  .strictObject({
    /** Health endpoints served on the gateway's public port; the admin port serves them all. */
    public: z.array(z.enum(HEALTH_ENDPOINTS)).default(["live", "ready"]),
  })
  .default({ public: ["live", "ready"] });
export type HealthPolicy = z.infer<typeof healthSchema>;
export type HealthEndpoint = (typeof HEALTH_ENDPOINTS)[number];
/** The admin port serves every endpoint; the gateway's public port only those the policy names. */
export const ALL_HEALTH_ENDPOINTS: ReadonlySet<HealthEndpoint> = new Set(HEALTH_ENDPOINTS);

export interface HealthSources {
  version: string;
  startedAt: number;
  stores: { durable: string; counters: string; vault: string };
  ping: () => Promise<void>;
  /** Each dependency's own check, for /health/status: the counter store, the key provider. */
  checks: Readonly<Record<string, () => Promise<void>>>;
  metrics: GatewayMetrics;
}

/**
 * Answers /health/live, /health/ready, /health/status and /health/metrics; `undefined` for any
 * other path. Ready means the durable store answers: a load balancer should stop sending traffic
 * to a node that cannot check credentials. An endpoint not in `served` is a 404: status and
 * metrics tell whoever reads them the version, the stores, when Redis is down (and limits fall
 * back) and the routes' traffic, so by default only the admin port shows them.
 */
export function healthAnswer(path: string, sources: HealthSources, served: ReadonlySet<string>): Answer | Promise<Answer> | undefined {
  const endpoint = path.slice("/health/".length) as HealthEndpoint;
  if (!path.startsWith("/health/") || !ALL_HEALTH_ENDPOINTS.has(endpoint)) return undefined;
  if (!served.has(endpoint)) throw new Problem("NOT_FOUND", "Not served on this port.");
  switch (endpoint) {
    case "live":
      return jsonAnswer(200, { status: "live" });
    case "ready":
      return sources.ping().then(
        () => jsonAnswer(200, { status: "ready" }),
        () => jsonAnswer(503, { status: "unavailable", reason: "durable store unreachable" }),
      );
    case "status":
      return runChecks({ durable: sources.ping, ...sources.checks }).then((checks) =>
        jsonAnswer(200, {
          status: Object.values(checks).every((c) => c === "ok") ? "ok" : "degraded",
          version: sources.version,
          uptime_seconds: Math.round((Date.now() - sources.startedAt) / 1000),
          stores: sources.stores,
          checks,
        }),
      );
    case "metrics":
      return sources.metrics.registry.metrics().then((text) => ({
        outcome: "served",
        status: 200,
        headers: { "content-type": sources.metrics.registry.contentType, "cache-control": "no-store" },
        body: text,
      }));
  }
}

/** The "system" stage: health probes answered before address lists and blocks, so probes always reach them. */
export function healthControl(sources: HealthSources, served: ReadonlySet<string>): Control {
  return {
    name: "health",
    stage: "system",
    run(ctx) {
      if (ctx.method !== "GET" && ctx.method !== "HEAD") return;
      const answer = healthAnswer(ctx.target.rawPath, sources, served);
      if (answer === undefined) return;
      if (answer instanceof Promise) {
        return answer.then((a) => {
          ctx.route = SYSTEM_ROUTE;
          ctx.answer = a;
        });
      }
      ctx.route = SYSTEM_ROUTE;
      ctx.answer = answer;
    },
  };
}

/** How metrics and the access log name requests Portcullis answers itself. */
export const SYSTEM_ROUTE = Object.freeze({ name: "(system)", params: Object.freeze({}) });

/** Every check at once, each given a second: a hung dependency shows as unavailable, not as a hung status page. */
async function runChecks(checks: Readonly<Record<string, () => Promise<void>>>): Promise<Record<string, "ok" | "unavailable">> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), 1_000)));
      try {
        await Promise.race([check(), timeout]);
        return [name, "ok"] as const;
      } catch {
        return [name, "unavailable"] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}
