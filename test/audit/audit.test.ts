import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { AuditStore, canonicalJson } from "../../src/audit/index.js";
import { openDatabase, type Database } from "../../src/store/index.js";
import { TenantStore } from "../../src/tenants/store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

const run = promisify(execFile);

test("canonical JSON sorts keys at every level and ignores their order", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

for (const kind of ["PGlite", "Postgres"] as const) {
  describe(`audit chain on ${kind}`, () => {
    let database: TestDatabase | undefined;
    let db: Database;
    let audit: AuditStore;
    let tenant: string;
    let other: string;

    before(async () => {
      if (kind === "Postgres") {
        const created = await createTestDatabase();
        if (typeof created === "string") throw new Error(created);
        database = created;
      }
      db = await openDatabase({ databaseUrl: database?.url });
      audit = new AuditStore(db);
      tenant = (await new TenantStore(db).create("acme")).id;
      other = (await new TenantStore(db).create("globex")).id;
    });
    after(async () => {
      await db.close();
      await database?.drop();
    });

    /** What someone with the database's owner or superuser role could do, triggers aside. */
    const tamper = (sql: string, params: unknown[] = []) =>
      db.asOwner(async (q) => {
        await q.query("set local session_replication_role = replica");
        await q.query(sql, params);
      });

    test("appends chain per tenant, gap-free, and verify: a clean chain is whole", async () => {
      for (let i = 0; i < 5; i++) await audit.append(tenant, { actorType: "user", actorId: "u1", action: "campaign.create", targetType: "campaign", targetId: `c${i}`, diff: { after: { name: `n${i}`, budget: i } }, actorName: "Alice Example", ip: "203.0.113.7", userAgent: "curl/8" });
      await audit.append(other, { actorType: "key", actorId: "k1", action: "key.revoke" });
      const verified = await audit.verify(tenant);
      assert.deepEqual([verified.ok, verified.records], [true, 5]);
      assert.deepEqual((await audit.verify(other)).records, 1);
      const records = await audit.records(tenant);
      assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4, 5]);
      assert.equal(records[0]!.actor_name, "Alice Example");
      assert.match(records[0]!.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      // Another tenant's records are not visible under this tenant.
      assert.ok((await audit.records(other)).every((r) => r.actor_id === "k1"));
    });

    test("a batch appends in one transaction, chained in order, and verifies like single appends", async () => {
      const t = (await new TenantStore(db).create(`batch-${kind}`)).id;
      await audit.append(t, { actorType: "system", actorId: "s", action: "batch.before" });
      const batch = await audit.appendMany(t, Array.from({ length: 50 }, (_, i) => ({ actorType: "user" as const, actorId: `u${i}`, action: "item.create", diff: { after: { i } }, ip: "198.51.100.1" })));
      assert.deepEqual([batch[0]!.seq, batch.at(-1)!.seq], [2, 51]);
      await audit.append(t, { actorType: "system", actorId: "s", action: "batch.after" });
      assert.deepEqual([(await audit.verify(t)).ok, (await audit.verify(t)).records], [true, 52]);
      await assert.rejects(audit.appendMany(t, [{ actorType: "user", actorId: "u", action: "ok.one" }, { actorType: "user", actorId: "u", action: "not valid" }]));
      assert.equal((await audit.verify(t)).records, 52, "a batch with a bad record appends none");
    });

    test("text Postgres cannot store as it was hashed (NUL, a lone surrogate) is refused, and cannot fail another caller's record", async () => {
      const t = (await new TenantStore(db).create(`text-${kind}`)).id;
      for (const bad of [{ actorId: "a\u0000b" }, { actorId: "\uD800" }, { diff: { after: { note: "x\uDC00" } } }, { diff: { after: { ["k\u0000"]: 1 } } }, { userAgent: "ua\u0000" }]) {
        await assert.rejects(audit.append(t, { actorType: "user", actorId: "u", action: "note.create", ...bad }), /well-formed|NUL/);
      }
      const together = await Promise.allSettled([audit.append(t, { actorType: "user", actorId: "u", action: "note.create" }), audit.append(t, { actorType: "user", actorId: "\uD83D", action: "note.create" })]);
      assert.deepEqual(together.map((r) => r.status), ["fulfilled", "rejected"]);
      const emoji = await audit.append(t, { actorType: "user", actorId: "u", action: "note.create", diff: { after: { note: "ok \uD83D\uDE00" } } });
      assert.equal(emoji.seq, 2);
      assert.deepEqual([(await audit.verify(t)).ok, (await audit.verify(t)).records], [true, 2]);
    });

    test("the app role cannot UPDATE, DELETE or TRUNCATE records; the triggers refuse even the owner", async () => {
      for (const sql of ["update audit_records set outcome = 'failure' where tenant_id = $1", "delete from audit_records where tenant_id = $1", "update audit_personal set ip = '10.0.0.1' where tenant_id = $1", "delete from audit_personal where tenant_id = $1"]) {
        await assert.rejects(db.withTenant(tenant, (q) => q.query(sql, [tenant])), /permission denied|append-only|only be anonymised/, `app: ${sql}`);
        await assert.rejects(db.asOwner((q) => q.query(sql, [tenant])), /append-only|only be anonymised/, `owner: ${sql}`);
      }
      await assert.rejects(db.withTenant(tenant, (q) => q.query("truncate audit_records")), /permission denied|append-only/);
      await assert.rejects(db.asOwner((q) => q.query("truncate audit_records cascade")), /append-only/);
      await assert.rejects(db.asOwner((q) => q.query("truncate audit_personal")), /append-only/);
      assert.equal((await audit.verify(tenant)).ok, true);
    });

    test("anonymising an actor erases their personal fields and leaves the chain verifiable", async () => {
      const before = await audit.checkpoint(tenant);
      assert.equal(await audit.anonymise(tenant, "user", "u1"), 5);
      const records = await audit.records(tenant);
      assert.ok(records.every((r) => r.actor_name === null && r.ip === null && r.user_agent === null));
      const verified = await audit.verify(tenant, before);
      assert.deepEqual([verified.ok, verified.records], [true, 5]);
    });

    test("personal fields: the app role cannot attach a row to a record that had none; an added or edited row is caught by verify", async () => {
      const t = (await new TenantStore(db).create(`personal-${kind}`)).id;
      await audit.append(t, { actorType: "admin", actorId: "ops", action: "key.revoke" });
      await audit.append(t, { actorType: "user", actorId: "u9", action: "note.create", actorName: "Bob", ip: "198.51.100.9", userAgent: "ua" });
      const insert = "insert into audit_personal (tenant_id, seq, salt, actor_name, ip, user_agent) values ($1, 1, $2, 'Mallory', '192.0.2.66', 'x')";
      await assert.rejects(db.withTenant(t, (q) => q.query(insert, [t, Buffer.alloc(16)])), /written with their record/);
      await assert.rejects(
        db.withTenant(t, (q) => q.query("insert into audit_personal (tenant_id, seq, salt, anonymised_at) values ($1, 1, $2, now())", [t, Buffer.alloc(16)])),
        /written with their record/,
      );
      assert.equal((await audit.verify(t)).ok, true);
      // A role above the rules (the owner, triggers off) is still caught: the chained commitment no longer matches.
      await tamper(insert, [t, Buffer.alloc(16)]);
      assert.deepEqual((await audit.verify(t)).firstBad, { seq: 1, reason: "personal_changed" });
      await tamper("delete from audit_personal where tenant_id = $1 and seq = 1", [t]);
      assert.equal((await audit.verify(t)).ok, true);
      await tamper("update audit_personal set ip = '192.0.2.66' where tenant_id = $1 and seq = 2", [t]);
      assert.deepEqual((await audit.verify(t)).firstBad, { seq: 2, reason: "personal_changed" });
      await tamper("update audit_personal set ip = '198.51.100.9' where tenant_id = $1 and seq = 2", [t]);
      assert.equal((await audit.verify(t)).ok, true);
      // Erased through the one narrow path, the row is excepted and the chain still verifies.
      assert.equal(await audit.anonymise(t, "user", "u9"), 1);
      assert.equal((await audit.verify(t)).ok, true);
    });

    test("a changed, deleted, inserted or reordered record is caught and named; a cut tail is caught against a checkpoint", async () => {
      const t = (await new TenantStore(db).create(`tamper-${kind}`)).id;
      for (let i = 0; i < 6; i++) await audit.append(t, { actorType: "admin", actorId: "ops", action: "tenant.update", targetId: String(i), diff: { before: { plan: "a" }, after: { plan: "b" } } });
      const checkpoint = await audit.checkpoint(t);
      assert.equal((await audit.verify(t, checkpoint)).ok, true);
      const expectBad = async (seq: number, reason: string) => {
        const v = await audit.verify(t, checkpoint);
        assert.equal(v.ok, false);
        assert.deepEqual(v.firstBad, { seq, reason });
      };
      await tamper("update audit_records set diff = '{\"after\":{\"plan\":\"free\"}}' where tenant_id = $1 and seq = 3", [t]);
      await expectBad(3, "changed");
      await tamper("update audit_records set diff = '{\"before\":{\"plan\":\"a\"},\"after\":{\"plan\":\"b\"}}' where tenant_id = $1 and seq = 3", [t]);
      assert.equal((await audit.verify(t, checkpoint)).ok, true, "restored exactly, it verifies again");
      await tamper("update audit_records set at = at + interval '1 microsecond' where tenant_id = $1 and seq = 2", [t]);
      await expectBad(2, "changed");
      await tamper("update audit_records set at = at - interval '1 microsecond' where tenant_id = $1 and seq = 2", [t]);
      // Reordered: records 4 and 5 swap places.
      const swap = async () => {
        for (const [from, to] of [[4, 1000], [5, 4], [1000, 5]]) await tamper("update audit_records set seq = $3 where tenant_id = $1 and seq = $2", [t, from, to]);
      };
      await swap();
      await expectBad(4, "changed");
      await swap();
      // Deleted in the middle.
      await tamper("delete from audit_personal where tenant_id = $1 and seq = 5", [t]);
      await tamper("delete from audit_records where tenant_id = $1 and seq = 5", [t]);
      await expectBad(5, "missing");
      // Inserted: a forged record 5 with a hash of its own making.
      await tamper(
        "insert into audit_records (tenant_id, seq, at, actor_type, actor_id, action, outcome, personal_commitment, hash) values ($1, 5, now(), 'admin', 'ops', 'tenant.update', 'success', $2, $2)",
        [t, Buffer.alloc(32, 7)],
      );
      await expectBad(5, "changed");
      await tamper("delete from audit_records where tenant_id = $1 and seq >= 5", [t]);
      // Cut tail: records 5 and 6 gone; the chain alone looks whole, the outside checkpoint does not.
      assert.equal((await audit.verify(t)).ok, true);
      await expectBad(5, "truncated");
    });

    if (kind === "Postgres") {
      test("two processes appending to one tenant at full speed leave one gap-free, valid chain", async () => {
        const t = (await new TenantStore(db).create("concurrent")).id;
        const appender = new URL("../helpers/audit-appender.js", import.meta.url).pathname;
        await Promise.all([run(process.execPath, [appender, database!.url, t, "150"]), run(process.execPath, [appender, database!.url, t, "150"])]);
        const verified = await audit.verify(t);
        assert.deepEqual([verified.ok, verified.records], [true, 300]);
        const actors = new Set((await audit.records(t, 0, 300)).map((r) => r.actor_id));
        assert.equal(actors.size, 2, "both processes appended");
      });
    }
  });
}
