import { Problem } from "../problem/index.js";

/** The one thing every store module needs: run parameterised SQL and get rows back. */
export interface Queryable {
  query<Row extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** A Postgres engine (embedded PGlite or a server) reduced to owner-level transactions. */
export interface Driver {
  readonly kind: "pglite" | "postgres";
  transaction<T>(work: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export const APP_ROLE = "portcullis_app";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * Tenant-scoped access to Postgres. Every application query runs inside a transaction as
 * `portcullis_app` — a role that owns nothing and has no BYPASSRLS — with `app.current_org` set by
 * `set_config(..., true)`, the function form of `SET LOCAL`: both end with the transaction, so a
 * pooled connection can never carry one tenant's scope into the next request.
 */
export class Database {
  constructor(private readonly driver: Driver) {}

  get kind(): Driver["kind"] {
    return this.driver.kind;
  }

  withTenant<T>(tenantId: string, work: (q: Queryable) => Promise<T>): Promise<T> {
    if (!isUuid(tenantId)) return Promise.reject(new Problem("NOT_FOUND", "No such tenant."));
    return this.driver.transaction(async (q) => {
      // set_config('role', …, true) is SET LOCAL ROLE: both in one round trip, as every transaction pays it.
      await q.query(`select set_config('role', '${APP_ROLE}', true), set_config('app.current_org', $1, true)`, [tenantId]);
      return work(q);
    });
  }

  /** As the app role with no tenant set: only the security-definer lookups return anything. */
  asApp<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    return this.driver.transaction(async (q) => {
      await q.query(`set local role ${APP_ROLE}`);
      return work(q);
    });
  }

  /** As the owner: for migrations and catalog inspection only, never for request handling. */
  asOwner<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    return this.driver.transaction(work);
  }

  async ping(): Promise<void> {
    await this.driver.transaction((q) => q.query("select 1"));
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
