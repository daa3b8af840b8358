import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AuditStore } from "../../src/audit/index.js";
import type { CounterStore } from "../../src/counters/counter-store.js";
import { MemoryCounterStore } from "../../src/counters/memory-store.js";
import { RedisCounterStore } from "../../src/counters/redis-store.js";
import { ApiKeyAuthenticator } from "../../src/identity/api-keys/authenticator.js";
import { ApiKeyStore } from "../../src/identity/api-keys/store.js";
import { createLogger } from "../../src/observability/logger.js";
import { retentionSchema, RetentionSweep, type RetentionPolicy } from "../../src/retention/index.js";
import { openDatabase, type Database } from "../../src/store/index.js";
import { TenantDeletion } from "../../src/tenants/deletion.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { SYSTEM_TENANT, TenantStore } from "../../src/tenants/store.js";
import { describeEachBackend } from "../helpers/backends.js";
import { createTestRedis, type TestRedis } from "../helpers/redis.js";

const logger = createLogger({ level: "silent" });

function sweepOn(db: Database, counters: CounterStore, policy: RetentionPolicy): RetentionSweep {
  const tenants = new TenantStore(db);
  const audit = new AuditStore(db);
  const keyAuthenticator = new ApiKeyAuthenticator(new ApiKeyStore(db));
  const deletion = new TenantDeletion({ db, tenants, tenantDirectory: new TenantDirectory(tenants), keyAuthenticator, audit, logger });
  return new RetentionSweep(policy, { db, counters, audit, deletion, logger });
}

describeEachBackend("retention sweep", (backend) => {
  let db: Database;
  let audit: AuditStore;
  let tenant: string;
  let shortLived: string;

  before(async () => {
    db = backend().db;
    audit = new AuditStore(db);
    tenant = (await new TenantStore(db).create("acme")).id;
    shortLived = (await new TenantStore(db).create("globex")).id;
  });

  const owner = (sql: string, params: unknown[] = []) => db.asOwner((q) => q.query<Record<string, unknown>>(sql, params));
  const count = async (table: string, tenantId: string) => Number((await owner(`select count(*) as n from ${table} where tenant_id = $1`, [tenantId]))[0]!.n);

  /** Rows of every kind the sweep removes, `hoursAgo` old, and one of each that is still live. */
  async function seed(tenantId: string, hoursAgo: number): Promise<void> {
    const past = `now() - make_interval(hours => ${hoursAgo})`;
    await owner(`insert into sessions (id, tenant_id, subject, auth_time, rotated_at, idle_expires_at, absolute_expires_at, revoked_at) values
      ($1, $3, 'ended', ${past}, ${past}, ${past}, now() + interval '1 day', null),
      ($2, $3, 'live', now(), now(), now() + interval '1 hour', now() + interval '1 day', null)`, [randomUUID(), randomUUID(), tenantId]);
    const endpoint = randomUUID();
    await owner("insert into webhook_endpoints (tenant_id, id, url, secret_name) values ($1, $2, 'https://hooks.example/x', 'w')", [tenantId, endpoint]);
    await owner(`insert into webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload, state, finished_at) values
      ($1, $3, $2, 'm1', 'e', '\\x00', 'delivered', ${past}), ($1, $4, $2, 'm2', 'e', '\\x00', 'pending', null)`, [tenantId, endpoint, randomUUID(), randomUUID()]);
    await owner(`insert into oauth_states (tenant_id, id, provider, subject, code_verifier, return_url, expires_at) values
      ($1, $2, 'p', 's', 'v', 'https://app.example/', now() - interval '1 minute'), ($1, $3, 'p', 's', 'v', 'https://app.example/', now() + interval '5 minutes')`, [tenantId, randomUUID().repeat(2).slice(0, 40), randomUUID().repeat(2).slice(0, 41)]);
    await owner(`insert into idempotency_records (tenant_id, scope_hash, fingerprint, state, status, expires_at) values
      ($1, $2, $2, 'done', 200, now() - interval '1 second'), ($1, $3, $3, 'done', 200, now() + interval '1 hour')`, [tenantId, Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
  }

  test("removes what is due, per tenant, keeps what is live, and anonymises old audit records with the chain intact", async () => {
    await seed(tenant, 30);
    await seed(shortLived, 2);
    await audit.append(tenant, { actorType: "user", actorId: "u1", action: "campaign.create", ip: "203.0.113.7", actorName: "Alice", userAgent: "curl/8" });
    // Zero days: every record is "old"; a tenant of its own keeps its personal fields for the default year.
    const policy = { ...retentionSchema.parse({ tenants: { [shortLived]: { shortLivedHours: 1 } } }), auditPersonalDays: 0 };
    policy.tenants[tenant] = { auditPersonalDays: 0 };
    const report = await sweepOn(db, new MemoryCounterStore(), policy).run();
    assert.ok(report !== undefined);
    // The 30-hour-old rows go at the default 24 h; globex's 2-hour-old ones at its own 1 h.
    for (const id of [tenant, shortLived]) {
      assert.equal(await count("sessions", id), 1);
      assert.equal(await count("webhook_deliveries", id), 1);
      assert.equal(await count("oauth_states", id), 1);
      assert.equal(await count("idempotency_records", id), 1);
    }
    assert.equal(report.sessions, 2);
    assert.equal(report.audit_records_anonymised >= 1, true);
    const [record] = await audit.records(tenant, 0, 1, { action: "campaign.create" });
    assert.deepEqual([record!.ip, record!.actor_name, record!.user_agent], [null, null, null]);
    assert.equal((await audit.verify(tenant)).ok, true);
    // The run is on the system chain, with its counts.
    const runs = await audit.records(SYSTEM_TENANT, 0, 1000, { action: "retention.sweep" });
    assert.equal((runs.at(-1)!.diff as { after: { sessions: number } }).after.sessions, 2);
    assert.equal((await audit.verify(SYSTEM_TENANT)).ok, true);
  });

  test("with the default 24 h, rows 2 h old stay", async () => {
    const fresh = (await new TenantStore(db).create("initech")).id;
    await seed(fresh, 2);
    await sweepOn(db, new MemoryCounterStore(), retentionSchema.parse({})).run({ force: true });
    assert.equal(await count("sessions", fresh), 2);
    assert.equal(await count("webhook_deliveries", fresh), 2);
  });

  test("one node sweeps at a time and the cluster once per interval: two nodes racing run it once", async () => {
    const { url } = backend();
    // PGlite is one process's database: there the second "node" shares it, which still races the lock and the interval.
    const second = url === undefined ? db : await openDatabase({ databaseUrl: url });
    try {
      const policy = retentionSchema.parse({});
      const other = second;
      await owner("delete from portcullis_jobs");
      const results = await Promise.all([sweepOn(db, new MemoryCounterStore(), policy).run(), sweepOn(other, new MemoryCounterStore(), policy).run()]);
      assert.equal(results.filter((r) => r !== undefined).length, 1);
      assert.equal(await sweepOn(db, new MemoryCounterStore(), policy).run(), undefined, "within the interval, not again");
    } finally {
      if (second !== db) await second.close();
    }
  });
});

describe("security events past retention leave the counter store", () => {
  let redis: TestRedis | undefined;
  before(async () => {
    const created = await createTestRedis();
    if (typeof created === "string") throw new Error(created);
    redis = created;
  });
  after(async () => {
    await redis?.cleanup();
  });

  const tenant = randomUUID();
  const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
  const lines = [
    JSON.stringify({ type: "client_blocked", at: hoursAgo(1) }),
    JSON.stringify({ type: "client_blocked", at: hoursAgo(30) }),
    JSON.stringify({ type: "rate_limited", at: hoursAgo(3), tenant_id: tenant }),
    JSON.stringify({ type: "rate_limited", at: hoursAgo(1), tenant_id: tenant }),
    "not json",
    JSON.stringify({ type: "no time" }),
  ];
  const cutoffs = { default: hoursAgo(24), tenants: { [tenant]: hoursAgo(2) } };

  for (const kind of ["memory", "Redis"] as const) {
    test(`on ${kind}: the default and a tenant's own cutoff, lines that are not events dropped`, async () => {
      const store: CounterStore = kind === "memory" ? new MemoryCounterStore() : await RedisCounterStore.connect({ url: redis!.url, prefix: redis!.prefix });
      try {
        for (const line of [...lines].reverse()) await store.recordEvent(line);
        assert.equal(await store.pruneEvents(cutoffs), 4);
        assert.deepEqual(await store.recentEvents(10), [lines[0], lines[3]]);
        assert.equal(await store.pruneEvents(cutoffs), 0);
      } finally {
        await store.close();
      }
    });
  }
});
