import type { Database } from "../store/index.js";
import { RefreshingCache } from "../util/refreshing-cache.js";

export interface LimitOverride {
  limit_name: string;
  rate: number;
  period_seconds: number;
  burst: number | null;
}

/**
 * Per-tenant replacements for the policy's rate limits, by limit name, kept in the durable store
 * and read through a cache: the database is reached at most once a second per tenant, never per
 * request, and a change made on another node applies within `maxStalenessMs`.
 */
export class LimitOverrideStore {
  private readonly cache: RefreshingCache<ReadonlyMap<string, LimitOverride>>;

  constructor(
    private readonly db: Database,
    maxStalenessMs = 5_000,
  ) {
    this.cache = new RefreshingCache(async (tenantId) => new Map((await this.list(tenantId)).map((o) => [o.limit_name, o])), {
      freshMs: Math.min(1_000, maxStalenessMs),
      maxAgeMs: maxStalenessMs,
      maxEntries: 100_000,
    });
  }

  /** For the hot path: usually answered from memory without waiting. */
  forTenant(tenantId: string): ReadonlyMap<string, LimitOverride> | Promise<ReadonlyMap<string, LimitOverride>> {
    return this.cache.get(tenantId);
  }

  list(tenantId: string): Promise<LimitOverride[]> {
    return this.db.withTenant(tenantId, (q) =>
      q.query<LimitOverride>("select limit_name, rate, period_seconds, burst from rate_limit_overrides where tenant_id = $1 order by limit_name", [tenantId]),
    );
  }

  async set(tenantId: string, override: LimitOverride): Promise<LimitOverride> {
    const [row] = await this.db.withTenant(tenantId, (q) =>
      q.query<LimitOverride>(
        `insert into rate_limit_overrides (tenant_id, limit_name, rate, period_seconds, burst) values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, limit_name) do update
           set rate = excluded.rate, period_seconds = excluded.period_seconds, burst = excluded.burst, updated_at = now()
         returning limit_name, rate, period_seconds, burst`,
        [tenantId, override.limit_name, override.rate, override.period_seconds, override.burst],
      ),
    );
    this.cache.forget(tenantId);
    return row!;
  }

  async remove(tenantId: string, limitName: string): Promise<boolean> {
    const rows = await this.db.withTenant(tenantId, (q) =>
      q.query("delete from rate_limit_overrides where tenant_id = $1 and limit_name = $2 returning limit_name", [tenantId, limitName]),
    );
    this.cache.forget(tenantId);
    return rows.length > 0;
  }
}
