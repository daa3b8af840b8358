import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { IdempotencyStore, type ClaimResult } from "../../src/idempotency/index.js";
import { openDatabase } from "../../src/store/index.js";
import { TenantStore } from "../../src/tenants/store.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";

const hash = (s: string) => createHash("sha256").update(s).digest();
const response = { status: 201, headers: { "content-type": "application/json" }, body: Buffer.from('{"id":1}'), bodyComplete: true };

describeEachBackend("idempotency records", (backend) => {
  const request = (tenantId: string, scope: string, fingerprint = "f1", leaseSeconds = 60, retentionSeconds = 3600) => ({
    tenantId,
    scope: hash(scope),
    fingerprint: hash(fingerprint),
    leaseSeconds,
    retentionSeconds,
  });

  test(
    "of 25 concurrent claims of one key exactly one wins; the rest see it in progress",
    backendTest(backend, async ({ db }) => {
      const tenant = await new TenantStore(db).create("t");
      const store = new IdempotencyStore(db);
      const results = await Promise.all(Array.from({ length: 25 }, () => store.claim(request(tenant.id, "race"))));
      assert.equal(results.filter((r) => r.kind === "claimed").length, 1);
      assert.equal(results.filter((r) => r.kind === "in_progress").length, 24);
    }),
  );

  test(
    "a done record replays for the same payload and refuses another; the claim that lost its key cannot overwrite it",
    backendTest(backend, async ({ db }) => {
      const tenant = await new TenantStore(db).create("t");
      const store = new IdempotencyStore(db);
      const first = await store.claim(request(tenant.id, "k"));
      assert.equal(first.kind, "claimed");
      const claim = (first as Extract<ClaimResult, { kind: "claimed" }>).claim;
      assert.equal(await store.complete(claim, response), true);
      const again = await store.claim(request(tenant.id, "k"));
      assert.equal(again.kind, "replay");
      const replay = (again as Extract<ClaimResult, { kind: "replay" }>).response;
      assert.equal(replay.status, 201);
      assert.deepEqual(replay.headers, { "content-type": "application/json" });
      assert.equal(replay.body.toString(), '{"id":1}');
      assert.equal((await store.claim(request(tenant.id, "k", "f2"))).kind, "mismatch");
      assert.equal(await store.complete(claim, { ...response, status: 500 }), false, "a second completion changes nothing");
      assert.equal(await store.renew(claim, 60), false);
    }),
  );

  test(
    "a released key can be claimed again at once; an in-flight one with another payload is a mismatch",
    backendTest(backend, async ({ db }) => {
      const tenant = await new TenantStore(db).create("t");
      const store = new IdempotencyStore(db);
      const first = (await store.claim(request(tenant.id, "k"))) as Extract<ClaimResult, { kind: "claimed" }>;
      assert.equal((await store.claim(request(tenant.id, "k", "other"))).kind, "mismatch");
      await store.release(first.claim);
      assert.equal((await store.claim(request(tenant.id, "k"))).kind, "claimed");
    }),
  );

  test(
    "a lease that runs out is taken over (its node died); one that is renewed is not",
    backendTest(backend, async ({ db }) => {
      const tenant = await new TenantStore(db).create("t");
      const store = new IdempotencyStore(db);
      const dead = await store.claim(request(tenant.id, "dead", "f1", 0.3));
      const alive = (await store.claim(request(tenant.id, "alive", "f1", 0.3))) as Extract<ClaimResult, { kind: "claimed" }>;
      assert.equal(dead.kind, "claimed");
      const inProgress = await store.claim(request(tenant.id, "dead", "f1", 0.3));
      assert.equal(inProgress.kind, "in_progress");
      assert.ok((inProgress as { retryAfterSeconds: number }).retryAfterSeconds >= 1);
      await store.renew(alive.claim, 60);
      await sleep(500);
      assert.equal((await store.claim(request(tenant.id, "dead", "f1", 60))).kind, "claimed", "taken over");
      assert.equal((await store.claim(request(tenant.id, "dead", "f1", 60))).kind, "in_progress");
      assert.equal((await store.claim(request(tenant.id, "alive", "f1", 60))).kind, "in_progress", "renewed: still held");
      // The node that lost its claim cannot store an answer over the new holder's.
      assert.equal(await store.complete((dead as Extract<ClaimResult, { kind: "claimed" }>).claim, response), false);
    }),
  );

  test(
    "an expired record is forgotten: the key starts afresh, and the sweep deletes it",
    backendTest(backend, async ({ db }) => {
      const tenant = await new TenantStore(db).create("t");
      const store = new IdempotencyStore(db);
      const first = (await store.claim(request(tenant.id, "old", "f1", 60, 0.3))) as Extract<ClaimResult, { kind: "claimed" }>;
      await store.complete(first.claim, response);
      const other = (await store.claim(request(tenant.id, "swept", "f1", 60, 0.3))) as Extract<ClaimResult, { kind: "claimed" }>;
      await store.complete(other.claim, response);
      await sleep(500);
      assert.equal((await store.claim(request(tenant.id, "old", "f2"))).kind, "claimed", "a new payload is a new request once expired");
      assert.ok((await store.sweep()) >= 1);
      assert.equal((await store.claim(request(tenant.id, "swept", "f2"))).kind, "claimed");
    }),
  );

  test(
    "one tenant's key never reaches another's record, and the app role sees no other tenant's rows",
    backendTest(backend, async ({ db }) => {
      const tenants = new TenantStore(db);
      const [a, b] = [await tenants.create("a"), await tenants.create("b")];
      const store = new IdempotencyStore(db);
      const claimA = (await store.claim(request(a.id, "shared"))) as Extract<ClaimResult, { kind: "claimed" }>;
      await store.complete(claimA.claim, response);
      assert.equal((await store.claim(request(b.id, "shared", "other"))).kind, "claimed");
      const visible = await db.withTenant(b.id, (q) => q.query<{ tenant_id: string }>("select tenant_id from idempotency_records"));
      assert.deepEqual(new Set(visible.map((r) => r.tenant_id)), new Set([b.id]));
      await assert.rejects(db.withTenant(b.id, (q) => q.query("insert into idempotency_records (tenant_id, scope_hash, fingerprint, state, status, expires_at) values ($1, $2, $2, 'done', 200, now())", [a.id, hash("x")])));
    }),
  );

  test(
    "two nodes on one Postgres: concurrent claims from both, one winner",
    backendTest(backend, async ({ db, url }, t) => {
      if (url === undefined) return void t.skip("a second node needs a Postgres server");
      const other = await openDatabase({ databaseUrl: url });
      try {
        const tenant = await new TenantStore(db).create("t");
        const stores = [new IdempotencyStore(db), new IdempotencyStore(other)];
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 2]!.claim(request(tenant.id, "two-nodes"))));
        assert.equal(results.filter((r) => r.kind === "claimed").length, 1);
      } finally {
        await other.close();
      }
    }),
  );
});
