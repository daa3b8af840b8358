import { z } from "zod";

const perTenant = z.strictObject({
  shortLivedHours: z.number().int().min(1).max(24 * 3650).optional(),
  auditPersonalDays: z.number().int().min(1).max(36_500).optional(),
});

export const retentionSchema = z
  .strictObject({
    /** Whether this node runs the sweep; with several nodes, one at a time does (an advisory lock). */
    enabled: z.boolean().default(true),
    intervalMinutes: z.number().int().min(1).max(1_440).default(60),
    /** Security events, ended sessions, finished webhook deliveries, expired OAuth states and idempotency records (seed 004: 24 h). */
    shortLivedHours: z.number().int().min(1).max(24 * 3650).default(24),
    /** Audit records keep their place in the chain for ever; after this they lose their personal fields. */
    auditPersonalDays: z.number().int().min(1).max(36_500).default(365),
    /** Between `DELETE /admin/v1/tenants/{id}` and the hard deletion (seed 000: 30 days). */
    deletionGraceDays: z.number().int().min(0).max(365).default(30),
    tenants: z.record(z.uuid(), perTenant).default({}),
  })
  .default({ enabled: true, intervalMinutes: 60, shortLivedHours: 24, auditPersonalDays: 365, deletionGraceDays: 30, tenants: {} });
export type RetentionPolicy = z.infer<typeof retentionSchema>;
