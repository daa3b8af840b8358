import { z } from "zod";
import { exportTrail } from "../audit/export.js";
import type { Connections } from "../connections/connections.js";
import { Problem } from "../problem/index.js";
import type { RetentionSweep } from "../retention/sweep.js";
import type { TenantDeletion } from "../tenants/deletion.js";
import type { Tenant } from "../tenants/store.js";
import type { WebhookStore } from "../webhook-delivery/store.js";
import type { AdminOperation, AdminServices } from "./operations.js";

export interface LifecycleServices {
  deletion: TenantDeletion;
  retention: RetentionSweep;
  webhookStore: WebhookStore;
  connections?: Connections | undefined;
}

export const EXPORT_BUNDLE_FORMAT = "portcullis-tenant-export-v1";

export const tenantSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(["active", "suspended", "deleting", "deleted"]),
  created_at: z.string(),
  deletion: z.object({ step: z.string(), requested_at: z.string().nullable(), purge_after: z.string().nullable() }).optional(),
});

export function tenantView(t: Tenant): z.infer<typeof tenantSchema> {
  const view = { id: t.id, name: t.name, status: t.status, created_at: t.created_at.toISOString() };
  if (t.deletion_step === null) return view;
  return { ...view, deletion: { step: t.deletion_step, requested_at: t.deletion_requested_at?.toISOString() ?? null, purge_after: t.purge_after?.toISOString() ?? null } };
}

/**
 * Export, deletion, restore and the retention sweep. Deletion and restore write their own audit
 * records (each step is one), so the admin server does not add another.
 */
export function lifecycleOperations(s: AdminServices & LifecycleServices): AdminOperation[] {
  const admin = (requestId: string | undefined) => ({ actorType: "admin" as const, actorId: "admin-token", requestId });
  return [
    {
      method: "DELETE",
      path: "/admin/v1/tenants/:id",
      operationId: "deleteTenant",
      summary: "Start deleting a tenant: keys, sessions and OAuth connections revoked and vault secrets shredded at once, audit actors anonymised; the rest is removed after retention.deletionGraceDays unless restored",
      status: 202,
      audit: "self",
      response: tenantSchema,
      run: async ({ id }, _body, _query, requestId) => {
        await s.tenants.get(id!);
        return tenantView(await s.deletion.request(id!, s.policy.retention.deletionGraceDays * 86_400, admin(requestId)));
      },
    },
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/restore",
      operationId: "restoreTenant",
      summary: "Cancel a deletion in its grace period; revoked keys and shredded secrets stay gone",
      status: 200,
      audit: "self",
      response: tenantSchema,
      run: async ({ id }, _body, _query, requestId) => tenantView(await s.deletion.restore(id!, admin(requestId))),
    },
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/export",
      operationId: "exportTenant",
      audit: "without-result",
      summary: "Everything the tenant has here, but secrets and personal data: keys' metadata, limits, address lists, roles, usage, webhook endpoints, connections, and the audit trail with a signed checkpoint",
      status: 200,
      response: z.object({ format: z.literal(EXPORT_BUNDLE_FORMAT) }).passthrough(),
      run: async ({ id }) => exportBundle(s, await s.tenants.get(id!)),
    },
    {
      method: "POST",
      path: "/admin/v1/retention/run",
      operationId: "runRetention",
      summary: "Run the retention sweep now (unless another node is running it); its counts, also in the system audit chain",
      status: 200,
      response: z.object({ ran: z.boolean(), report: z.record(z.string(), z.number()).optional() }),
      run: async () => {
        const report = await s.retention.run({ force: true });
        return report === undefined ? { ran: false } : { ran: true, report: { ...report } };
      },
    },
  ];
}

async function exportBundle(s: AdminServices & LifecycleServices, tenant: Tenant) {
  const id = tenant.id;
  const keys = await s.keys.list(id);
  const audit: unknown[] = [];
  for await (const line of exportTrail(s.audit, s.signer, id)) audit.push(JSON.parse(line));
  const connections = (await s.connections?.list(id)) ?? [];
  return {
    format: EXPORT_BUNDLE_FORMAT,
    exported_at: new Date().toISOString(),
    tenant: tenantView(tenant),
    keys: keys.map((k) => ({ id: k.id, env: k.env, prefix: k.prefix, scopes: k.scopes, created_at: k.created_at.toISOString(), expires_at: k.expires_at?.toISOString() ?? null, revoked_at: k.revoked_at?.toISOString() ?? null })),
    limits: await s.limitOverrides.list(id),
    ip_rules: await s.ipRules.get(id),
    roles: await s.roles.assignments(id),
    usage: await s.quotas.usage(s.policy.routes.flatMap((r) => r.quotas), id, keys.map((k) => k.id)),
    webhook_endpoints: (await s.webhookStore.listEndpoints(id)).map((e) => ({ id: e.id, url: e.url, event_types: e.event_types, state: e.state, created_at: e.created_at })),
    connections: connections.map((c) => ({ id: c.id, provider: c.provider, subject: c.subject, account: c.account, scopes: c.scopes, created_at: c.created_at.toISOString() })),
    /** The lines of `GET …/audit/export`: a tenant checks them with `portcullis audit verify --file`. */
    audit,
  };
}

export function refuseWhileDeleting(s: AdminServices, op: AdminOperation): AdminOperation {
  const exempt = new Set(["deleteTenant", "restoreTenant", "exportTenant"]);
  if (op.method === "GET" || !op.path.startsWith("/admin/v1/tenants/:id") || exempt.has(op.operationId)) return op;
  return {
    ...op,
    run: async (params, body, query, requestId) => {
      if ((await s.tenants.get(params.id!)).status === "deleting") throw new Problem("CONFLICT", "The tenant is being deleted: restore it first.");
      return op.run(params, body, query, requestId);
    },
  };
}
