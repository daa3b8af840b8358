/**
 * Audit append throughput on the Postgres server, with chaining, against plain INSERTs of the same
 * rows into a table without a chain: the audit table's columns, keys and constraints, the personal
 * fields in the row itself, the same tenant isolation (RLS), but no lock, no head, no hashing:
 * one record per call (each durable when its call resolves; the store commits concurrent calls
 * together) and 100 per call, 8 writers on one tenant, interleaved rounds, medians.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { AuditStore, type AuditInput } from "../src/audit/index.js";
import { openDatabase, type Database } from "../src/store/index.js";
import { TenantStore } from "../src/tenants/store.js";
import { median } from "./harness.js";

const SERVER = "postgres://postgres@127.0.0.1:5432/postgres";
const WRITERS = 8;
const ROUND_MS = 3_000;
const ROUNDS = 3;
const BATCH = 100;

const input = (i: number): AuditInput => ({ actorType: "user", actorId: `u${i % 100}`, action: "campaign.update", targetType: "campaign", targetId: `c${i}`, diff: { before: { budget: i }, after: { budget: i + 1 } }, ip: "203.0.113.7", userAgent: "bench/1" });

/** The same columns as an audit record, as a table without a chain would take them. */
function plainInsert(db: Database, tenant: string, first: number, count: number): Promise<unknown> {
  const values: unknown[] = [];
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = first + i;
    const p = i * 9;
    rows.push(`($${p + 1}, $${p + 2}, now(), 'user', $${p + 3}, 'campaign.update', 'campaign', $${p + 4}, 'success', $${p + 5}::jsonb, $${p + 6}, $${p + 7}, $${p + 8}, $${p + 9})`);
    values.push(tenant, n, `u${n % 100}`, `c${n}`, JSON.stringify({ before: { budget: n }, after: { budget: n + 1 } }), randomBytes(32), randomBytes(32), "203.0.113.7", "bench/1");
  }
  return db.withTenant(tenant, (q) =>
    q.query(`insert into plain_records (tenant_id, seq, at, actor_type, actor_id, action, target_type, target_id, outcome, diff, personal_commitment, hash, ip, user_agent) values ${rows.join(", ")}`, values),
  );
}

/** Sequence numbers for the plain table, unique across writers and rounds (it has the audit table's primary key). */
let nextSeq = 1;

/** Records per second of WRITERS calling `write` at once; writer w is given w too (its tenant, where they differ). */
async function rate(write: (n: number, writer: number) => Promise<unknown>, perCall: number): Promise<number> {
  let records = 0;
  const started = performance.now();
  const end = started + ROUND_MS;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      while (performance.now() < end) {
        const n = nextSeq;
        nextSeq += perCall;
        await write(n, writer);
        records += perCall;
      }
    }),
  );
  return records / ((performance.now() - started) / 1000);
}

const name = `portcullis_bench_audit_${process.pid}`;
const admin = new pg.Client({ connectionString: SERVER, connectionTimeoutMillis: 3_000 });
try {
  await admin.connect();
} catch (error) {
  console.log("audit append: skipped, Postgres unreachable (%s)", (error as Error).message);
  process.exit(0);
}
await admin.query(`create database ${name}`);
try {
  const db = await openDatabase({ databaseUrl: SERVER.replace(/\/postgres$/, `/${name}`) });
  await db.asOwner(async (q) => {
    await q.query("create table plain_records (like audit_records including defaults including constraints including indexes, actor_name text, ip text, user_agent text)");
    await q.query("alter table plain_records add foreign key (tenant_id) references tenants (id)");
    await q.query("select portcullis_isolate_tenant('plain_records', 'tenant_id')");
    await q.query("grant insert on plain_records to portcullis_app");
  });
  const tenant = (await new TenantStore(db).create("bench")).id;
  const audit = new AuditStore(db);
  const compare = async (label: string, ours: (n: number, writer: number) => Promise<unknown>, plain: (n: number, writer: number) => Promise<unknown>, perCall: number) => {
    const a: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      b.push(await rate(plain, perCall));
      a.push(await rate(ours, perCall));
    }
    console.log("  %s  audit %d records/s   plain INSERT %d records/s   ratio %s", label, Math.round(median(a)), Math.round(median(b)), (median(a) / median(b)).toFixed(2));
  };
  console.log("audit append on Postgres, %d writers on one tenant (median of %d rounds of %d s):", WRITERS, ROUNDS, ROUND_MS / 1000);
  await compare("one record per call ", (n) => audit.append(tenant, input(n)), (n) => plainInsert(db, tenant, n, 1), 1);
  await compare(`${BATCH} records per call`, (n) => audit.appendMany(tenant, Array.from({ length: BATCH }, (_, i) => input(n + i))), (n) => plainInsert(db, tenant, n, BATCH), BATCH);
  const verified = await audit.verify(tenant);
  console.log("  the chain afterwards: %s, %d records", verified.ok ? "valid" : "BROKEN", verified.records);
  // A tenant's chain has one writer at a time, by design; tenants' chains are independent.
  const tenants = await Promise.all(Array.from({ length: WRITERS }, async (_, i) => (await new TenantStore(db).create(`bench-${i}`)).id));
  console.log("the same, each writer on a tenant of its own:");
  await compare(`${BATCH} records per call`, (n, w) => audit.appendMany(tenants[w]!, Array.from({ length: BATCH }, (_, i) => input(n + i))), (n, w) => plainInsert(db, tenants[w]!, n, BATCH), BATCH);
  await db.close();
} finally {
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
