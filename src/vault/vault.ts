import { randomBytes } from "node:crypto";
import { isProblem, Problem } from "../problem/index.js";
import type { Database, Queryable } from "../store/index.js";
import { DekCache } from "./dek-cache.js";
import { envelopeDekVersion, lengthPrefixed, open, seal, type DataKey, type SecretContext } from "./envelope.js";
import type { KeyProvider } from "./key-provider.js";

export interface SecretInfo {
  name: string;
  purpose: string;
  dek_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface VaultOptions {
  /** How long an unwrapped DEK stays in memory. */
  dekCacheTtlMs?: number;
  /** How many operations an unwrapped DEK serves before it is unwrapped again. */
  dekCacheMaxUses?: number;
  /**
   * A DEK is replaced after this many encryptions. Random 96-bit nonces stay safe for 2^32
   * encryptions under one key; the default stops far short of that.
   */
  maxEncryptionsPerDek?: number;
}

const NAME = /^[A-Za-z0-9._/-]{1,200}$/;
const PURPOSE = /^[a-z0-9_.-]{1,50}$/;
const DEFAULT_MAX_ENCRYPTIONS = 2 ** 30;

interface DekRow {
  version: number;
  kek_id: string;
  wrapped: Uint8Array;
  encryptions: string | number;
}

/**
 * Envelope-encrypted secrets per tenant. Each tenant has its own data keys (DEKs), stored only
 * wrapped by the key provider's KEK with the tenant bound into the wrap; each secret is sealed
 * under the tenant's newest DEK with tenant, name and purpose bound into the ciphertext. All SQL
 * runs under the tenant's RLS scope.
 */
export class Vault {
  private readonly deks: DekCache;
  private readonly maxEncryptions: number;

  constructor(
    private readonly db: Database,
    private readonly provider: KeyProvider,
    options: VaultOptions = {},
  ) {
    this.deks = new DekCache({
      ttlMs: options.dekCacheTtlMs ?? 5 * 60_000,
      maxUses: options.dekCacheMaxUses ?? 100_000,
      maxEntries: 10_000,
    });
    this.maxEncryptions = options.maxEncryptionsPerDek ?? DEFAULT_MAX_ENCRYPTIONS;
  }

  async put(tenantId: string, name: string, value: string | Uint8Array, purpose = "secret"): Promise<SecretInfo> {
    checkName(name, purpose);
    const plaintext = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    return this.db.withTenant(tenantId, async (q) => {
      // Locking the tenant row serialises writers, so two first puts cannot both create DEK 1.
      const tenant = await q.query("select id from tenants where id = $1 for update", [tenantId]);
      if (tenant.length === 0) throw new Problem("NOT_FOUND", "No such tenant.");
      const version = await this.writableDekVersion(q, tenantId);
      const envelope = await this.withDek(q, tenantId, version, (dek) => seal(dek, version, plaintext, { tenantId, name, purpose }));
      const [row] = await q.query<SecretInfo>(
        `insert into vault_secrets (tenant_id, name, purpose, dek_version, envelope) values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, name) do update
           set purpose = excluded.purpose, dek_version = excluded.dek_version, envelope = excluded.envelope, updated_at = now()
         returning name, purpose, dek_version, created_at, updated_at`,
        [tenantId, name, purpose, version, envelope],
      );
      return row!;
    });
  }

  async get(tenantId: string, name: string): Promise<Buffer> {
    checkName(name);
    return this.db.withTenant(tenantId, async (q) => {
      const [row] = await q.query<{ purpose: string; envelope: Uint8Array }>(
        "select purpose, envelope from vault_secrets where tenant_id = $1 and name = $2",
        [tenantId, name],
      );
      if (row === undefined) throw new Problem("NOT_FOUND", "No such secret.");
      const context: SecretContext = { tenantId, name, purpose: row.purpose };
      // The version comes from the authenticated envelope, not from a column one could edit.
      return this.withDek(q, tenantId, envelopeDekVersion(row.envelope), (dek) => open(dek, row.envelope, context));
    });
  }

  async getString(tenantId: string, name: string): Promise<string> {
    return (await this.get(tenantId, name)).toString("utf8");
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    checkName(name);
    return this.db.withTenant(tenantId, async (q) => {
      const rows = await q.query("delete from vault_secrets where tenant_id = $1 and name = $2 returning name", [tenantId, name]);
      return rows.length > 0;
    });
  }

  list(tenantId: string): Promise<SecretInfo[]> {
    return this.db.withTenant(tenantId, (q) =>
      q.query<SecretInfo>(
        "select name, purpose, dek_version, created_at, updated_at from vault_secrets where tenant_id = $1 order by name",
        [tenantId],
      ),
    );
  }

  /**
   * Crypto-shredding: destroys every DEK of the tenant, which makes all of its secrets
   * unrecoverable at once, whatever copies of the ciphertext exist. Returns how many keys went.
   */
  async shred(tenantId: string): Promise<number> {
    const rows = await this.db.withTenant(tenantId, (q) => q.query("delete from vault_deks where tenant_id = $1 returning version", [tenantId]));
    this.deks.evictWhere((id) => id.startsWith(`${tenantId}:`));
    return rows.length;
  }

  close(): void {
    this.deks.close();
  }

  /** The newest DEK version, created first when there is none or the newest one is used up. */
  private async writableDekVersion(q: Queryable, tenantId: string): Promise<number> {
    const [newest] = await q.query<DekRow>(
      "select version, kek_id, wrapped, encryptions from vault_deks where tenant_id = $1 order by version desc limit 1",
      [tenantId],
    );
    let version = newest?.version;
    if (newest === undefined || Number(newest.encryptions) >= this.maxEncryptions) {
      version = (newest?.version ?? 0) + 1;
      const dek = randomBytes(32);
      const { kekId, wrapped } = await this.provide(() => this.provider.wrap(dek, dekContext(tenantId, version!)));
      await q.query("insert into vault_deks (tenant_id, version, provider, kek_id, wrapped) values ($1, $2, $3, $4, $5)", [
        tenantId,
        version,
        this.provider.name,
        kekId,
        wrapped,
      ]);
      this.deks.adopt(dekId(tenantId, version), dek);
    }
    await q.query("update vault_deks set encryptions = encryptions + 1 where tenant_id = $1 and version = $2", [tenantId, version]);
    return version!;
  }

  /** Runs `work` with the unwrapped DEK, unwrapping it first when it is not cached. */
  private async withDek<T>(q: Queryable, tenantId: string, version: number, work: (dek: DataKey) => T): Promise<T> {
    const id = dekId(tenantId, version);
    // Between the unwrap and the use another operation may use the entry up; then unwrap again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const used = this.deks.use(id, work);
      if (used !== undefined) return used.result;
      const [row] = await q.query<DekRow>("select version, kek_id, wrapped from vault_deks where tenant_id = $1 and version = $2", [
        tenantId,
        version,
      ]);
      if (row === undefined) throw new Problem("KEY_DESTROYED", "The key for this secret no longer exists.");
      this.deks.adopt(id, await this.provide(() => this.provider.unwrap(Buffer.from(row.wrapped), dekContext(tenantId, version), row.kek_id)));
    }
    throw new Problem("KEY_PROVIDER_UNAVAILABLE", "The data key could not be held long enough to use.");
  }

  /** A provider's own failures (network, HSM) never leak their message. */
  private async provide<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isProblem(error)) throw error;
      throw new Problem("KEY_PROVIDER_UNAVAILABLE", "The key provider cannot be reached right now.");
    }
  }
}

function dekId(tenantId: string, version: number): string {
  return `${tenantId}:${version}`;
}

/** Bound into every wrap: a wrapped DEK copied to another tenant or version fails to unwrap. */
function dekContext(tenantId: string, version: number): Buffer {
  return lengthPrefixed(["portcullis-vault/dek/v1", tenantId, String(version)]);
}

function checkName(name: string, purpose?: string): void {
  if (!NAME.test(name)) throw new Problem("BAD_REQUEST", "Secret names are 1-200 characters of letters, digits and . _ / -.");
  if (purpose !== undefined && !PURPOSE.test(purpose)) throw new Problem("BAD_REQUEST", "A purpose is 1-50 characters of a-z, 0-9 and _ . -.");
}
