import { z } from "zod";

/**
 * Standard Webhooks' suggested schedule after the first attempt (5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h): about 28 hours of retries before a delivery is given up.
 */
const STANDARD_SCHEDULE_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

export const webhookDeliverySchema = z
  .strictObject({
    /** Delivery workers run in every gateway with the vault on; off stops this node's. */
    enabled: z.boolean().default(true),
    /** Waits before each retry; the number of entries is the number of retries. */
    retryScheduleSeconds: z.array(z.number().min(0).max(7 * 24 * 3_600)).min(0).max(30).default(STANDARD_SCHEDULE_SECONDS),
    /** A receiver's Retry-After is honoured up to this. */
    maxRetryAfterSeconds: z.number().int().min(1).max(7 * 24 * 3_600).default(24 * 3_600),
    /** How long the previous secret keeps signing after a rotation. */
    rotationOverlapSeconds: z.number().int().min(0).max(30 * 24 * 3_600).default(24 * 3_600),
    pollMs: z.number().int().min(10).max(60_000).default(500),
    batch: z.number().int().min(1).max(1_000).default(50),
    /** Deliveries in flight at once on one node. */
    concurrency: z.number().int().min(1).max(1_000).default(16),
    /** A claimed delivery is this node's for so long; a node that dies leaves it to another after. Longer than the egress timeout. */
    leaseSeconds: z.number().int().min(1).max(3_600).default(60),
    maxPayloadBytes: z.number().int().min(1).max(4 * 1024 * 1024).default(256 * 1024),
  })
  .default({
    enabled: true,
    retryScheduleSeconds: STANDARD_SCHEDULE_SECONDS,
    maxRetryAfterSeconds: 24 * 3_600,
    rotationOverlapSeconds: 24 * 3_600,
    pollMs: 500,
    batch: 50,
    concurrency: 16,
    leaseSeconds: 60,
    maxPayloadBytes: 256 * 1024,
  });

export type WebhookDeliveryPolicy = z.infer<typeof webhookDeliverySchema>;
