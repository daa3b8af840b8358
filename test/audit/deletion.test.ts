import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { verifyExport } from "../../src/audit/index.js";
import { SYSTEM_TENANT } from "../../src/tenants/store.js";
import { TenantDeletion } from "../../src/tenants/deletion.js";
import type { Vault } from "../../src/vault/vault.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

const POLICY = { version: 1, retention: { enabled: false }, routes: [{ name: "default", match: { path: "/**" } }] };

for (const kind of ["PGlite", "Postgres"] as const) {
  describe(`tenant export and deletion on ${kind}`, () => {
    let database: TestDatabase | undefined;
    let gw: TestGateway;

    before(async () => {
      if (kind === "Postgres") {
        const created = await createTestDatabase();
        if (typeof created === "string") throw new Error(created);
        database = created;
      }
      gw = await startTestGateway(POLICY, { databaseUrl: database?.url });
    });
    after(async () => {
      await gw.close();
      await database?.drop();
    });

    const newTenant = async () => {
      const id = String((await gw.admin("POST", "/admin/v1/tenants", { name: "acme" })).json.id);
      const key = String((await gw.admin("POST", `/admin/v1/tenants/${id}/keys`, { env: "live", scopes: ["audit:write", "vault:read", "vault:write"] })).json.key);
      const headers = { authorization: `Bearer ${key}` };
      assert.equal((await fetch(`${gw.url}/portcullis/v1/vault/secrets/crm/token`, { method: "PUT", headers, body: "s3cr3t-value" })).status, 200);
      const appended = await fetch(`${gw.url}/portcullis/v1/audit/records`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ actorType: "user", actorId: "u_1", action: "campaign.create", actorName: "Alice Example", ip: "203.0.113.77", userAgent: "Mozilla/5.0 (alice)" }),
      });
      assert.equal(appended.status, 201);
      assert.equal((await gw.admin("PUT", `/admin/v1/tenants/${id}/ip-rules`, { allow: [], deny: ["198.51.100.0/24"] })).status, 200);
      return { id, key, headers };
    };
    const trail = async (id: string) => (await gw.admin("GET", `/admin/v1/tenants/${id}/audit?limit=1000`)).json.records as { action: string; outcome: string; actor_type: string; ip: string | null; actor_name: string | null; user_agent: string | null; diff: { after?: Record<string, number> } | null }[];
    const verified = async (id: string) => (await gw.admin("GET", `/admin/v1/tenants/${id}/audit/verify`)).json as { ok: boolean; records: number };
    const owner = (sql: string, params: unknown[] = []) => gw.gateway.core.db.asOwner((q) => q.query<Record<string, unknown>>(sql, params));

    test("the export bundle holds the tenant's metadata and its verifiable trail, no secret and no personal field", async () => {
      const { id, key } = await newTenant();
      const answer = await gw.admin("POST", `/admin/v1/tenants/${id}/export`);
      assert.equal(answer.status, 200);
      const bundle = answer.json as { format: string; tenant: { id: string }; keys: { prefix: string }[]; ip_rules: { deny: string[] }; audit: unknown[] };
      assert.equal(bundle.format, "portcullis-tenant-export-v1");
      assert.equal(bundle.tenant.id, id);
      assert.equal(bundle.keys.length, 1);
      assert.ok(key.startsWith(bundle.keys[0]!.prefix));
      assert.deepEqual(bundle.ip_rules.deny, ["198.51.100.0/24"]);
      const text = JSON.stringify(bundle);
      for (const leaked of [key, "s3cr3t-value", "203.0.113.77", "Alice Example", "Mozilla/5.0 (alice)", "key_hash"]) assert.ok(!text.includes(leaked), leaked);
      const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: never[] };
      const check = await verifyExport(bundle.audit.map((line) => JSON.stringify(line)), jwks);
      assert.equal(check.ok, true);
      assert.ok(check.records >= 3);
      // The export itself is on the trail: who took the tenant's data out is security-relevant.
      assert.ok((await trail(id)).some((r) => r.action === "admin.export_tenant"));
    });

    test("deletion revokes, shreds and anonymises at once, refuses changes, can be restored; after the grace period the rest goes and the trail still verifies", async () => {
      const { id, headers } = await newTenant();
      const bystander = await newTenant();
      // An authorization under way and a webhook endpoint with a queued delivery.
      await owner("insert into oauth_states (tenant_id, id, provider, subject, code_verifier, return_url, expires_at) values ($1, 'pending-authorization-000001', 'p', 's', 'v', 'https://app.example/', now() + interval '5 minutes')", [id]);
      await owner("insert into webhook_endpoints (tenant_id, id, url, secret_name) values ($1, $2, 'https://hooks.example/x', 'w')", [id, "00000000-0000-4000-8000-000000000001"]);
      await owner("insert into webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload) values ($1, $2, $3, 'm1', 'e', '\\x00')", [id, "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000001"]);
      const started = await gw.admin("DELETE", `/admin/v1/tenants/${id}`);
      assert.equal(started.status, 202);
      const state = started.json as { status: string; deletion: { step: string; purge_after: string } };
      assert.equal(state.status, "deleting");
      assert.equal(state.deletion.step, "anonymised");
      assert.ok(Date.parse(state.deletion.purge_after) > Date.now() + 29 * 86_400_000);
      // Keys stop at once (the revocation is this node's; the status reaches every node within the cache's second).
      assert.equal((await fetch(`${gw.url}/portcullis/v1/vault/secrets/crm/token`, { headers })).status, 401);
      const records = await trail(id);
      assert.deepEqual(
        records.filter((r) => r.actor_type === "system" || r.action.startsWith("tenant.")).map((r) => r.action),
        ["tenant.deletion_requested", "tenant.credentials_revoked", "tenant.vault_shredded", "tenant.audit_anonymised"],
      );
      assert.equal(records.find((r) => r.action === "tenant.credentials_revoked")!.diff!.after!.keys, 1);
      assert.equal(records.find((r) => r.action === "tenant.credentials_revoked")!.diff!.after!.pending_authorizations, 1);
      assert.deepEqual(await owner("select count(*)::int as n from oauth_states where tenant_id = $1", [id]), [{ n: 0 }], "an authorization begun before cannot complete");
      assert.deepEqual(await owner("select state, disabled_reason from webhook_endpoints where tenant_id = $1", [id]), [{ state: "disabled", disabled_reason: "tenant_deleted" }]);
      assert.deepEqual(await owner("select state from webhook_deliveries where tenant_id = $1", [id]), [{ state: "failed" }], "nothing queued goes out");
      assert.ok(records.find((r) => r.action === "tenant.vault_shredded")!.diff!.after!.data_keys_destroyed! >= 1);
      assert.ok(records.every((r) => r.ip === null && r.actor_name === null && r.user_agent === null), "every personal field is erased");
      assert.equal((await verified(id)).ok, true);
      // While it is being deleted, nothing about it changes but its deletion.
      assert.equal((await gw.admin("POST", `/admin/v1/tenants/${id}/keys`, { env: "live" })).status, 409);
      assert.equal((await gw.admin("POST", `/admin/v1/tenants/${id}/activate`)).status, 409);
      assert.equal((await gw.admin("DELETE", `/admin/v1/tenants/${id}`)).status, 202, "asking again is harmless");

      const restored = await gw.admin("POST", `/admin/v1/tenants/${id}/restore`);
      assert.equal(restored.status, 200);
      assert.equal(restored.json.status, "active");
      assert.equal((await fetch(`${gw.url}/portcullis/v1/vault/secrets/crm/token`, { headers })).status, 401, "a restored tenant's keys stay revoked");
      assert.equal((await gw.admin("POST", `/admin/v1/tenants/${id}/restore`)).status, 409);

      assert.equal((await gw.admin("DELETE", `/admin/v1/tenants/${id}`)).status, 202);
      // Not due yet: the sweep leaves it alone.
      await gw.admin("POST", "/admin/v1/retention/run");
      assert.equal((await gw.admin("GET", `/admin/v1/tenants/${id}`)).json.status, "deleting");
      await owner("update tenants set purge_after = now() - interval '1 second' where id = $1", [id]);
      const swept = await gw.admin("POST", "/admin/v1/retention/run");
      assert.equal(swept.json.ran, true);
      assert.equal((await gw.admin("GET", `/admin/v1/tenants/${id}`)).status, 404);
      assert.equal((await gw.admin("POST", `/admin/v1/tenants/${id}/restore`)).status, 404);
      // Every table holding tenant rows is empty of this tenant but the trail and the tombstone.
      const tables = await owner("select table_name from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id' and table_name not like 'audit_%'");
      assert.equal(tables.length, 13, "a new tenant table must be added to portcullis_purge_tenant, then here");
      for (const { table_name } of tables) {
        const [row] = await owner(`select count(*)::int as n from ${String(table_name)} where tenant_id = $1`, [id]);
        assert.equal(row!.n, 0, String(table_name));
      }
      // Another tenant's rows, keys, secrets and trail are untouched.
      for (const { table_name } of tables) {
        const [mine] = await owner(`select count(*)::int as n from ${String(table_name)} where tenant_id = $1`, [bystander.id]);
        if (["api_keys", "vault_secrets", "vault_deks", "tenant_ip_rules"].includes(String(table_name))) assert.ok(Number(mine!.n) >= 1, String(table_name));
      }
      assert.equal((await fetch(`${gw.url}/portcullis/v1/vault/secrets/crm/token`, { headers: bystander.headers })).status, 200);
      assert.equal((await verified(bystander.id)).ok, true);
      const [tombstone] = await owner("select name, status from tenants where id = $1", [id]);
      assert.deepEqual(tombstone, { name: "deleted tenant", status: "deleted" });
      const after = await trail(id);
      assert.equal(after.at(-1)!.action, "tenant.purged");
      assert.equal((await verified(id)).ok, true);
    });

    test("a deletion interrupted half-way resumes at the step it stopped at", async () => {
      const { id } = await newTenant();
      const core = gw.gateway.core;
      const crashing = new TenantDeletion({
        db: core.db,
        tenants: core.tenants,
        tenantDirectory: core.tenantDirectory,
        keyAuthenticator: core.keyAuthenticator,
        audit: core.audit,
        vault: { shred: () => Promise.reject(new Error("process killed")) } as unknown as Vault,
        logger: core.logger,
      });
      await assert.rejects(crashing.request(id, 86_400, { actorType: "admin", actorId: "admin-token" }), /process killed/);
      assert.equal(((await gw.admin("GET", `/admin/v1/tenants/${id}`)).json.deletion as { step: string }).step, "revoked");
      // The next sweep (any node's) carries on from there.
      await gw.admin("POST", "/admin/v1/retention/run");
      assert.equal(((await gw.admin("GET", `/admin/v1/tenants/${id}`)).json.deletion as { step: string }).step, "anonymised");
      const actions = (await trail(id)).map((r) => r.action);
      assert.equal(actions.filter((a) => a === "tenant.credentials_revoked").length, 1, "a recorded step does not run again");
      assert.deepEqual(actions.slice(-2), ["tenant.vault_shredded", "tenant.audit_anonymised"]);
      assert.equal((await verified(id)).ok, true);
    });

    test("key rotation and revocation are on the key's tenant trail; blocks and lifts are on the system chain with the address as a personal field", async () => {
      const id = String((await gw.admin("POST", "/admin/v1/tenants", { name: "globex" })).json.id);
      const keyId = String((await gw.admin("POST", `/admin/v1/tenants/${id}/keys`, { env: "live" })).json.id);
      const rotated = await gw.admin("POST", `/admin/v1/keys/${keyId}/rotate`, { grace_seconds: 0 });
      assert.equal((await gw.admin("POST", `/admin/v1/keys/${keyId}/revoke`)).status, 200);
      const keyRecords = (await trail(id)).filter((r) => r.action.startsWith("admin.") && r.action.includes("_key") && r.outcome === "success");
      assert.deepEqual(keyRecords.map((r) => r.action), ["admin.create_key", "admin.rotate_key", "admin.revoke_key"]);
      // Each change's intent was recorded before it was made.
      const steps = (await trail(id)).filter((r) => r.action.includes("_key")).map((r) => `${r.action} ${r.outcome}`);
      assert.deepEqual(steps, ["admin.create_key attempted", "admin.create_key success", "admin.rotate_key attempted", "admin.rotate_key success", "admin.revoke_key attempted", "admin.revoke_key success"]);
      assert.ok(!JSON.stringify(await trail(id)).includes(String(rotated.json.key)), "an issued key is never in the trail");

      assert.equal((await gw.admin("POST", "/admin/v1/blocks", { client: "192.0.2.55", seconds: 60 })).status, 201);
      assert.equal((await gw.admin("POST", "/admin/v1/blocks/lift", { client: "192.0.2.55" })).json.lifted, true);
      const system = (await gw.admin("GET", `/admin/v1/audit?tenant=${SYSTEM_TENANT}&target_type=client`)).json.records as { action: string; ip: string; actor_type: string; target_id: string | null }[];
      assert.deepEqual(system.slice(-2).map((r) => [r.action, r.actor_type, r.ip, r.target_id]), [["client.block", "admin", "192.0.2.55", null], ["client.unblock", "admin", "192.0.2.55", null]]);
    });

    test("GET /admin/v1/audit pages across tenants with a tenant:seq cursor and the same filters", async () => {
      const seen: string[] = [];
      let after: string | null = "";
      let pages = 0;
      while (after !== null && pages < 100) {
        const page = (await gw.admin("GET", `/admin/v1/audit?limit=7&action=admin.create_tenant${after === "" ? "" : `&after=${after}`}`)).json as { records: { tenant_id: string; seq: number; action: string }[]; next_after: string | null };
        assert.ok(page.records.every((r) => r.action === "admin.create_tenant"));
        seen.push(...page.records.map((r) => `${r.tenant_id}:${r.seq}`));
        after = page.next_after;
        pages++;
      }
      assert.equal(new Set(seen).size, seen.length, "no record twice");
      assert.ok(seen.length >= 4);
      assert.deepEqual(seen, [...seen].sort(), "in tenant then seq order");
      assert.equal((await gw.admin("GET", "/admin/v1/audit?after=nonsense")).status, 400);
    });
  });
}
