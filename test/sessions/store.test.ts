import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { SessionStore } from "../../src/sessions/index.js";
import { TenantStore } from "../../src/tenants/store.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";

describeEachBackend("session lifetimes and rotation in the store", (backend) => {
  const base = { subject: "u", roles: [], scopes: [], amr: [], authTime: new Date() };

  test(
    "a session unused for its idle time, or past its absolute end, rotates no more",
    backendTest(backend, async ({ db }) => {
      const tenant = await new TenantStore(db).create("t");
      const store = new SessionStore(db);
      const idle = await store.create({ ...base, tenantId: tenant.id, idleSeconds: 0.4, absoluteSeconds: 3600 });
      const absolute = await store.create({ ...base, tenantId: tenant.id, idleSeconds: 3600, absoluteSeconds: 0.4 });
      const kept = await store.create({ ...base, tenantId: tenant.id, idleSeconds: 3600, absoluteSeconds: 3600 });
      assert.equal((await store.rotate(tenant.id, idle.id, 0, undefined, 0.4, 0)).kind, "rotated", "used in time: the idle clock starts again");
      await sleep(600);
      assert.equal((await store.rotate(tenant.id, idle.id, 1, undefined, 0.4, 0)).kind, "invalid");
      assert.equal((await store.rotate(tenant.id, absolute.id, 0, undefined, 3600, 0)).kind, "invalid");
      assert.equal((await store.rotate(tenant.id, kept.id, 0, undefined, 3600, 0)).kind, "rotated");
      assert.deepEqual((await store.list(tenant.id, "u")).map((s) => s.id), [kept.id], "only the live session is listed");
    }),
  );

  test(
    "the idle end never passes the absolute one, and another tenant cannot rotate or revoke a session",
    backendTest(backend, async ({ db }) => {
      const tenants = new TenantStore(db);
      const [a, b] = [await tenants.create("a"), await tenants.create("b")];
      const store = new SessionStore(db);
      const session = await store.create({ ...base, tenantId: a.id, idleSeconds: 3600, absoluteSeconds: 60 });
      assert.ok(session.idle_expires_at.getTime() <= session.absolute_expires_at.getTime());
      assert.equal((await store.rotate(b.id, session.id, 0, undefined, 3600, 0)).kind, "invalid");
      assert.equal(await store.revoke(b.id, session.id, "admin"), false);
      assert.deepEqual(await store.revokeSubject(b.id, "u", "admin"), []);
      assert.equal((await store.rotate(a.id, session.id, 0, undefined, 3600, 0)).kind, "rotated");
    }),
  );
});
