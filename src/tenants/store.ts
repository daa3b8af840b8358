import { randomUUID } from "node:crypto";
import { Problem } from "../problem/index.js";
import type { Database } from "../store/index.js";

/** `deleting`: in its grace period; `deleted`: a tombstone kept for its audit trail. */
export type TenantStatus = "active" | "suspended" | "deleting" | "deleted";
export type DeletionStep = "requested" | "revoked" | "shredded" | "anonymised" | "purged";

export interface Tenant {
  id: string;
  name: string;
  status: TenantStatus;
  created_at: Date;
  deletion_step: DeletionStep | null;
  deletion_requested_at: Date | null;
  purge_after: Date | null;
}

/** The chain of what belongs to no tenant (blocks of client addresses, the retention sweep). */
export const SYSTEM_TENANT = "00000000-0000-0000-0000-000000000000";

const COLUMNS = "id, name, status, created_at, deletion_step, deletion_requested_at, purge_after";

export class TenantStore {
  constructor(private readonly db: Database) {}

  create(name: string): Promise<Tenant> {
    const id = randomUUID();
    return this.db.withTenant(id, async (q) => {
      const [row] = await q.query<Tenant>(`insert into tenants (id, name) values ($1, $2) returning ${COLUMNS}`, [id, name]);
      return row!;
    });
  }

  /** A tenant that can be acted on: NOT_FOUND for an unknown or malformed id, a tombstone or the system chain. */
  async get(id: string): Promise<Tenant> {
    const tenant = await this.find(id);
    if (tenant === undefined || tenant.status === "deleted") throw new Problem("NOT_FOUND", "No such tenant.");
    return tenant;
  }

  /** Any tenant that has or had a trail, tombstones included: for reading and verifying audit records. */
  async audited(id: string): Promise<void> {
    if (id !== SYSTEM_TENANT && (await this.find(id)) === undefined) throw new Problem("NOT_FOUND", "No such tenant.");
  }

  /** The tenant's row whatever its state, tombstones included; undefined for an unknown id. */
  async find(id: string): Promise<Tenant | undefined> {
    if (id === SYSTEM_TENANT) return undefined;
    const [row] = await this.db.withTenant(id, (q) => q.query<Tenant>(`select ${COLUMNS} from tenants where id = $1`, [id]));
    return row;
  }

  /** Suspends or reactivates; a tenant being deleted is restored, not activated. */
  setStatus(id: string, status: "active" | "suspended"): Promise<Tenant> {
    return this.db.withTenant(id, async (q) => {
      const [row] = await q.query<Tenant>(`update tenants set status = $2 where id = $1 and status in ('active', 'suspended') returning ${COLUMNS}`, [id, status]);
      if (row === undefined) {
        await this.get(id);
        throw new Problem("CONFLICT", "The tenant is being deleted: restore it first.");
      }
      return row;
    });
  }
}
