import { z } from "zod";
import { circuitBreakerSchema, retriesSchema } from "../resilience/guard.js";

const durationMs = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

export const forwardSchema = z
  .strictObject({
    upstream: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    connectTimeoutMs: durationMs(60_000, 5_000),
    headersTimeoutMs: durationMs(600_000, 30_000),
    bodyTimeoutMs: durationMs(600_000, 30_000),
    /** Pass the client's Authorization / X-API-Key on to the upstream (off: the upstream gets the signed identity instead). */
    passCredentials: z.boolean().default(false),
    /** Only for GET, HEAD, OPTIONS, PUT, DELETE or a request with an Idempotency-Key, with no body or one read whole, and never once the upstream has begun to answer. */
    retries: retriesSchema,
    /** Per upstream origin; while open, 503 UPSTREAM_CIRCUIT_OPEN with Retry-After. */
    circuitBreaker: circuitBreakerSchema,
  })
  .default({
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 30_000,
    passCredentials: false,
    retries: { attempts: 1, baseDelayMs: 50, maxDelayMs: 1_000 },
    circuitBreaker: { enabled: true, consecutiveFailures: 5, halfOpenAfterMs: 10_000 },
  });
export type ForwardPolicy = z.infer<typeof forwardSchema>;
