import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one gateway; labels come from the policy (route names) and fixed codes only. */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "portcullis_requests_total",
    help: "Requests handled, by route and outcome (forwarded, or the problem code).",
    labelNames: ["route", "outcome"] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "portcullis_request_duration_seconds",
    help: "Time from request to the end of the response, by route.",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: "portcullis_rejections_total",
    help: "Requests refused by the gateway, by problem code.",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  private readonly circuits = new Gauge({
    name: "portcullis_upstream_circuit_state",
    help: "Each upstream's circuit breaker: 0 closed, 1 open, 2 half-open (one probe let through).",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: "portcullis_upstream_retries_total",
    help: "Requests sent to an upstream again after a failure before it answered.",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "portcullis_" });
  }

  circuitChanged(upstream: string, state: "closed" | "open" | "half_open"): void {
    this.circuits.set({ upstream }, state === "closed" ? 0 : state === "open" ? 1 : 2);
  }

  retried(upstream: string): void {
    this.retries.inc({ upstream });
  }

  observe(route: string, outcome: string, seconds: number, rejected: boolean): void {
    this.requests.inc({ route, outcome });
    this.duration.observe({ route }, seconds);
    if (rejected) this.rejections.inc({ code: outcome });
  }
}
