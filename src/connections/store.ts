import type { Database } from "../store/database.js";

export interface PendingAuthorization {
  provider: string;
  subject: string;
  code_verifier: string;
  return_url: string;
}

export interface Connection {
  id: string;
  provider: string;
  subject: string;
  account: string | null;
  scopes: string[];
  expires_at: Date | null;
  created_at: Date;
  refreshed_at: Date | null;
}

const COLUMNS = "id, provider, subject, account, scopes, expires_at, created_at, refreshed_at";

/** Pending authorizations and connections, each under its tenant's RLS scope. */
export class ConnectionStore {
  constructor(private readonly db: Database) {}

  /** Also clears the tenant's expired states, so abandoned authorizations do not pile up. */
  async savePending(tenantId: string, id: string, pending: PendingAuthorization, expiresAt: Date): Promise<void> {
    await this.db.withTenant(tenantId, async (q) => {
      await q.query("delete from oauth_states where tenant_id = $1 and expires_at < now()", [tenantId]);
      await q.query("insert into oauth_states (tenant_id, id, provider, subject, code_verifier, return_url, expires_at) values ($1, $2, $3, $4, $5, $6, $7)", [
        tenantId,
        id,
        pending.provider,
        pending.subject,
        pending.code_verifier,
        pending.return_url,
        expiresAt,
      ]);
    });
  }

  /** The pending authorization, removed in the same statement: a state is good for one callback, whichever node gets it. */
  async takePending(tenantId: string, id: string): Promise<PendingAuthorization | undefined> {
    const [row] = await this.db.withTenant(tenantId, (q) =>
      q.query<PendingAuthorization>("delete from oauth_states where tenant_id = $1 and id = $2 and expires_at > now() returning provider, subject, code_verifier, return_url", [tenantId, id]),
    );
    return row;
  }

  async create(tenantId: string, connection: Omit<Connection, "created_at" | "refreshed_at">): Promise<void> {
    await this.db.withTenant(tenantId, (q) =>
      q.query("insert into oauth_connections (tenant_id, id, provider, subject, account, scopes, expires_at) values ($1, $2, $3, $4, $5, $6, $7)", [
        tenantId,
        connection.id,
        connection.provider,
        connection.subject,
        connection.account,
        connection.scopes,
        connection.expires_at,
      ]),
    );
  }

  list(tenantId: string): Promise<Connection[]> {
    return this.db.withTenant(tenantId, (q) => q.query<Connection>(`select ${COLUMNS} from oauth_connections where tenant_id = $1 order by created_at, id`, [tenantId]));
  }

  async get(tenantId: string, id: string): Promise<(Connection & { refreshing: boolean }) | undefined> {
    const [row] = await this.db.withTenant(tenantId, (q) =>
      q.query<Connection & { refreshing: boolean }>(`select ${COLUMNS}, coalesce(refresh_lease_until > now(), false) as refreshing from oauth_connections where tenant_id = $1 and id = $2`, [tenantId, id]),
    );
    return row;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const rows = await this.db.withTenant(tenantId, (q) => q.query("delete from oauth_connections where tenant_id = $1 and id = $2 returning id", [tenantId, id]));
    return rows.length > 0;
  }

  /** True for the one caller, on any node, that may refresh now; the lease ends by itself if that node dies. */
  async leaseRefresh(tenantId: string, id: string, seconds: number): Promise<boolean> {
    const rows = await this.db.withTenant(tenantId, (q) =>
      q.query(
        "update oauth_connections set refresh_lease_until = now() + make_interval(secs => $3) where tenant_id = $1 and id = $2 and (refresh_lease_until is null or refresh_lease_until < now()) returning id",
        [tenantId, id, seconds],
      ),
    );
    return rows.length > 0;
  }

  async refreshed(tenantId: string, id: string, expiresAt: Date | null): Promise<void> {
    await this.db.withTenant(tenantId, (q) =>
      q.query("update oauth_connections set expires_at = $3, refreshed_at = now(), refresh_lease_until = null where tenant_id = $1 and id = $2", [tenantId, id, expiresAt]),
    );
  }

  async releaseLease(tenantId: string, id: string): Promise<void> {
    await this.db.withTenant(tenantId, (q) => q.query("update oauth_connections set refresh_lease_until = null where tenant_id = $1 and id = $2", [tenantId, id]));
  }
}
