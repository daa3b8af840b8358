import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { GatewayMetrics } from "../observability/metrics.js";
import { sendJson } from "../server/respond.js";

export interface HealthSources {
  version: string;
  startedAt: number;
  stores: { durable: string; counters: string; vault: string };
  ping: () => Promise<void>;
  metrics: GatewayMetrics;
}

/**
 * Serves /health/live, /health/ready, /health/status and /health/metrics; returns false for any
 * other path. Ready means the durable store answers: a load balancer should stop sending traffic
 * to a node that cannot check credentials.
 */
export async function serveHealth(
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  sources: HealthSources,
  headers: OutgoingHttpHeaders,
): Promise<boolean> {
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
    case "/health/status":
      sendJson(res, 200, {
        status: "ok",
        version: sources.version,
        uptime_seconds: Math.round((Date.now() - sources.startedAt) / 1000),
        stores: sources.stores,
      }, headers);
      return true;
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
