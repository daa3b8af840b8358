import { randomUUID } from "node:crypto";
import { Problem } from "../problem/index.js";
import type { Database } from "../store/index.js";

export type TenantStatus = "active" | "suspended";

export interface Tenant {
  id: string;
  name: string;
  status: TenantStatus;
  created_at: Date;
}

const COLUMNS = "id, name, status, created_at";

export class TenantStore {
  constructor(private readonly db: Database) {}

  create(name: string): Promise<Tenant> {
    const id = randomUUID();
    return this.db.withTenant(id, async (q) => {
      const [row] = await q.query<Tenant>(`insert into tenants (id, name) values ($1, $2) returning ${COLUMNS}`, [id, name]);
      return row!;
    });
  }

  /** Throws NOT_FOUND for an unknown or malformed id. */
  get(id: string): Promise<Tenant> {
    return this.db.withTenant(id, async (q) => {
      const [row] = await q.query<Tenant>(`select ${COLUMNS} from tenants where id = $1`, [id]);
      if (row === undefined) throw new Problem("NOT_FOUND", "No such tenant.");
      return row;
    });
  }

  setStatus(id: string, status: TenantStatus): Promise<Tenant> {
    return this.db.withTenant(id, async (q) => {
      const [row] = await q.query<Tenant>(`update tenants set status = $2 where id = $1 returning ${COLUMNS}`, [id, status]);
      if (row === undefined) throw new Problem("NOT_FOUND", "No such tenant.");
      return row;
    });
  }
}
