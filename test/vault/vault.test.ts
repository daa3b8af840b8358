import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Database } from "../../src/store/index.js";
import { TenantStore } from "../../src/tenants/store.js";
import { LocalKeyProvider } from "../../src/vault/providers/local.js";
import { Vault } from "../../src/vault/vault.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";
import { CountingProvider } from "../helpers/counting-provider.js";

describeEachBackend("vault", (backend) => {
  const kek = randomBytes(32);
  async function setup(db: Database, options: ConstructorParameters<typeof Vault>[2] = {}) {
    const provider = new CountingProvider(LocalKeyProvider.fromKeys(kek));
    const tenants = new TenantStore(db);
    const a = (await tenants.create("a")).id;
    const b = (await tenants.create("b")).id;
    return { vault: new Vault(db, provider, options), provider, a, b };
  }

  test(
    "secrets round-trip as strings and bytes; list, overwrite and delete work",
    backendTest(backend, async ({ db }) => {
      const { vault, a } = await setup(db);
      await vault.put(a, "stripe/api-key", "sk_live_very_secret");
      const bytes = randomBytes(300);
      await vault.put(a, "blob", bytes, "oauth.refresh");
      assert.equal(await vault.getString(a, "stripe/api-key"), "sk_live_very_secret");
      assert.deepEqual(await vault.get(a, "blob"), bytes);
      await vault.put(a, "stripe/api-key", "rotated");
      assert.equal(await vault.getString(a, "stripe/api-key"), "rotated");
      assert.deepEqual((await vault.list(a)).map((s) => [s.name, s.purpose]), [["blob", "oauth.refresh"], ["stripe/api-key", "secret"]]);
      assert.equal(await vault.delete(a, "blob"), true);
      assert.equal(await vault.delete(a, "blob"), false);
      await assert.rejects(vault.get(a, "blob"), { code: "NOT_FOUND" });
      vault.close();
    }),
  );

  test(
    "a dump of the database holds neither plaintext nor a usable key",
    backendTest(backend, async ({ db }) => {
      const { vault, a } = await setup(db);
      const secret = `needle-${randomBytes(8).toString("hex")}`;
      await vault.put(a, "s", secret);
      const dump = await db.asOwner(async (q) => JSON.stringify([await q.query("select * from vault_secrets"), await q.query("select * from vault_deks")]));
      assert.ok(!dump.includes(secret));
      assert.ok(!dump.includes(Buffer.from(secret).toString("hex")));
      assert.ok(!dump.includes(kek.toString("hex")) && !dump.includes(kek.toString("base64")));
      vault.close();
    }),
  );

  test(
    "a ciphertext moved to another tenant, name or purpose fails to decrypt",
    backendTest(backend, async ({ db }) => {
      const { vault, a, b } = await setup(db);
      await vault.put(a, "token", "tenant-a-secret");
      await vault.put(b, "token", "tenant-b-secret");
      await vault.put(a, "other", "x");
      // An attacker with write access to the database copies A's envelope over B's and over another name.
      await db.asOwner(async (q) => {
        await q.query(
          "update vault_secrets set envelope = (select envelope from vault_secrets where tenant_id = $1 and name = 'token') where tenant_id = $2 and name = 'token'",
          [a, b],
        );
        await q.query(
          "update vault_secrets set envelope = (select envelope from vault_secrets where tenant_id = $1 and name = 'token') where tenant_id = $1 and name = 'other'",
          [a],
        );
      });
      await assert.rejects(vault.get(b, "token"), (e: { code?: string; message: string }) => e.code === "SECRET_INTEGRITY" || e.code === "KEY_DESTROYED");
      await assert.rejects(vault.get(a, "other"), { code: "SECRET_INTEGRITY" });
      await db.asOwner((q) => q.query("update vault_secrets set purpose = 'changed' where tenant_id = $1 and name = 'token'", [a]));
      await assert.rejects(vault.get(a, "token"), { code: "SECRET_INTEGRITY" });
      vault.close();
    }),
  );

  test(
    "a wrapped DEK swapped into another tenant's row fails to unwrap",
    backendTest(backend, async ({ db }) => {
      const { a, b } = await setup(db);
      const writer = new Vault(db, LocalKeyProvider.fromKeys(kek));
      await writer.put(a, "s", "a");
      await writer.put(b, "s", "b");
      writer.close();
      await db.asOwner((q) =>
        q.query("update vault_deks set wrapped = (select wrapped from vault_deks where tenant_id = $1 and version = 1) where tenant_id = $2", [a, b]),
      );
      const reader = new Vault(db, LocalKeyProvider.fromKeys(kek));
      await assert.rejects(reader.get(b, "s"), { code: "SECRET_INTEGRITY" });
      assert.equal(await reader.getString(a, "s"), "a");
      reader.close();
    }),
  );

  test(
    "a change to any part of an envelope is caught, and never yields plaintext",
    backendTest(backend, async ({ db }) => {
      const { vault, a } = await setup(db);
      await vault.put(a, "s", "attack at dawn");
      const [{ envelope }] = await db.asOwner((q) => q.query<{ envelope: Uint8Array }>("select envelope from vault_secrets where tenant_id = $1", [a])) as [
        { envelope: Uint8Array },
      ];
      const original = Buffer.from(envelope);
      // version byte, DEK version, nonce, commitment, ciphertext, tag; and truncation.
      const variants = [0, 4, 10, 20, 35, original.length - 1].map((i) => {
        const copy = Buffer.from(original);
        copy[i] = copy[i]! ^ 0x01;
        return copy;
      });
      variants.push(original.subarray(0, 40), Buffer.alloc(0));
      for (const variant of variants) {
        await db.asOwner((q) => q.query("update vault_secrets set envelope = $2 where tenant_id = $1", [a, variant]));
        await assert.rejects(vault.get(a, "s"), (e: { code?: string }) => ["SECRET_INTEGRITY", "KEY_DESTROYED"].includes(e.code ?? ""), `variant ${variant.length}`);
      }
      vault.close();
    }),
  );

  test(
    "tenants cannot reach each other's secrets",
    backendTest(backend, async ({ db }) => {
      const { vault, a, b } = await setup(db);
      await vault.put(a, "only-a", "x");
      await assert.rejects(vault.get(b, "only-a"), { code: "NOT_FOUND" });
      assert.deepEqual(await vault.list(b), []);
      assert.equal(await vault.delete(b, "only-a"), false);
      const visible = await db.withTenant(b, async (q) => [...(await q.query("select * from vault_secrets")), ...(await q.query("select * from vault_deks"))]);
      assert.deepEqual(visible, []);
      assert.equal(await vault.getString(a, "only-a"), "x");
      vault.close();
    }),
  );

  test(
    "crypto-shredding makes every secret of the tenant unrecoverable at once",
    backendTest(backend, async ({ db }) => {
      const { vault, a, b } = await setup(db);
      await vault.put(a, "one", "1");
      await vault.put(a, "two", "2");
      await vault.put(b, "one", "b1");
      assert.equal(await vault.shred(a), 1);
      await assert.rejects(vault.get(a, "one"), { code: "KEY_DESTROYED" });
      await assert.rejects(new Vault(db, LocalKeyProvider.fromKeys(kek)).get(a, "two"), { code: "KEY_DESTROYED" });
      assert.equal(await vault.getString(b, "one"), "b1", "other tenants are untouched");
      await vault.put(a, "fresh", "new");
      assert.equal(await vault.getString(a, "fresh"), "new");
      vault.close();
    }),
  );

  test(
    "the provider is not called per request; the use limit forces a fresh unwrap",
    backendTest(backend, async ({ db }) => {
      const { vault, provider, a } = await setup(db);
      await vault.put(a, "s", "v");
      const reader = new Vault(db, provider, { dekCacheMaxUses: 5 });
      provider.unwraps = 0;
      for (let i = 0; i < 20; i++) await reader.get(a, "s");
      assert.equal(provider.unwraps, 4, "one unwrap per 5 uses");
      provider.unwraps = 0;
      for (let i = 0; i < 20; i++) await vault.get(a, "s");
      assert.equal(provider.unwraps, 0, "the writer's cached key serves reads");
      vault.close();
      reader.close();
    }),
  );

  test(
    "many concurrent reads on a cold cache all succeed",
    backendTest(backend, async ({ db }) => {
      const { vault, a } = await setup(db);
      await vault.put(a, "s", "v");
      vault.close();
      const cold = new Vault(db, LocalKeyProvider.fromKeys(kek), { dekCacheMaxUses: 3 });
      const values = await Promise.all(Array.from({ length: 30 }, () => cold.getString(a, "s")));
      assert.ok(values.every((v) => v === "v"));
      cold.close();
    }),
  );

  test(
    "a DEK is replaced after its encryption budget; older secrets stay readable",
    backendTest(backend, async ({ db }) => {
      const { vault, a } = await setup(db, { maxEncryptionsPerDek: 2 });
      await vault.put(a, "s1", "1");
      await vault.put(a, "s2", "2");
      const third = await vault.put(a, "s3", "3");
      assert.equal(third.dek_version, 2);
      assert.deepEqual(await Promise.all(["s1", "s2", "s3"].map((n) => vault.getString(a, n))), ["1", "2", "3"]);
      vault.close();
    }),
  );

  test(
    "an unavailable provider or a wrong KEK is a clear error that leaks nothing, and writes nothing",
    backendTest(backend, async ({ db }) => {
      const { vault, provider, a, b } = await setup(db);
      await vault.put(a, "s", "v");
      const cold = new Vault(db, provider);
      provider.down = true;
      await assert.rejects(cold.get(a, "s"), (e: Error & { code?: string }) => {
        assert.equal(e.code, "KEY_PROVIDER_UNAVAILABLE");
        assert.ok(!JSON.stringify({ ...e, message: e.message }).includes("kms.internal"));
        return true;
      });
      await assert.rejects(cold.put(b, "new", "v"), { code: "KEY_PROVIDER_UNAVAILABLE" });
      assert.deepEqual(await vault.list(b), [], "nothing half-written");
      provider.down = false;
      const wrongKek = new Vault(db, LocalKeyProvider.fromKeys(randomBytes(32)));
      await assert.rejects(wrongKek.get(a, "s"), { code: "KEY_PROVIDER_UNAVAILABLE" });
      vault.close();
      cold.close();
      wrongKek.close();
    }),
  );

  test(
    "bad names, bad purposes and unknown tenants are refused",
    backendTest(backend, async ({ db }) => {
      const { vault, a } = await setup(db);
      // Names are keys in a table, not paths: "../x" is an ordinary name. What they exclude is
      // what would make them ambiguous in logs and URLs.
      for (const name of ["", "a b", "x".repeat(201), "naïve", "a\u0000b", "a?b", "a%2fb"]) {
        await assert.rejects(vault.put(a, name, "v"), { code: "BAD_REQUEST" }, JSON.stringify(name));
      }
      await assert.rejects(vault.put(a, "ok", "v", "Bad Purpose"), { code: "BAD_REQUEST" });
      await assert.rejects(vault.put("00000000-0000-4000-8000-000000000000", "ok", "v"), { code: "NOT_FOUND" });
      vault.close();
    }),
  );
});
