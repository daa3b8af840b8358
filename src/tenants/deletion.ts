import type { AuditInput, AuditStore } from "../audit/store.js";
import type { Connections } from "../connections/connections.js";
import type { ApiKeyAuthenticator } from "../identity/api-keys/authenticator.js";
import type { Logger } from "../observability/logger.js";
import { Problem } from "../problem/index.js";
import type { Database } from "../store/database.js";
import type { Vault } from "../vault/vault.js";
import type { TenantDirectory } from "./directory.js";
import type { DeletionStep, Tenant, TenantStore } from "./store.js";

export interface TenantDeletionDeps {
  db: Database;
  tenants: TenantStore;
  tenantDirectory: TenantDirectory;
  keyAuthenticator: ApiKeyAuthenticator;
  audit: AuditStore;
  vault?: Vault | undefined;
  connections?: Connections | undefined;
  logger: Logger;
}

type Actor = Pick<AuditInput, "actorType" | "actorId" | "requestId">;
const SYSTEM: Actor = { actorType: "system", actorId: "tenant-deletion" };

/**
 * Deleting a tenant, as seed 000 asks: at once its keys, sessions and OAuth connections are
 * revoked, its vault secrets crypto-shredded and the personal fields of its audit trail erased;
 * after a grace period (cancellable by `restore`) everything else it owned is removed, but the
 * trail, which stays verifiable, and a tombstone it hangs on. Each step is recorded in the
 * tenant's row once done and audited, so a crash resumes at the next step (the retention sweep
 * resumes every unfinished deletion); a step that ran but was not recorded runs again, which
 * each step tolerates.
 */
export class TenantDeletion {
  constructor(private readonly deps: TenantDeletionDeps) {}

  async request(tenantId: string, graceSeconds: number, actor: Actor): Promise<Tenant> {
    const [started] = await this.deps.db.withTenant(tenantId, (q) =>
      q.query<{ id: string }>(
        `update tenants set status = 'deleting', deletion_step = 'requested', deletion_requested_at = now(), purge_after = now() + make_interval(secs => $2)
          where id = $1 and status in ('active', 'suspended') returning id`,
        [tenantId, graceSeconds],
      ),
    );
    const tenant = await this.deps.tenants.get(tenantId);
    if (started === undefined) {
      // Already being deleted: asking again changes nothing, but carries on a deletion a crash interrupted.
      await this.advance(tenantId);
      return (await this.deps.tenants.find(tenantId))!;
    }
    this.forget(tenantId);
    await this.deps.audit.append(tenantId, { ...actor, action: "tenant.deletion_requested", targetType: "tenant", targetId: tenantId, diff: { after: { purge_after: tenant.purge_after!.toISOString() } } });
    await this.advance(tenantId);
    return (await this.deps.tenants.find(tenantId))!;
  }

  /** Cancels a deletion in its grace period. Revoked keys and shredded secrets stay gone. */
  async restore(tenantId: string, actor: Actor): Promise<Tenant> {
    const [restored] = await this.deps.db.withTenant(tenantId, (q) =>
      q.query<{ id: string }>(
        "update tenants set status = 'active', deletion_step = null, deletion_requested_at = null, purge_after = null where id = $1 and status = 'deleting' and deletion_step <> 'purged' returning id",
        [tenantId],
      ),
    );
    if (restored === undefined) {
      await this.deps.tenants.get(tenantId);
      throw new Problem("CONFLICT", "The tenant is not being deleted.");
    }
    this.forget(tenantId);
    await this.deps.audit.append(tenantId, { ...actor, action: "tenant.restored", targetType: "tenant", targetId: tenantId });
    return this.deps.tenants.get(tenantId);
  }

  /**
   * Runs every step that is due, from the one the tenant's row says is next; stops at the grace
   * period, or when the tenant was restored meanwhile. Returns the step it stands at.
   */
  async advance(tenantId: string): Promise<DeletionStep | null> {
    for (;;) {
      const tenant = await this.deps.tenants.get(tenantId).catch(() => undefined);
      if (tenant?.status !== "deleting") return tenant?.deletion_step ?? null;
      const step = tenant.deletion_step!;
      if (step === "anonymised" && tenant.purge_after!.getTime() > Date.now()) return step;
      const next = await this.run(tenantId, step);
      if (next === undefined) return step;
    }
  }

  private async run(tenantId: string, step: DeletionStep): Promise<DeletionStep | undefined> {
    switch (step) {
      case "requested": {
        const revoked = await this.revokeCredentials(tenantId);
        await this.audited(tenantId, "tenant.credentials_revoked", revoked);
        return this.recordStep(tenantId, step, "revoked");
      }
      case "revoked": {
        const deks = (await this.deps.vault?.shred(tenantId)) ?? 0;
        await this.audited(tenantId, "tenant.vault_shredded", { data_keys_destroyed: deks });
        return this.recordStep(tenantId, step, "shredded");
      }
      case "shredded": {
        // Records appended from here on (the steps' own) carry no personal field.
        const [row] = await this.deps.db.withTenant(tenantId, (q) => q.query<{ n: number }>("select portcullis_audit_anonymise_before($1, 'infinity') as n", [tenantId]));
        await this.audited(tenantId, "tenant.audit_anonymised", { records: row!.n });
        return this.recordStep(tenantId, step, "anonymised");
      }
      case "anonymised": {
        const [row] = await this.deps.db.withTenant(tenantId, (q) => q.query<{ purged: boolean }>("select portcullis_purge_tenant($1) as purged", [tenantId]));
        if (!row!.purged) return undefined; // restored, or not yet due, meanwhile
        this.forget(tenantId);
        await this.audited(tenantId, "tenant.purged", {});
        return "purged";
      }
      case "purged":
        return undefined;
    }
  }

  private async revokeCredentials(tenantId: string): Promise<Record<string, number>> {
    const [keys, sessions, authorizations, endpoints] = await this.deps.db.withTenant(tenantId, async (q) => [
      await q.query("update api_keys set revoked_at = now() where tenant_id = $1 and revoked_at is null returning id", [tenantId]),
      await q.query("update sessions set revoked_at = now(), revoked_reason = 'admin' where tenant_id = $1 and revoked_at is null returning id", [tenantId]),
      // An OAuth authorization begun before the request must not complete into a new connection after it.
      await q.query("delete from oauth_states where tenant_id = $1 returning id", [tenantId]),
      // Nothing more is sent in the tenant's name: its endpoints stop and what was queued for them ends.
      await q.query("update webhook_endpoints set state = 'disabled', disabled_reason = 'tenant_deleted' where tenant_id = $1 and state = 'enabled' returning id", [tenantId]),
      await q.query("update webhook_deliveries set state = 'failed', finished_at = now() where tenant_id = $1 and state = 'pending'", [tenantId]),
    ]);
    this.forget(tenantId);
    let connections = 0;
    let confirmed = 0;
    for (const connection of (await this.deps.connections?.list(tenantId)) ?? []) {
      // The provider's confirmation is asked for, not waited on forever: the tokens are deleted either way.
      const { revoked } = await this.deps.connections!.delete(tenantId, connection.id);
      connections++;
      if (revoked) confirmed++;
    }
    return { keys: keys!.length, sessions: sessions!.length, pending_authorizations: authorizations!.length, webhook_endpoints_disabled: endpoints!.length, connections, connections_revoked_at_provider: confirmed };
  }

  private async recordStep(tenantId: string, from: DeletionStep, to: DeletionStep): Promise<DeletionStep | undefined> {
    const rows = await this.deps.db.withTenant(tenantId, (q) => q.query("update tenants set deletion_step = $3 where id = $1 and status = 'deleting' and deletion_step = $2 returning id", [tenantId, from, to]));
    return rows.length === 0 ? undefined : to;
  }

  private async audited(tenantId: string, action: string, counts: Record<string, number>): Promise<void> {
    await this.deps.audit.append(tenantId, { ...SYSTEM, action, targetType: "tenant", targetId: tenantId, diff: { after: counts } });
    this.deps.logger.info({ tenant_id: tenantId, event: action, ...counts }, "tenant deletion step done");
  }

  private forget(tenantId: string): void {
    this.deps.keyAuthenticator.forgetTenant(tenantId);
    this.deps.tenantDirectory.forget(tenantId);
  }
}
