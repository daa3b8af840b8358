/**
 * Rewrap throughput (secrets/s) for a tenant with many secrets, on PGlite and on a Postgres
 * server when one is reachable (PORTCULLIS_BENCH_PG_URL, default the local test server), and the
 * cost of a cold unwrap per provider. Seeding uses the vault's own sealing code in bulk; the
 * figure measured is `vault.rewrap` itself.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Database, openDatabase, type Queryable } from "../src/store/index.js";
import { TenantStore } from "../src/tenants/store.js";
import { dataKey, lengthPrefixed, seal } from "../src/vault/envelope.js";
import { LocalKeyProvider } from "../src/vault/providers/local.js";
import { Vault } from "../src/vault/vault.js";

const SECRETS = Number(process.env.BENCH_REWRAP_SECRETS ?? "100000");
const SERVER = process.env.PORTCULLIS_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SEED_BATCH = 1000;

async function seed(db: Database, provider: LocalKeyProvider): Promise<string> {
  const tenantId = (await new TenantStore(db).create("bench")).id;
  const raw = randomBytes(32);
  const { kekId, wrapped } = await provider.wrap(raw, lengthPrefixed(["portcullis-vault/dek/v1", tenantId, "1"]));
  const dek = dataKey(raw);
  await db.withTenant(tenantId, (q) =>
    q.query("insert into vault_deks (tenant_id, version, provider, kek_id, wrapped, encryptions) values ($1, 1, $2, $3, $4, $5)", [
      tenantId,
      provider.name,
      kekId,
      wrapped,
      SECRETS,
    ]),
  );
  const value = randomBytes(200);
  for (let start = 0; start < SECRETS; start += SEED_BATCH) {
    const names: string[] = [];
    const envelopes: Buffer[] = [];
    for (let i = start; i < Math.min(start + SEED_BATCH, SECRETS); i++) {
      const name = `secret-${i}`;
      names.push(name);
      envelopes.push(seal(dek, 1, value, { tenantId, name, purpose: "secret" }));
    }
    await db.withTenant(tenantId, (q: Queryable) =>
      q.query(
        "insert into vault_secrets (tenant_id, name, purpose, dek_version, envelope) select $1, n, 'secret', 1, e from unnest($2::text[], $3::bytea[]) as t(n, e)",
        [tenantId, names, envelopes],
      ),
    );
  }
  return tenantId;
}

async function measure(label: string, db: Database): Promise<void> {
  const provider = LocalKeyProvider.fromKeys(randomBytes(32));
  const tenantId = await seed(db, provider);
  const vault = new Vault(db, provider);
  await vault.rotate(tenantId);
  const start = performance.now();
  const rewrapped = await vault.rewrap(tenantId, { batchSize: 500 });
  const seconds = (performance.now() - start) / 1000;
  console.log(`  rewrap on ${label.padEnd(9)} ${rewrapped} secrets in ${seconds.toFixed(1)} s: ${(rewrapped / seconds).toFixed(0)} secrets/s`);

  // A cold unwrap: a fresh vault, so the first read has to ask the provider.
  const reads: number[] = [];
  for (let i = 0; i < 20; i++) {
    const cold = new Vault(db, provider);
    const t = performance.now();
    await cold.get(tenantId, `secret-${i}`);
    reads.push(performance.now() - t);
    cold.close();
  }
  const warm = new Vault(db, provider);
  await warm.get(tenantId, "secret-0");
  const warmReads: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await warm.get(tenantId, `secret-${i}`);
    warmReads.push(performance.now() - t);
  }
  warm.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  console.log(`  read on ${label.padEnd(11)} cold (local provider unwrap) ${median(reads).toFixed(2)} ms, warm ${median(warmReads).toFixed(2)} ms (medians)`);
  vault.close();
}

async function main(): Promise<void> {
  console.log(`vault rewrap: ${SECRETS} secrets of 200 bytes, batches of 500`);
  const embedded = await openDatabase({});
  await measure("PGlite", embedded);
  await embedded.close();

  const admin = new pg.Client({ connectionString: SERVER, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch {
    console.log(`  Postgres at ${SERVER} unreachable: skipped`);
    return;
  }
  const name = `portcullis_bench_${process.pid}`;
  await admin.query(`create database ${name}`);
  try {
    const url = new URL(SERVER);
    url.pathname = `/${name}`;
    const server = await openDatabase({ databaseUrl: url.toString() });
    await measure("Postgres", server);
    await server.close();
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
