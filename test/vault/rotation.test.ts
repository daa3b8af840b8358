import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Database } from "../../src/store/index.js";
import { TenantStore } from "../../src/tenants/store.js";
import { LocalKeyProvider } from "../../src/vault/providers/local.js";
import { Vault } from "../../src/vault/vault.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";
import { CountingProvider } from "../helpers/counting-provider.js";

describeEachBackend("vault key rotation", (backend) => {
  const kek = randomBytes(32);
  const newVault = (db: Database, options = {}) => new Vault(db, LocalKeyProvider.fromKeys(kek), options);
  async function tenantWithSecrets(db: Database, vault: Vault, count: number) {
    const tenant = (await new TenantStore(db).create("t")).id;
    for (let i = 0; i < count; i++) await vault.put(tenant, `s${String(i).padStart(3, "0")}`, `value-${i}`);
    return tenant;
  }
  async function readAll(vault: Vault, tenant: string, count: number) {
    for (let i = 0; i < count; i++) assert.equal(await vault.getString(tenant, `s${String(i).padStart(3, "0")}`), `value-${i}`);
  }

  test(
    "rotate, then a live rewrap while reads and writes go on, then retire the old key",
    backendTest(backend, async ({ db }) => {
      const vault = newVault(db);
      const tenant = await tenantWithSecrets(db, vault, 25);
      assert.equal(await vault.rotate(tenant), 2);
      assert.equal((await vault.put(tenant, "new-after-rotate", "n")).dek_version, 2);
      await assert.rejects(vault.retire(tenant, 2), { code: "CONFLICT" }, "retiring before the rewrap would lose secrets");
      await assert.rejects(vault.retire(tenant, 3), { code: "CONFLICT" }, "the newest key is never retired, or the next write would seal under it");

      const traffic = Promise.all([
        ...Array.from({ length: 10 }, (_, i) => vault.put(tenant, `during-${i}`, `d${i}`)),
        ...Array.from({ length: 25 }, (_, i) => vault.getString(tenant, `s${String(i).padStart(3, "0")}`)),
      ]);
      const [rewrapped, results] = await Promise.all([vault.rewrap(tenant, { batchSize: 4 }), traffic]);
      assert.equal(rewrapped, 25);
      assert.deepEqual(results.slice(10), Array.from({ length: 25 }, (_, i) => `value-${i}`));

      const status = await vault.status(tenant);
      assert.deepEqual(status.map((d) => [d.version, d.secrets]), [[1, 0], [2, 36]]);
      assert.equal(await vault.retire(tenant, 2), 1);
      assert.equal((await vault.status(tenant))[0]!.destroyed, true);
      const fresh = newVault(db);
      await readAll(fresh, tenant, 25);
      assert.equal(await fresh.getString(tenant, "during-3"), "d3");
      vault.close();
      fresh.close();
    }),
  );

  test(
    "a rewrap that dies half-way leaves every secret readable and resumes where it stopped",
    backendTest(backend, async ({ db }) => {
      const vault = newVault(db);
      const tenant = await tenantWithSecrets(db, vault, 10);
      await vault.rotate(tenant);
      const crash = new Error("process killed");
      await assert.rejects(
        vault.rewrap(tenant, {
          batchSize: 3,
          onProgress: (done) => {
            if (done >= 3) throw crash;
          },
        }),
        (e) => e === crash,
      );
      const midway = await vault.status(tenant);
      assert.deepEqual(midway.map((d) => d.secrets), [7, 3]);
      await readAll(newVault(db), tenant, 10);
      assert.equal(await vault.rewrap(tenant, { batchSize: 3 }), 7, "the rerun does only what is left");
      assert.deepEqual((await vault.status(tenant)).map((d) => d.secrets), [0, 10]);
      await readAll(newVault(db), tenant, 10);
      vault.close();
    }),
  );

  test(
    "a key created in a transaction that rolls back is never used afterwards",
    backendTest(backend, async ({ db }) => {
      const vault = newVault(db);
      const tenant = (await new TenantStore(db).create("t")).id;
      // Make the first write fail after its transaction created DEK 1.
      await db.asOwner(async (q) => {
        await q.query(`create function poison() returns trigger language plpgsql as $$
          begin if new.name = 'poison' then raise exception 'injected failure'; end if; return new; end $$`);
        await q.query("create trigger poison before insert on vault_secrets for each row execute function poison()");
      });
      try {
        await assert.rejects(vault.put(tenant, "poison", "x"));
        assert.deepEqual(await vault.status(tenant), [], "the DEK went with the transaction");
        await vault.put(tenant, "ok", "kept");
        assert.equal(await newVault(db).getString(tenant, "ok"), "kept", "sealed under the key that was stored");
      } finally {
        await db.asOwner(async (q) => {
          await q.query("drop trigger poison on vault_secrets");
          await q.query("drop function poison()");
        });
      }
      vault.close();
    }),
  );

  test(
    "after a shred, versions continue upward: a node still holding an old key cannot seal with it",
    backendTest(backend, async ({ db }) => {
      const nodeA = newVault(db);
      const nodeB = newVault(db);
      const tenant = (await new TenantStore(db).create("t")).id;
      await nodeA.put(tenant, "old", "o");
      assert.equal(await nodeB.getString(tenant, "old"), "o", "node B now caches DEK 1");
      await nodeA.shred(tenant);
      const written = await nodeB.put(tenant, "after-shred", "fresh");
      assert.equal(written.dek_version, 2);
      assert.equal(await newVault(db).getString(tenant, "after-shred"), "fresh");
      await assert.rejects(newVault(db).get(tenant, "old"), { code: "KEY_DESTROYED" });
      assert.equal(await nodeA.rewrap(tenant), 0, "destroyed secrets are left behind, not retried forever");
      nodeA.close();
      nodeB.close();
    }),
  );
});

describeEachBackend("vault KEK rotation", (backend) => {
  const [oldKek, newKek] = [randomBytes(32), randomBytes(32)];

  test(
    "a KEK rewrap that dies half-way leaves every key usable and whole, goes on beside traffic, and resumes",
    backendTest(backend, async ({ db }) => {
      const before = new Vault(db, LocalKeyProvider.fromKeys(oldKek));
      const tenants = new TenantStore(db);
      const ids: string[] = [];
      for (let t = 0; t < 4; t++) {
        const id = (await tenants.create(`t${t}`)).id;
        ids.push(id);
        for (let i = 0; i < 3; i++) await before.put(id, `s${i}`, `${t}-${i}`);
        await before.rotate(id);
      }
      before.close();

      const rotatedProvider = new CountingProvider(LocalKeyProvider.fromKeys(newKek, [oldKek]));
      const rotated = new Vault(db, rotatedProvider);
      // Two tenants of two keys each get through, then the provider drops during the third.
      rotatedProvider.wrapsUntilDown = 5;
      await assert.rejects(rotated.rewrapKeks(), { code: "KEY_PROVIDER_UNAVAILABLE" });
      rotatedProvider.down = false;
      rotatedProvider.wrapsUntilDown = Infinity;
      const midway = await rotated.kekUsage();
      assert.deepEqual(
        midway.map((u) => [u.kek_id === rotated.currentKekId, u.keys]).sort(),
        [
          [false, 4],
          [true, 4],
        ],
        "whole tenants moved; the failed tenant's transaction left its keys as they were",
      );
      const readAllTenants = () => Promise.all(ids.flatMap((id, t) => [0, 1, 2].map(async (i) => assert.equal(await rotated.getString(id, `s${i}`), `${t}-${i}`))));
      await readAllTenants();

      const traffic = Promise.all(ids.map((id, t) => rotated.put(id, "during", `d${t}`)));
      const [rerun] = await Promise.all([rotated.rewrapKeks(), traffic, readAllTenants()]);
      assert.deepEqual(rerun, { tenants: 2, keys: 4 }, "the rerun does only what is left");
      assert.deepEqual(
        (await rotated.kekUsage()).map((u) => [u.current, u.keys]),
        [[true, 8]],
      );
      rotated.close();

      const onlyNew = new Vault(db, LocalKeyProvider.fromKeys(newKek));
      for (const [t, id] of ids.entries()) {
        assert.equal(await onlyNew.getString(id, "s2"), `${t}-2`);
        assert.equal(await onlyNew.getString(id, "during"), `d${t}`);
      }
      onlyNew.close();
    }),
  );
});
