import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { GatewayMetrics } from "../observability/metrics.js";
import { Problem } from "../problem/index.js";
import { sendJson } from "../server/respond.js";

export const HEALTH_ENDPOINTS = ["live", "ready", "status", "metrics"] as const;
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
 * Serves /health/live, /health/ready, /health/status and /health/metrics; returns false for any
 * other path. Ready means the durable store answers: a load balancer should stop sending traffic
 * to a node that cannot check credentials. An endpoint not in `served` is a 404: status and
 * metrics tell whoever reads them the version, the stores, when Redis is down (and limits fall
 * back) and the routes' traffic, so by default only the admin port shows them.
 */
export async function serveHealth(
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  sources: HealthSources,
  headers: OutgoingHttpHeaders,
  served: ReadonlySet<string>,
): Promise<boolean> {
  const endpoint = path.slice("/health/".length) as HealthEndpoint;
  if (path.startsWith("/health/") && ALL_HEALTH_ENDPOINTS.has(endpoint) && !served.has(endpoint)) {
    throw new Problem("NOT_FOUND", "Not served on this port.");
  }
  switch (path) {
    case "/health/live":
      sendJson(res, 200, { status: "live" }, headers);
      return true;
    case "/health/ready":
      try {
        await sources.ping();
        sendJson(res, 200, { status: "ready" }, headers);
      } catch {
        sendJson(res, 503, { status: "unavailable", reason: "durable store unreachable" }, headers);
      }
      return true;
    case "/health/status": {
      const checks = await runChecks({ durable: sources.ping, ...sources.checks });
      sendJson(
        res,
        200,
        {
          status: Object.values(checks).every((c) => c === "ok") ? "ok" : "degraded",
          version: sources.version,
          uptime_seconds: Math.round((Date.now() - sources.startedAt) / 1000),
          stores: sources.stores,
          checks,
        },
        headers,
      );
      return true;
    }
    case "/health/metrics": {
      const text = await sources.metrics.registry.metrics();
      res.writeHead(200, { ...headers, "content-type": sources.metrics.registry.contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : text);
      return true;
    }
    default:
      return false;
  }
}

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
