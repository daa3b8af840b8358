import { randomUUID } from "node:crypto";
import { Problem } from "../../problem/index.js";
import { isUuid, type Database, type Queryable } from "../../store/index.js";
import { generateApiKey, type KeyEnv } from "./format.js";

/** What an administrator may see about a key: everything but the key. */
export interface ApiKeyInfo {
  id: string;
  tenant_id: string;
  env: KeyEnv;
  prefix: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  rotated_to: string | null;
}

/** An issued key: the only moment the key itself exists outside the client. */
export interface IssuedKey extends ApiKeyInfo {
  key: string;
}

/** What authentication needs to know about a presented key. */
export interface KeyRecord {
  keyId: string;
  tenantId: string;
  env: KeyEnv;
  scopes: readonly string[];
  expiresAt: number | null;
  revoked: boolean;
  tenantActive: boolean;
}

export interface NewKey {
  env: KeyEnv;
  scopes: readonly string[];
  expiresInSeconds?: number | undefined;
}

const INFO_COLUMNS = "id, tenant_id, env, prefix, scopes, created_at, expires_at, revoked_at, last_used_at, rotated_to";

export class ApiKeyStore {
  constructor(private readonly db: Database) {}

  create(tenantId: string, spec: NewKey): Promise<IssuedKey> {
    return this.db.withTenant(tenantId, async (q) => {
      const tenant = await q.query("select 1 from tenants where id = $1", [tenantId]);
      if (tenant.length === 0) throw new Problem("NOT_FOUND", "No such tenant.");
      return insertKey(q, tenantId, spec.env, spec.scopes, spec.expiresInSeconds);
    });
  }

  list(tenantId: string): Promise<ApiKeyInfo[]> {
    return this.db.withTenant(tenantId, (q) =>
      q.query<ApiKeyInfo>(`select ${INFO_COLUMNS} from api_keys where tenant_id = $1 order by created_at, id`, [tenantId]),
    );
  }

  /**
   * Issues a successor with the same env, scopes and lifetime, and lets the old key live on for
   * the grace period so that clients can switch over without an outage.
   */
  async rotate(keyId: string, graceSeconds: number): Promise<IssuedKey> {
    return this.inKeyTenant(keyId, async (q) => {
      const [old] = await q.query<ApiKeyInfo>(`select ${INFO_COLUMNS} from api_keys where id = $1 for update`, [keyId]);
      if (old === undefined) throw new Problem("NOT_FOUND", "No such key.");
      if (old.revoked_at !== null) throw new Problem("CONFLICT", "The key is revoked.");
      if (old.rotated_to !== null) throw new Problem("CONFLICT", "The key has already been rotated.");
      if (old.expires_at !== null && old.expires_at.getTime() <= Date.now()) throw new Problem("CONFLICT", "The key has expired.");
      const lifetime = old.expires_at === null ? undefined : Math.ceil((old.expires_at.getTime() - old.created_at.getTime()) / 1000);
      const successor = await insertKey(q, old.tenant_id, old.env, old.scopes, lifetime);
      await q.query(
        `update api_keys
            set rotated_to = $2,
                expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
          where id = $1`,
        [keyId, successor.id, graceSeconds],
      );
      return successor;
    });
  }

  revoke(keyId: string): Promise<ApiKeyInfo> {
    return this.inKeyTenant(keyId, async (q) => {
      const [row] = await q.query<ApiKeyInfo>(
        `update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${INFO_COLUMNS}`,
        [keyId],
      );
      if (row === undefined) throw new Problem("NOT_FOUND", "No such key.");
      return row;
    });
  }

  async lookup(keyHash: Buffer): Promise<KeyRecord | null> {
    const [row] = await this.db.asApp((q) =>
      q.query<{
        key_id: string;
        tenant_id: string;
        env: KeyEnv;
        scopes: string[];
        expires_at: Date | null;
        revoked_at: Date | null;
        tenant_status: string;
      }>("select * from portcullis_authenticate_key($1)", [keyHash]),
    );
    if (row === undefined) return null;
    return {
      keyId: row.key_id,
      tenantId: row.tenant_id,
      env: row.env,
      scopes: row.scopes,
      expiresAt: row.expires_at === null ? null : row.expires_at.getTime(),
      revoked: row.revoked_at !== null,
      tenantActive: row.tenant_status === "active",
    };
  }

  /** Records last use in one statement per tenant, for a batch gathered over many requests. */
  recordUse(tenantId: string, keyIds: readonly string[], at: Date): Promise<void> {
    return this.db.withTenant(tenantId, async (q) => {
      await q.query(
        "update api_keys set last_used_at = greatest(coalesce(last_used_at, $2), $2) where id = any($1::uuid[])",
        [[...keyIds], at],
      );
    });
  }

  private async inKeyTenant<T>(keyId: string, work: (q: Queryable) => Promise<T>): Promise<T> {
    const tenantId = await this.tenantOf(keyId);
    return this.db.withTenant(tenantId, work);
  }

  async tenantOf(keyId: string): Promise<string> {
    const notFound = new Problem("NOT_FOUND", "No such key.");
    if (!isUuid(keyId)) throw notFound;
    const [row] = await this.db.asApp((q) =>
      q.query<{ tenant_id: string | null }>("select portcullis_key_tenant($1) as tenant_id", [keyId]),
    );
    if (row === undefined || row.tenant_id === null) throw notFound;
    return row.tenant_id;
  }
}

async function insertKey(
  q: Queryable,
  tenantId: string,
  env: KeyEnv,
  scopes: readonly string[],
  expiresInSeconds: number | undefined,
): Promise<IssuedKey> {
  const generated = generateApiKey(env);
  const [row] = await q.query<ApiKeyInfo>(
    `insert into api_keys (id, tenant_id, env, prefix, key_hash, scopes, expires_at)
     values ($1, $2, $3, $4, $5, $6, case when $7::int is null then null else now() + make_interval(secs => $7::int) end)
     returning ${INFO_COLUMNS}`,
    [randomUUID(), tenantId, env, generated.prefix, generated.hash, [...scopes], expiresInSeconds ?? null],
  );
  return { ...row!, key: generated.key };
}
