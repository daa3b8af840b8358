import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKeyStore } from "../../src/identity/api-keys/store.js";
import { Database, findTablesWithoutRls, isUuid } from "../../src/store/index.js";
import { openPostgres } from "../../src/store/postgres-driver.js";
import { TenantStore } from "../../src/tenants/store.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";

describeEachBackend("tenant isolation under row-level security", (backend) => {
  async function twoTenants(db: Database) {
    const tenants = new TenantStore(db);
    const keys = new ApiKeyStore(db);
    const a = await tenants.create("tenant a");
    const b = await tenants.create("tenant b");
    const keyB = await keys.create(b.id, { env: "live", scopes: ["read"] });
    return { a, b, keyB };
  }

  test(
    "with tenant A set, tenant B's rows cannot be read",
    backendTest(backend, async ({ db }) => {
      const { a, b } = await twoTenants(db);
      const seen = await db.withTenant(a.id, async (q) => ({
        tenants: await q.query<{ id: string }>("select id from tenants"),
        keys: await q.query<{ id: string }>("select id from api_keys"),
        direct: await q.query("select id from tenants where id = $1", [b.id]),
        keyOfB: await q.query("select id from api_keys where tenant_id = $1", [b.id]),
      }));
      assert.deepEqual(seen.tenants.map((r) => r.id), [a.id]);
      assert.equal(seen.keys.length, 0);
      assert.equal(seen.direct.length, 0);
      assert.equal(seen.keyOfB.length, 0);
    }),
  );

  test(
    "with tenant A set, tenant B's rows cannot be updated or deleted",
    backendTest(backend, async ({ db }) => {
      const { a, b, keyB } = await twoTenants(db);
      const updated = await db.withTenant(a.id, (q) =>
        q.query("update api_keys set scopes = '{admin}' where tenant_id = $1 returning id", [b.id]),
      );
      assert.equal(updated.length, 0);
      const renamed = await db.withTenant(a.id, (q) => q.query("update tenants set name = 'pwned' where id = $1 returning id", [b.id]));
      assert.equal(renamed.length, 0);
      // The app role holds no DELETE at all; either way B's rows must survive.
      await db.withTenant(a.id, (q) => q.query("delete from api_keys where tenant_id = $1", [b.id])).catch(() => undefined);
      await db.withTenant(a.id, (q) => q.query("delete from tenants where id = $1", [b.id])).catch(() => undefined);
      const keysOfB = await new ApiKeyStore(db).list(b.id);
      assert.deepEqual(keysOfB.map((k) => [k.id, k.scopes]), [[keyB.id, ["read"]]]);
      assert.equal((await new TenantStore(db).get(b.id)).name, "tenant b");
    }),
  );

  test(
    "with tenant A set, rows cannot be inserted for tenant B, nor moved to it",
    backendTest(backend, async ({ db }) => {
      const { a, b } = await twoTenants(db);
      await assert.rejects(
        db.withTenant(a.id, (q) =>
          q.query(
            "insert into api_keys (id, tenant_id, env, prefix, key_hash) values (gen_random_uuid(), $1, 'live', 'x', '\\x00')",
            [b.id],
          ),
        ),
        /row-level security/,
      );
      const keyA = await new ApiKeyStore(db).create(a.id, { env: "test", scopes: [] });
      await assert.rejects(
        db.withTenant(a.id, (q) => q.query("update api_keys set tenant_id = $1 where id = $2", [b.id, keyA.id])),
        /row-level security/,
      );
    }),
  );

  test(
    "with no tenant set, nothing is visible",
    backendTest(backend, async ({ db }) => {
      await twoTenants(db);
      const rows = await db.asApp(async (q) => [...(await q.query("select id from tenants")), ...(await q.query("select id from api_keys"))]);
      assert.equal(rows.length, 0);
    }),
  );

  test(
    "a malformed tenant id never reaches the database",
    backendTest(backend, async ({ db }) => {
      await assert.rejects(db.withTenant("' or 1=1 --", async () => undefined), { code: "NOT_FOUND" });
      assert.equal(isUuid("00000000-0000-0000-0000-00000000000g"), false);
    }),
  );

  test(
    "the app role owns nothing and cannot bypass RLS; every table is covered",
    backendTest(backend, async ({ db }) => {
      const role = await db.asApp((q) =>
        q.query<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }>(
          "select current_user, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
        ),
      );
      assert.deepEqual(role, [{ current_user: "portcullis_app", rolsuper: false, rolbypassrls: false }]);
      const owned = await db.asOwner((q) =>
        q.query("select tablename from pg_tables where schemaname = 'public' and tableowner = 'portcullis_app'"),
      );
      assert.deepEqual(owned, []);
      assert.deepEqual(await db.asOwner((q) => findTablesWithoutRls(q)), []);
    }),
  );

  test(
    "the RLS check names a table that is not covered",
    backendTest(backend, async ({ db }) => {
      const rollback = new Error("rollback");
      await assert.rejects(
        db.asOwner(async (q) => {
          await q.query("create table leaky (tenant_id uuid)");
          await q.query("create table half (tenant_id uuid)");
          await q.query("alter table half enable row level security");
          assert.deepEqual(await findTablesWithoutRls(q), ["half", "leaky"]);
          throw rollback;
        }),
        (error) => error === rollback,
      );
    }),
  );

  test(
    "the tenant setting ends with its transaction: a pooled connection does not leak it",
    backendTest(backend, async ({ db, url }) => {
      // One connection only, so the second transaction surely reuses the first one's connection.
      const single = url === undefined ? db : new Database(await openPostgres(url, 1));
      try {
        const { a } = await twoTenants(single);
        await single.withTenant(a.id, (q) => q.query("select 1"));
        const after = await single.asOwner((q) =>
          q.query<{ org: string | null; who: string }>("select current_setting('app.current_org', true) as org, current_user as who"),
        );
        assert.ok(after[0]!.org === null || after[0]!.org === "", `leaked tenant setting: ${after[0]!.org}`);
        assert.notEqual(after[0]!.who, "portcullis_app");
        assert.deepEqual(await single.asApp((q) => q.query("select id from tenants")), []);
      } finally {
        if (single !== db) await single.close();
      }
    }),
  );
});
