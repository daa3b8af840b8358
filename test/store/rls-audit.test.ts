import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { checkRls, withTenantTransaction } from "../../src/store/index.js";
import { CLI, run } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

/** A schema of a service's own, with every mistake the check should name, on the real Postgres server. */
describe("portcullis rls check and withTenantTransaction on a schema of one's own", () => {
  let database: TestDatabase;
  let client: pg.Client;
  const suffix = randomBytes(4).toString("hex");
  const appRole = `rls_app_${suffix}`;
  const bypassRole = `rls_bypass_${suffix}`;
  const policy = "using (tenant_id = nullif(current_setting('app.current_org', true), '')::uuid)";
  const check = "with check (tenant_id = nullif(current_setting('app.current_org', true), '')::uuid)";

  before(async () => {
    const created = await createTestDatabase();
    if (typeof created === "string") throw new Error(created);
    database = created;
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(`create role ${appRole} nologin; create role ${bypassRole} nologin bypassrls`);
    await client.query(`
      create schema mistakes;
      create table mistakes.a_off (tenant_id uuid, v text);
      create table mistakes.b_unforced (tenant_id uuid, v text);
      alter table mistakes.b_unforced enable row level security;
      create policy p on mistakes.b_unforced ${policy} ${check};
      create table mistakes.c_no_policy (org_id uuid, v text);
      alter table mistakes.c_no_policy enable row level security;
      alter table mistakes.c_no_policy force row level security;
      create table mistakes.d_no_check (tenant_id uuid, v text);
      alter table mistakes.d_no_check enable row level security;
      alter table mistakes.d_no_check force row level security;
      create policy p on mistakes.d_no_check ${policy};
      create table mistakes.e_insert_open (tenant_id uuid, v text);
      alter table mistakes.e_insert_open enable row level security;
      alter table mistakes.e_insert_open force row level security;
      create policy r on mistakes.e_insert_open for select ${policy};
      create policy i on mistakes.e_insert_open for insert with check (true is not null);
      create policy j on mistakes.e_insert_open for update ${policy};
      create table mistakes.f_good (tenant_id uuid, v text);
      alter table mistakes.f_good enable row level security;
      alter table mistakes.f_good force row level security;
      create policy p on mistakes.f_good ${policy} ${check};
      create table mistakes.g_not_tenant_owned (id int);
      create schema clean;
      create table clean.notes (tenant_id uuid, body text);
      alter table clean.notes enable row level security;
      alter table clean.notes force row level security;
      create policy p on clean.notes ${policy} ${check};
      grant usage on schema clean to ${appRole};
      grant select, insert on clean.notes to ${appRole};
    `);
  });
  after(async () => {
    await client.end();
    await database.drop();
    const admin = new pg.Client({ connectionString: database.url.replace(/\/[^/]+$/, "/postgres") });
    await admin.connect();
    await admin.query(`drop role if exists ${appRole}; drop role if exists ${bypassRole}`);
    await admin.end();
  });

  const q = () => ({ query: async (sql: string, params?: readonly unknown[]) => (await client.query(sql, params as unknown[])).rows });

  test("names each hole: RLS off, not forced, no policy, a write policy without WITH CHECK; leaves good and non-tenant tables alone", async () => {
    const findings = await checkRls(q(), { schema: "mistakes", role: appRole });
    assert.deepEqual(
      findings.map((f) => `${f.table}:${f.problem}${f.detail === undefined ? "" : `:${f.detail}`}`),
      ["a_off:rls_disabled", "b_unforced:rls_not_forced", "c_no_policy:no_policy", "d_no_check:policy_without_with_check:p", "e_insert_open:policy_without_with_check:j"],
    );
    assert.deepEqual(await checkRls(q(), { schema: "clean", role: appRole }), []);
  });

  test("an application role that bypasses RLS (superuser, or BYPASSRLS) makes every table a hole", async () => {
    const findings = await checkRls(q(), { schema: "clean", role: bypassRole });
    assert.deepEqual(findings, [{ table: "notes", problem: "role_bypasses_rls", detail: bypassRole }]);
    // The test connects as a superuser: without --role, that is the role checked.
    assert.ok((await checkRls(q(), { schema: "clean" })).some((f) => f.problem === "role_bypasses_rls"));
  });

  test("the CLI exits 1 with the findings, 0 on a clean schema", async () => {
    const failed = await run(process.execPath, [CLI, "rls", "check", database.url, "--schema", "mistakes", "--role", appRole]).catch((error: { code: number; stdout: string }) => error);
    assert.equal((failed as { code: number }).code, 1);
    assert.match((failed as { stdout: string }).stdout, /a_off: rls_disabled/);
    const clean = await run(process.execPath, [CLI, "rls", "check", database.url, "--schema", "clean", "--role", appRole]);
    assert.match(clean.stdout, /every tenant-owned table is isolated/);
  });

  test("withTenantTransaction scopes reads and writes to the tenant, and nothing of it survives on the pooled connection", async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    const [a, b] = [randomUUID(), randomUUID()];
    try {
      await withTenantTransaction(pool, a, (c) => c.query("insert into clean.notes values ($1, 'a note')", [a]), { role: appRole });
      await assert.rejects(withTenantTransaction(pool, a, (c) => c.query("insert into clean.notes values ($1, 'forged')", [b]), { role: appRole }), /row-level security/);
      const seenByB = await withTenantTransaction(pool, b, async (c) => (await c.query("select * from clean.notes")).rows, { role: appRole });
      assert.deepEqual(seenByB, []);
      const after = await pool.query("select current_setting('app.current_org', true) as org, current_user as role");
      assert.deepEqual([after.rows[0].org ?? "", after.rows[0].role === appRole], ["", false], "the next transaction on the same connection has neither");
    } finally {
      await pool.end();
    }
  });
});
