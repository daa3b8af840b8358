import assert from "node:assert/strict";
import { before, describe, test, type TestContext } from "node:test";
import pkcs11js from "pkcs11js";
import { TenantStore } from "../../src/tenants/store.js";
import { Pkcs11KeyProvider } from "../../src/vault/providers/pkcs11.js";
import { Vault } from "../../src/vault/vault.js";
import { backendTest, describeEachBackend } from "../helpers/backends.js";
import { createSoftHsmToken, type SoftHsmToken } from "../helpers/softhsm.js";

let token: SoftHsmToken | string;
before(async () => {
  token = await createSoftHsmToken();
  if (typeof token === "string") return;
  await Pkcs11KeyProvider.generateKey({ ...token, keyLabel: "kek-1" });
  await Pkcs11KeyProvider.generateKey({ ...token, keyLabel: "kek-2" });
  await withRawSession(token, (p11, session) => {
    const aes = (label: string, extractable: boolean, sensitive: boolean) =>
      p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: sensitive },
        { type: pkcs11js.CKA_EXTRACTABLE, value: extractable },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
      ]);
    aes("extractable", true, true);
    aes("not-sensitive", false, false);
    aes("twin", false, true);
    aes("twin", false, true);
  });
});

/** The token as an attacker with the PIN would see it, through PKCS#11 itself. */
function withRawSession(t: SoftHsmToken, work: (p11: pkcs11js.PKCS11, session: pkcs11js.Handle) => void): void {
  const p11 = new pkcs11js.PKCS11();
  p11.load(t.library);
  p11.C_Initialize();
  try {
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === t.tokenLabel)!;
    const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    p11.C_Login(session, pkcs11js.CKU_USER, t.pin);
    work(p11, session);
    p11.C_CloseSession(session);
  } finally {
    p11.C_Finalize();
  }
}

const withToken = (body: (t: SoftHsmToken) => Promise<void>) => async (ctx: TestContext) => {
  if (typeof token === "string") return void ctx.skip(token);
  await body(token);
};

describe("pkcs11 key provider on SoftHSM2", () => {
  test(
    "a wrong PIN is a clear KEY_PROVIDER_AUTH_FAILED that never repeats the PIN",
    withToken(async (t) => {
      const wrongPin = "987654321";
      const error = await Pkcs11KeyProvider.open({ ...t, pin: wrongPin, keyLabel: "kek-1" }).catch((e: unknown) => e);
      assert.equal((error as { code?: string }).code, "KEY_PROVIDER_AUTH_FAILED");
      assert.ok(!JSON.stringify({ ...(error as object), message: (error as Error).message }).includes(wrongPin));
    }),
  );

  test(
    "a KEK that could leave the HSM, a missing label or an ambiguous one is refused",
    withToken(async (t) => {
      for (const [keyLabel, pattern] of [
        ["extractable", /can leave the HSM/],
        ["not-sensitive", /can leave the HSM/],
        ["absent", /no key labelled absent/],
        ["twin", /more than one key/],
      ] as const) {
        await assert.rejects(Pkcs11KeyProvider.open({ ...t, keyLabel }), (e: { code?: string; detail?: string }) => {
          assert.equal(e.code, "KEY_PROVIDER_UNAVAILABLE");
          assert.match(e.detail ?? "", pattern);
          return true;
        });
      }
      await assert.rejects(Pkcs11KeyProvider.open({ ...t, tokenLabel: "no-such-token", keyLabel: "kek-1" }), { code: "KEY_PROVIDER_UNAVAILABLE" });
      await assert.rejects(Pkcs11KeyProvider.generateKey({ ...t, keyLabel: "kek-1" }), /already holds a key labelled kek-1/);
    }),
  );

  test(
    "the KEK's bytes cannot be read out of the token, even with the PIN",
    withToken(async (t) => {
      withRawSession(t, (p11, session) => {
        p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: "kek-1" }]);
        const [key] = p11.C_FindObjects(session, 1);
        p11.C_FindObjectsFinal(session);
        assert.throws(() => p11.C_GetAttributeValue(session, key!, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      });
    }),
  );

  test(
    "a session the HSM drops is replaced on the next call, with its key found again",
    withToken(async (t) => {
      const provider = await Pkcs11KeyProvider.open({ ...t, keyLabel: "kek-1" });
      const context = Buffer.from("ctx");
      const { kekId, wrapped } = await provider.wrap(Buffer.alloc(32, 1), context);
      // As if the HSM restarted under us: every session on the token goes, and with them the login.
      const p11 = new pkcs11js.PKCS11();
      p11.load(t.library);
      try {
        p11.C_Initialize();
      } catch {
        // Cryptoki is per process and already up for the provider.
      }
      p11.C_CloseAllSessions(p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === t.tokenLabel)!);
      assert.deepEqual(await provider.unwrap(wrapped, context, kekId), Buffer.alloc(32, 1));
      const again = await provider.wrap(Buffer.alloc(32, 2), context);
      assert.deepEqual(await provider.unwrap(again.wrapped, context, again.kekId), Buffer.alloc(32, 2));
      await assert.rejects(provider.unwrap(wrapped, Buffer.from("other"), kekId), { code: "SECRET_INTEGRITY" }, "bad data is still bad data");
      await provider.close();
    }),
  );

  test(
    "a closed provider refuses work instead of using a dead session",
    withToken(async (t) => {
      const provider = await Pkcs11KeyProvider.open({ ...t, keyLabel: "kek-1" });
      await provider.close();
      await assert.rejects(provider.wrap(Buffer.alloc(32), Buffer.from("c")), { code: "KEY_PROVIDER_UNAVAILABLE" });
      await provider.close();
    }),
  );
});

describeEachBackend("vault on a PKCS#11 KEK", (backend) => {
  test(
    "secrets round-trip, then a KEK rotation rewraps only the data keys, tenant by tenant",
    backendTest(backend, async ({ db }, ctx) => {
      if (typeof token === "string") return void ctx.skip(token);
      const first = await Pkcs11KeyProvider.open({ ...token, keyLabel: "kek-1" });
      const tenants = new TenantStore(db);
      const [a, b] = [(await tenants.create("a")).id, (await tenants.create("b")).id];
      const before = new Vault(db, first);
      await before.put(a, "stripe", "sk_live_a");
      await before.rotate(a);
      await before.put(a, "github", "ghp_a");
      await before.put(b, "stripe", "sk_live_b");
      const secretsBefore = await Promise.all([before.list(a), before.list(b)]);
      before.close();
      await first.close();

      const second = await Pkcs11KeyProvider.open({ ...token, keyLabel: "kek-2", previousKeyLabels: ["kek-1"] });
      const after = new Vault(db, second);
      const usage = await after.kekUsage();
      assert.deepEqual(usage.find((u) => u.kek_id === first.currentKekId)?.keys, 3);
      assert.equal(usage.find((u) => u.kek_id === second.currentKekId), undefined);

      assert.deepEqual(await after.rewrapKeks(), { tenants: 2, keys: 3 });
      assert.deepEqual(await after.rewrapKeks(), { tenants: 0, keys: 0 }, "a second run finds nothing left");
      assert.deepEqual(
        (await after.kekUsage()).filter((u) => u.provider === "pkcs11").map((u) => [u.kek_id, u.keys, u.current]),
        [[second.currentKekId, 3, true]],
      );
      assert.deepEqual(await Promise.all([after.list(a), after.list(b)]), secretsBefore, "no secret was touched");
      after.close();
      await second.close();

      // Without the old KEK configured, everything still opens: it is no longer needed.
      const onlyNew = await Pkcs11KeyProvider.open({ ...token, keyLabel: "kek-2" });
      const fresh = new Vault(db, onlyNew);
      assert.equal(await fresh.getString(a, "stripe"), "sk_live_a");
      assert.equal(await fresh.getString(a, "github"), "ghp_a");
      assert.equal(await fresh.getString(b, "stripe"), "sk_live_b");
      fresh.close();
      await onlyNew.close();
    }),
  );
});
