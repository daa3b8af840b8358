import { isProblem, Problem } from "../problem/index.js";
import { RefreshingCache } from "../util/refreshing-cache.js";
import type { TenantStatus, TenantStore } from "./store.js";

/** Whether a tenant exists and is active, cached with the same bounded staleness as API keys. */
export class TenantDirectory {
  private readonly cache: RefreshingCache<TenantStatus | null>;

  constructor(store: TenantStore, maxStalenessMs = 1000) {
    this.cache = new RefreshingCache(
      async (id) => {
        try {
          return (await store.get(id)).status;
        } catch (error) {
          if (isProblem(error) && error.code === "NOT_FOUND") return null;
          throw new Problem("STORE_UNAVAILABLE", "Credentials cannot be checked right now.");
        }
      },
      { freshMs: maxStalenessMs / 2, maxAgeMs: maxStalenessMs, maxEntries: 100_000 },
    );
  }

  async isActive(tenantId: string): Promise<boolean> {
    return this.active(tenantId);
  }

  /** As `isActive`, synchronous while the tenant's status is cached: for checks on every request. */
  active(tenantId: string): boolean | Promise<boolean> {
    const status = this.cache.get(tenantId);
    return status instanceof Promise ? status.then((s) => s === "active") : status === "active";
  }

  forget(tenantId: string): void {
    this.cache.forget(tenantId);
  }
}
