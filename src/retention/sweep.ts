import type { AuditStore } from "../audit/store.js";
import type { CounterStore } from "../counters/counter-store.js";
import type { Logger } from "../observability/logger.js";
import type { Database, Queryable } from "../store/database.js";
import type { TenantDeletion } from "../tenants/deletion.js";
import { SYSTEM_TENANT } from "../tenants/store.js";
import type { RetentionPolicy } from "./schema.js";

export interface RetentionSweepDeps {
  db: Database;
  counters: CounterStore;
  audit: AuditStore;
  deletion: TenantDeletion;
  logger: Logger;
}

export interface SweepReport {
  tenants: number;
  idempotency_records: number;
  sessions: number;
  oauth_states: number;
  webhook_deliveries: number;
  audit_records_anonymised: number;
  security_events: number;
  deletions_advanced: number;
}

/** pg_advisory locks take a bigint; this one is the sweep's on every node of a deployment. */
const LOCK_KEY = 0x706f7274_6e756c6cn; // "portnull": any fixed number no other job uses
const JOB = "retention";

/**
 * The retention sweep. One transaction holds an advisory lock, so on a cluster one node sweeps at
 * a time, and reads when the last sweep ran, so the cluster sweeps once per interval whichever
 * node gets there. Inside it each tenant's due rows go under the tenant's own RLS scope, then
 * security events past their time leave the counter store, deletions waiting on their grace
 * period are advanced (which also resumes any a crash interrupted), and the run is audited in the
 * system chain with its counts.
 */
export class RetentionSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly policy: RetentionPolicy,
    private readonly deps: RetentionSweepDeps,
  ) {}

  /** Sweeps unless another node is sweeping, or swept within the interval (unless `force`); undefined then. */
  async run(options: { force?: boolean } = {}): Promise<SweepReport | undefined> {
    const swept = await this.deps.db.asApp(async (q) => {
      const [lock] = await q.query<{ locked: boolean }>("select pg_try_advisory_xact_lock($1) as locked", [LOCK_KEY.toString()]);
      if (!lock!.locked) return undefined;
      const [last] = await q.query<{ recent: boolean }>("select last_run_at > now() - make_interval(mins => $2) as recent from portcullis_jobs where name = $1 for update", [JOB, this.policy.intervalMinutes]);
      if (options.force !== true && last?.recent === true) return undefined;
      const tenants = await q.query<{ tenant_id: string; status: string }>("select tenant_id, status from portcullis_tenant_states()");
      const counts = { idempotency_records: 0, sessions: 0, oauth_states: 0, webhook_deliveries: 0, audit_records_anonymised: 0 };
      for (const { tenant_id } of tenants) {
        const swept = await this.sweepTenant(q, tenant_id);
        for (const name of Object.keys(counts) as (keyof typeof counts)[]) counts[name] += swept[name];
      }
      await q.query("insert into portcullis_jobs (name, last_run_at) values ($1, now()) on conflict (name) do update set last_run_at = excluded.last_run_at", [JOB]);
      return { tenants: tenants.length, ...counts, deleting: tenants.filter((t) => t.status === "deleting").map((t) => t.tenant_id) };
    });
    if (swept === undefined) return undefined;
    const { deleting, ...counts } = swept;
    const report: SweepReport = { ...counts, security_events: await this.pruneEvents(), deletions_advanced: 0 };
    for (const tenantId of deleting) {
      try {
        await this.deps.deletion.advance(tenantId);
        report.deletions_advanced++;
      } catch (error) {
        this.deps.logger.error({ tenant_id: tenantId, error: (error as Error).name }, "retention: a tenant deletion could not be advanced; the next sweep tries again");
      }
    }
    await this.deps.audit.append(SYSTEM_TENANT, { actorType: "system", actorId: "retention", action: "retention.sweep", diff: { after: { ...report } } });
    this.deps.logger.info({ event: "retention_sweep", ...report }, "retention sweep done");
    return report;
  }

  /** Sweeps now and then at the interval; a failed sweep is logged and tried at the next. */
  start(): void {
    const tick = () => {
      this.running ??= this.run()
        .catch((error: unknown) => this.deps.logger.error({ error: (error as Error).name }, "retention sweep failed"))
        .finally(() => (this.running = undefined));
    };
    this.timer ??= setInterval(tick, this.policy.intervalMinutes * 60_000).unref();
    setImmediate(tick);
  }

  /** Stops the timer and waits for a sweep under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async sweepTenant(q: Queryable, tenantId: string) {
    const own = this.policy.tenants[tenantId];
    const hours = own?.shortLivedHours ?? this.policy.shortLivedHours;
    const days = own?.auditPersonalDays ?? this.policy.auditPersonalDays;
    await q.query("select set_config('app.current_org', $1, true)", [tenantId]);
    const count = async (sql: string, params: unknown[] = []) => Number((await q.query<{ n: string }>(`with gone as (${sql} returning 1) select count(*) as n from gone`, params))[0]!.n);
    return {
      idempotency_records: await count("delete from idempotency_records where expires_at <= now()"),
      sessions: await count("delete from sessions where coalesce(revoked_at, least(idle_expires_at, absolute_expires_at)) < now() - make_interval(hours => $1)", [hours]),
      oauth_states: await count("delete from oauth_states where expires_at < now()"),
      webhook_deliveries: await count("delete from webhook_deliveries where state <> 'pending' and finished_at < now() - make_interval(hours => $1)", [hours]),
      audit_records_anonymised: (await q.query<{ n: number }>("select portcullis_audit_anonymise_before($1, now() - make_interval(days => $2)) as n", [tenantId, days]))[0]!.n,
    };
  }

  private pruneEvents(): Promise<number> {
    const cutoff = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    const tenants: Record<string, string> = {};
    for (const [id, own] of Object.entries(this.policy.tenants)) if (own.shortLivedHours !== undefined) tenants[id] = cutoff(own.shortLivedHours);
    return this.deps.counters.pruneEvents({ default: cutoff(this.policy.shortLivedHours), tenants });
  }
}
