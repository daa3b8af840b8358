import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { ApiKeyAuthenticator } from "../../src/identity/api-keys/authenticator.js";
import { generateApiKey } from "../../src/identity/api-keys/format.js";
import { ApiKeyStore } from "../../src/identity/api-keys/store.js";
import { Database, openDatabase } from "../../src/store/index.js";
import { TenantStore } from "../../src/tenants/store.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";

/** `attempt` may throw at once (a cache answer) or reject later (a store lookup); both count. */
async function rejectsAsUnauthenticated(attempt: () => unknown, message?: string) {
  await assert.rejects(async () => attempt(), (e: { code?: string; detail?: string }) => {
    assert.equal(e.code, "UNAUTHENTICATED", message);
    assert.equal(e.detail, "A valid API key or bearer token is required.", message);
    return true;
  });
}

describeEachBackend("API keys", (backend) => {
  function setup(db: Database, maxStalenessMs = 1000) {
    const keys = new ApiKeyStore(db);
    return { tenants: new TenantStore(db), keys, auth: new ApiKeyAuthenticator(keys, { maxStalenessMs }) };
  }

  test(
    "only the hash is stored, and a valid key authenticates as its tenant with its scopes",
    backendTest(backend, async ({ db }) => {
      const { tenants, keys, auth } = setup(db);
      const tenant = await tenants.create("acme");
      const issued = await keys.create(tenant.id, { env: "live", scopes: ["read", "write"] });
      const stored = await db.asOwner((q) => q.query<Record<string, unknown>>("select * from api_keys"));
      assert.ok(!JSON.stringify(stored).includes(issued.key.slice(8)), "the secret must not be stored");
      assert.ok(!("key" in (await keys.list(tenant.id))[0]!), "listing never returns the key");
      const principal = await auth.authenticate(issued.key);
      assert.equal(principal.tenantId, tenant.id);
      assert.equal(principal.id, issued.id);
      assert.equal(principal.env, "live");
      assert.deepEqual([...principal.scopes], ["read", "write"]);
      await auth.close();
    }),
  );

  test(
    "unknown, revoked, expired and suspended-tenant keys fail identically",
    backendTest(backend, async ({ db }) => {
      const { tenants, keys, auth } = setup(db);
      const tenant = await tenants.create("acme");
      const revoked = await keys.create(tenant.id, { env: "live", scopes: [] });
      await keys.revoke(revoked.id);
      const expiring = await keys.create(tenant.id, { env: "live", scopes: [] });
      await db.asOwner((q) => q.query("update api_keys set expires_at = now() - interval '1 second' where id = $1", [expiring.id]));
      const other = await tenants.create("suspended");
      const ofSuspended = await keys.create(other.id, { env: "live", scopes: [] });
      await tenants.setStatus(other.id, "suspended");

      await rejectsAsUnauthenticated(() => auth.authenticate(generateApiKey("live").key), "unknown");
      await rejectsAsUnauthenticated(() => auth.authenticate(revoked.key), "revoked");
      await rejectsAsUnauthenticated(() => auth.authenticate(expiring.key), "expired");
      await rejectsAsUnauthenticated(() => auth.authenticate(ofSuspended.key), "suspended tenant");
      await rejectsAsUnauthenticated(() => auth.authenticate(revoked.key.slice(0, -1) + "0"), "bad checksum");
      await auth.close();
    }),
  );

  test(
    "revocation applies at once on this node, and within the staleness bound on another",
    backendTest(backend, async ({ db }) => {
      const { tenants, keys, auth } = setup(db, 300);
      const otherNode = new ApiKeyAuthenticator(keys, { maxStalenessMs: 300 });
      const tenant = await tenants.create("acme");
      const issued = await keys.create(tenant.id, { env: "test", scopes: [] });
      await auth.authenticate(issued.key);
      await otherNode.authenticate(issued.key);

      await keys.revoke(issued.id);
      auth.forgetKey(issued.id);
      await rejectsAsUnauthenticated(() => auth.authenticate(issued.key), "this node");

      // The other node has the key cached as valid; the cache may serve it only until maxStaleness.
      await sleep(350);
      await rejectsAsUnauthenticated(() => otherNode.authenticate(issued.key), "other node after the bound");
      await auth.close();
      await otherNode.close();
    }),
  );

  test(
    "rotation issues a successor and keeps the old key for the grace period only",
    backendTest(backend, async ({ db }) => {
      const { tenants, keys, auth } = setup(db);
      const tenant = await tenants.create("acme");
      const old = await keys.create(tenant.id, { env: "live", scopes: ["read"], expiresInSeconds: 3600 });
      const successor = await keys.rotate(old.id, 60);
      assert.notEqual(successor.key, old.key);
      assert.deepEqual(successor.scopes, ["read"]);
      assert.equal(successor.env, "live");
      assert.ok(successor.expires_at !== null && successor.expires_at.getTime() > Date.now() + 3500_000);
      auth.forgetKey(old.id);
      await auth.authenticate(old.key);
      await auth.authenticate(successor.key);
      const [oldInfo] = (await keys.list(tenant.id)).filter((k) => k.id === old.id);
      assert.equal(oldInfo!.rotated_to, successor.id);
      assert.ok(oldInfo!.expires_at!.getTime() <= Date.now() + 61_000);

      await assert.rejects(keys.rotate(old.id, 60), { code: "CONFLICT" }, "a key is rotated once");
      const immediate = await keys.rotate(successor.id, 0);
      auth.forgetKey(successor.id);
      await rejectsAsUnauthenticated(() => auth.authenticate(successor.key), "grace 0 ends the old key now");
      await auth.authenticate(immediate.key);
      await keys.revoke(immediate.id);
      await assert.rejects(keys.rotate(immediate.id, 60), { code: "CONFLICT" }, "a revoked key cannot be rotated back to life");
      await auth.close();
    }),
  );

  test(
    "admin operations on another tenant's key id or an unknown id are NOT_FOUND",
    backendTest(backend, async ({ db }) => {
      const { tenants, keys } = setup(db);
      const a = await tenants.create("a");
      await assert.rejects(keys.revoke("00000000-0000-4000-8000-000000000000"), { code: "NOT_FOUND" });
      await assert.rejects(keys.revoke("not-a-uuid"), { code: "NOT_FOUND" });
      await assert.rejects(keys.create("00000000-0000-4000-8000-000000000000", { env: "live", scopes: [] }), { code: "NOT_FOUND" });
      assert.deepEqual(await keys.list(a.id), []);
    }),
  );

  test(
    "last use is recorded in batches, not per request",
    backendTest(backend, async ({ db }) => {
      const { tenants, keys, auth } = setup(db);
      const tenant = await tenants.create("acme");
      const issued = await keys.create(tenant.id, { env: "live", scopes: [] });
      for (let i = 0; i < 20; i++) await auth.authenticate(issued.key);
      assert.equal((await keys.list(tenant.id))[0]!.last_used_at, null, "not written per request");
      await auth.flushUse();
      assert.ok((await keys.list(tenant.id))[0]!.last_used_at instanceof Date);
      await auth.close();
    }),
  );
});

test("a store outage fails closed with STORE_UNAVAILABLE, not a pass or a 500", async () => {
  const db = await openDatabase({});
  const keys = new ApiKeyStore(db);
  const tenant = await new TenantStore(db).create("acme");
  const issued = await keys.create(tenant.id, { env: "live", scopes: [] });
  const auth = new ApiKeyAuthenticator(keys, { maxStalenessMs: 50 });
  await auth.authenticate(issued.key);
  await db.close();
  await sleep(60);
  await assert.rejects(async () => auth.authenticate(issued.key), { code: "STORE_UNAVAILABLE" });
  await auth.close();
});
