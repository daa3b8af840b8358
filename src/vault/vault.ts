import { randomBytes } from "node:crypto";
import { isProblem, Problem } from "../problem/index.js";
import type { Database, Queryable } from "../store/index.js";
import { DekCache } from "./dek-cache.js";
import { dataKey, destroyDataKey, envelopeDekVersion, lengthPrefixed, open, seal, type DataKey, type SecretContext } from "./envelope.js";
import type { KeyProvider } from "./providers/key-provider.js";

export interface SecretInfo {
  name: string;
  purpose: string;
  dek_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface DekStatus {
  version: number;
  destroyed: boolean;
  provider: string;
  kek_id: string;
  encryptions: number;
  secrets: number;
  created_at: Date;
}

export interface KekUsage {
  provider: string;
  kek_id: string;
  /** Live DEKs this KEK wraps. */
  keys: number;
  current: boolean;
}

export interface RewrapOptions {
  /** Secrets per transaction: small batches keep row locks short, so traffic goes on meanwhile. */
  batchSize?: number;
  /** Called after each committed batch with the running total; throwing stops the rewrap. */
  onProgress?: (rewrapped: number) => void;
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

/**
 * One transaction of the vault. DEKs created in it are used from `created` and reach the shared
 * cache only after commit: a key of a rolled-back transaction must never be served, or a later
 * writer would seal data under a key that is stored nowhere.
 */
interface Scope {
  q: Queryable;
  tenantId: string;
  created: Map<number, DataKey>;
}

interface RewrapCursor {
  version: number;
  name: string;
}

interface DekRow {
  version: number;
  kek_id: string;
  wrapped: Uint8Array;
  encryptions: string | number;
  destroyed_at: Date | null;
}

const DEK_COLUMNS = "version, kek_id, wrapped, encryptions, destroyed_at";

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
    return this.transact(tenantId, async (scope) => {
      const { q } = scope;
      // Locking the tenant row serialises writers, so two first puts cannot both create DEK 1.
      await this.lockTenant(scope);
      const version = await this.reserveEncryptions(scope, 1);
      const envelope = await this.withDek(scope, version, (dek) => seal(dek, version, plaintext, { tenantId, name, purpose }));
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
    return this.transact(tenantId, async (scope) => {
      const [row] = await scope.q.query<{ purpose: string; envelope: Uint8Array }>(
        "select purpose, envelope from vault_secrets where tenant_id = $1 and name = $2",
        [tenantId, name],
      );
      if (row === undefined) throw new Problem("NOT_FOUND", "No such secret.");
      const context: SecretContext = { tenantId, name, purpose: row.purpose };
      // The version comes from the authenticated envelope, not from a column one could edit.
      return this.withDek(scope, envelopeDekVersion(row.envelope), (dek) => open(dek, row.envelope, context));
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
  shred(tenantId: string): Promise<number> {
    return this.db.withTenant(tenantId, (q) => this.destroyDeks(q, tenantId, undefined));
  }

  /** Starts a new DEK version: new writes, and rewraps, use it from now on. */
  async rotate(tenantId: string): Promise<number> {
    return this.transact(tenantId, async (scope) => {
      await this.lockTenant(scope);
      return this.createDek(scope, ((await this.newestDek(scope))?.version ?? 0) + 1);
    });
  }

  /**
   * Re-seals every secret not under the newest DEK, in batches of its own transactions. Live:
   * reads and writes go on between batches, and rows a writer holds are skipped (the writer seals
   * them under the newest DEK anyway). Resumable: the state is in the data, so running it again
   * after a crash continues where it stopped. Returns how many secrets were re-sealed.
   */
  async rewrap(tenantId: string, options: RewrapOptions = {}): Promise<number> {
    const batchSize = options.batchSize ?? 100;
    let total = 0;
    // Each pass walks forward from a cursor, so a batch never rescans the index entries that
    // earlier batches left dead. Rows skipped while a writer held them are behind the cursor;
    // passes repeat from the start until one finds nothing.
    for (;;) {
      let cursor: RewrapCursor = { version: 0, name: "" };
      let pass = 0;
      for (;;) {
        const batch = await this.transact(tenantId, (scope) => this.rewrapBatch(scope, batchSize, cursor));
        if (batch.done === 0) break;
        cursor = batch.cursor;
        pass += batch.done;
        total += batch.done;
        options.onProgress?.(total);
      }
      if (pass === 0) return total;
    }
  }

  /** Each DEK version with its encryption count and how many secrets still need it. */
  status(tenantId: string): Promise<DekStatus[]> {
    return this.db.withTenant(tenantId, async (q) => {
      const rows = await q.query<DekStatus & { encryptions: string | number; secrets: string | number }>(
        `select d.version, d.destroyed_at is not null as destroyed, d.provider, d.kek_id, d.encryptions, d.created_at,
                (select count(*) from vault_secrets s where s.tenant_id = d.tenant_id and s.dek_version = d.version) as secrets
           from vault_deks d where d.tenant_id = $1 order by d.version`,
        [tenantId],
      );
      return rows.map((r) => ({ ...r, encryptions: Number(r.encryptions), secrets: Number(r.secrets) }));
    });
  }

  /**
   * Destroys the DEKs below `minVersion`, once no secret needs them (run `rewrap` first): the
   * minimum decryption version. The newest DEK is never retired, and the check and the
   * destruction happen under the tenant lock writers take, so no write can slip in between and
   * seal a secret under a key about to go. Returns how many keys went.
   */
  async retire(tenantId: string, minVersion: number): Promise<number> {
    return this.transact(tenantId, async (scope) => {
      await this.lockTenant(scope);
      const newest = await this.newestDek(scope);
      if (newest === undefined || minVersion > newest.version) {
        throw new Problem("CONFLICT", "The newest key cannot be retired: rotate first.");
      }
      const [pending] = await scope.q.query<{ n: string | number }>(
        `select count(*) as n from vault_secrets s join vault_deks d on d.tenant_id = s.tenant_id and d.version = s.dek_version
          where s.tenant_id = $1 and s.dek_version < $2 and d.destroyed_at is null`,
        [tenantId, minVersion],
      );
      if (Number(pending!.n) > 0) throw new Problem("CONFLICT", `${Number(pending!.n)} secrets still use older keys: rewrap first.`);
      return this.destroyDeks(scope.q, tenantId, minVersion);
    });
  }

  /** The KEK new data keys are wrapped under. */
  get currentKekId(): string {
    return this.provider.currentKekId;
  }

  /** How many live DEKs each KEK wraps, across all tenants: an old KEK at zero can be removed. */
  async kekUsage(): Promise<KekUsage[]> {
    const rows = await this.db.asApp((q) =>
      q.query<{ provider: string; kek_id: string; keys: string | number }>("select provider, kek_id, keys from portcullis_vault_kek_usage()"),
    );
    return rows.map((r) => ({ ...r, keys: Number(r.keys), current: r.provider === this.provider.name && r.kek_id === this.provider.currentKekId }));
  }

  /**
   * KEK rotation: rewraps every live DEK that another KEK wraps under the provider's current KEK,
   * one tenant per transaction. Only DEKs move; no secret is touched, and DEKs stay the same, so
   * cached keys stay valid. Resumable: the KEK id in each row is the state. The old KEK must
   * still be configured (as a previous key) until this has run. Returns the DEKs rewrapped.
   */
  async rewrapKeks(): Promise<{ tenants: number; keys: number }> {
    const tenants = await this.db.asApp((q) =>
      q.query<{ id: string }>("select t as id from portcullis_vault_tenants_off_kek($1) t", [this.provider.currentKekId]),
    );
    let keys = 0;
    for (const { id } of tenants) keys += await this.db.withTenant(id, (q) => this.rewrapTenantKeks(q, id));
    return { tenants: tenants.length, keys };
  }

  private async rewrapTenantKeks(q: Queryable, tenantId: string): Promise<number> {
    const current = this.provider.currentKekId;
    const rows = await q.query<DekRow>(
      `select ${DEK_COLUMNS} from vault_deks where tenant_id = $1 and destroyed_at is null and kek_id <> $2 order by version for update`,
      [tenantId, current],
    );
    for (const row of rows) {
      const context = dekContext(tenantId, row.version);
      const dek = await this.provide(() => this.provider.unwrap(Buffer.from(row.wrapped), context, row.kek_id));
      try {
        const { kekId, wrapped } = await this.provide(() => this.provider.wrap(dek, context));
        await q.query("update vault_deks set provider = $3, kek_id = $4, wrapped = $5 where tenant_id = $1 and version = $2", [
          tenantId,
          row.version,
          this.provider.name,
          kekId,
          wrapped,
        ]);
      } finally {
        dek.fill(0);
      }
    }
    return rows.length;
  }

  /** Overwrites the wrapped keys below `belowVersion` (all when undefined) and zeroes cached copies. */
  private async destroyDeks(q: Queryable, tenantId: string, belowVersion: number | undefined): Promise<number> {
    const rows = await q.query<{ version: number }>(
      `update vault_deks set wrapped = '\\x'::bytea, destroyed_at = now()
        where tenant_id = $1 and ($2::integer is null or version < $2) and destroyed_at is null returning version`,
      [tenantId, belowVersion ?? null],
    );
    for (const { version } of rows) this.deks.evictWhere((id) => id === dekId(tenantId, version));
    return rows.length;
  }

  close(): void {
    this.deks.close();
  }

  private async rewrapBatch(scope: Scope, batchSize: number, after: RewrapCursor): Promise<{ done: number; cursor: RewrapCursor }> {
    const { q, tenantId } = scope;
    // The tenant lock orders this batch with writers and rotations, so no two create a DEK version.
    await this.lockTenant(scope);
    const newest = await this.newestDek(scope);
    if (newest === undefined) return { done: 0, cursor: after };
    // Secrets whose DEK was destroyed cannot be re-sealed and are left behind, unreadable.
    const rows = await q.query<{ name: string; purpose: string; envelope: Uint8Array; dek_version: number }>(
      `select s.name, s.purpose, s.envelope, s.dek_version from vault_secrets s
        where s.tenant_id = $1 and s.dek_version < $2 and (s.dek_version, s.name) > ($4::integer, $5::text)
          and not exists (select 1 from vault_deks d
                           where d.tenant_id = s.tenant_id and d.version = s.dek_version and d.destroyed_at is not null)
        order by s.dek_version, s.name limit $3 for update of s skip locked`,
      [tenantId, newest.version, batchSize, after.version, after.name],
    );
    if (rows.length === 0) return { done: 0, cursor: after };
    const version = await this.reserveEncryptions(scope, rows.length);
    const envelopes: Buffer[] = [];
    for (const row of rows) {
      const context: SecretContext = { tenantId, name: row.name, purpose: row.purpose };
      const plaintext = await this.withDek(scope, envelopeDekVersion(row.envelope), (dek) => open(dek, row.envelope, context));
      envelopes.push(await this.withDek(scope, version, (dek) => seal(dek, version, plaintext, context)));
      plaintext.fill(0);
    }
    // One statement per batch: a round trip per secret made rewrap a third as fast.
    // `name = any(...)` reaches the rows by primary key; a join against unnest() was planned as
    // a scan of the tenant's whole table per batch, which made large rewraps quadratic.
    await q.query(
      `update vault_secrets set envelope = ($4::bytea[])[array_position($3::text[], name)], dek_version = $2
        where tenant_id = $1 and name = any($3::text[])`,
      [tenantId, version, rows.map((r) => r.name), envelopes],
    );
    const last = rows[rows.length - 1]!;
    return { done: rows.length, cursor: { version: last.dek_version, name: last.name } };
  }

  private async newestDek({ q, tenantId }: Scope): Promise<DekRow | undefined> {
    const [newest] = await q.query<DekRow>(`select ${DEK_COLUMNS} from vault_deks where tenant_id = $1 order by version desc limit 1`, [
      tenantId,
    ]);
    return newest;
  }

  /**
   * Counts `count` encryptions against the newest DEK and returns its version; a new DEK comes
   * first when there is none or the newest has used up its budget.
   */
  private async reserveEncryptions(scope: Scope, count: number): Promise<number> {
    const newest = await this.newestDek(scope);
    const version =
      newest === undefined || newest.destroyed_at !== null || Number(newest.encryptions) >= this.maxEncryptions
        ? await this.createDek(scope, (newest?.version ?? 0) + 1)
        : newest.version;
    await scope.q.query("update vault_deks set encryptions = encryptions + $3 where tenant_id = $1 and version = $2", [
      scope.tenantId,
      version,
      count,
    ]);
    return version;
  }

  private async createDek(scope: Scope, version: number): Promise<number> {
    const dek = randomBytes(32);
    try {
      const { kekId, wrapped } = await this.provide(() => this.provider.wrap(dek, dekContext(scope.tenantId, version)));
      await scope.q.query("insert into vault_deks (tenant_id, version, provider, kek_id, wrapped) values ($1, $2, $3, $4, $5)", [
        scope.tenantId,
        version,
        this.provider.name,
        kekId,
        wrapped,
      ]);
    } catch (error) {
      dek.fill(0);
      throw error;
    }
    scope.created.set(version, dataKey(dek));
    return version;
  }

  private async lockTenant({ q, tenantId }: Scope): Promise<void> {
    const tenant = await q.query("select id from tenants where id = $1 for update", [tenantId]);
    if (tenant.length === 0) throw new Problem("NOT_FOUND", "No such tenant.");
  }

  /** A tenant-scoped transaction whose new DEKs reach the shared cache only if it commits. */
  private async transact<T>(tenantId: string, work: (scope: Scope) => Promise<T>): Promise<T> {
    const created = new Map<number, DataKey>();
    try {
      const result = await this.db.withTenant(tenantId, (q) => work({ q, tenantId, created }));
      for (const [version, dek] of created) this.deks.install(dekId(tenantId, version), dek);
      return result;
    } catch (error) {
      for (const dek of created.values()) destroyDataKey(dek);
      throw error;
    }
  }

  /** Runs `work` with the unwrapped DEK, unwrapping it first when it is not cached. */
  private async withDek<T>({ q, tenantId, created }: Scope, version: number, work: (dek: DataKey) => T): Promise<T> {
    const fresh = created.get(version);
    if (fresh !== undefined) return work(fresh);
    const id = dekId(tenantId, version);
    // Between the unwrap and the use another operation may use the entry up; then unwrap again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const used = this.deks.use(id, work);
      if (used !== undefined) return used.result;
      const [row] = await q.query<DekRow>(`select ${DEK_COLUMNS} from vault_deks where tenant_id = $1 and version = $2`, [tenantId, version]);
      if (row === undefined || row.destroyed_at !== null) throw new Problem("KEY_DESTROYED", "The key for this secret no longer exists.");
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
