import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test, type TestContext } from "node:test";
import { AwsKmsKeyProvider } from "../../src/vault/providers/aws-kms.js";
import type { KeyProvider } from "../../src/vault/providers/key-provider.js";
import { LocalKeyProvider } from "../../src/vault/providers/local.js";
import { Pkcs11KeyProvider } from "../../src/vault/providers/pkcs11.js";
import { VaultTransitKeyProvider } from "../../src/vault/providers/vault-transit.js";
import { createSoftHsmToken } from "../helpers/softhsm.js";

/**
 * The contract every key provider keeps, run against each one this environment has: local
 * always, PKCS#11 on SoftHSM2 always (CI installs it), AWS KMS and Vault transit when their
 * PORTCULLIS_TEST_* variables name two keys to use.
 */
interface ProviderPair {
  /** Wraps under KEK A. */
  old: KeyProvider;
  /** Wraps under KEK B and still unwraps what A wrapped. */
  rotated: KeyProvider;
}

type Opener = () => Promise<ProviderPair | string>;

const env = process.env;
const providers: Record<string, Opener> = {
  local: async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    return { old: LocalKeyProvider.fromKeys(a), rotated: LocalKeyProvider.fromKeys(b, [a]) };
  },
  pkcs11: async () => {
    const token = await createSoftHsmToken();
    if (typeof token === "string") return token;
    await Pkcs11KeyProvider.generateKey({ ...token, keyLabel: "kek-a" });
    await Pkcs11KeyProvider.generateKey({ ...token, keyLabel: "kek-b" });
    return {
      old: await Pkcs11KeyProvider.open({ ...token, keyLabel: "kek-a" }),
      rotated: await Pkcs11KeyProvider.open({ ...token, keyLabel: "kek-b", previousKeyLabels: ["kek-a"] }),
    };
  },
  "aws-kms": async () => {
    const [a, b] = [env.PORTCULLIS_TEST_AWS_KMS_KEY_ID, env.PORTCULLIS_TEST_AWS_KMS_KEY_ID_2];
    if (!a || !b) return "set PORTCULLIS_TEST_AWS_KMS_KEY_ID and PORTCULLIS_TEST_AWS_KMS_KEY_ID_2 to run against AWS KMS";
    const endpoint = env.PORTCULLIS_TEST_AWS_KMS_ENDPOINT || undefined;
    return {
      old: await AwsKmsKeyProvider.open({ keyId: a, endpoint }),
      rotated: await AwsKmsKeyProvider.open({ keyId: b, previousKeyIds: [a], endpoint }),
    };
  },
  "vault-transit": async () => {
    const [address, token, a, b] = [env.PORTCULLIS_TEST_VAULT_ADDR, env.PORTCULLIS_TEST_VAULT_TOKEN, env.PORTCULLIS_TEST_VAULT_KEY, env.PORTCULLIS_TEST_VAULT_KEY_2];
    if (!address || !token || !a || !b) return "set PORTCULLIS_TEST_VAULT_ADDR, _TOKEN, _KEY and _KEY_2 to run against Vault transit";
    return {
      old: await VaultTransitKeyProvider.open({ address, token, keyName: a }),
      rotated: await VaultTransitKeyProvider.open({ address, token, keyName: b, previousKeyNames: [a] }),
    };
  },
};

for (const [name, open] of Object.entries(providers)) {
  describe(`key provider contract [${name}]`, () => {
    let pair: ProviderPair | string;
    before(async () => {
      pair = await open();
    });
    after(async () => {
      if (typeof pair !== "string") await Promise.all([pair.old.close(), pair.rotated.close()]);
    });
    const withPair = (body: (p: ProviderPair) => Promise<void>) => async (t: TestContext) => {
      if (typeof pair === "string") return void t.skip(pair);
      await body(pair);
    };
    const context = Buffer.from("portcullis-vault/dek/v1|tenant-a|1");

    test(
      "a wrapped key unwraps to the same bytes, and no two wraps look alike",
      withPair(async ({ old }) => {
        const dek = randomBytes(32);
        const first = await old.wrap(dek, context);
        const second = await old.wrap(dek, context);
        assert.equal(first.kekId, old.currentKekId);
        assert.notDeepEqual(first.wrapped, second.wrapped, "a fresh nonce per wrap");
        assert.ok(!first.wrapped.includes(dek), "the key is not in the wrap");
        assert.deepEqual(await old.unwrap(first.wrapped, context, first.kekId), dek);
        await old.health();
      }),
    );

    test(
      "a wrap moved to another context, tampered with or cut short does not unwrap",
      withPair(async ({ old }) => {
        const { kekId, wrapped } = await old.wrap(randomBytes(32), context);
        await assert.rejects(old.unwrap(wrapped, Buffer.from("portcullis-vault/dek/v1|tenant-b|1"), kekId), { code: "SECRET_INTEGRITY" });
        const flipped = Buffer.from(wrapped);
        flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
        await assert.rejects(old.unwrap(flipped, context, kekId), { code: "SECRET_INTEGRITY" });
        await assert.rejects(old.unwrap(wrapped.subarray(0, wrapped.length - 1), context, kekId), { code: "SECRET_INTEGRITY" });
        await assert.rejects(old.unwrap(Buffer.alloc(0), context, kekId), { code: "SECRET_INTEGRITY" });
      }),
    );

    test(
      "a KEK that is not configured is refused, not guessed at",
      withPair(async ({ old, rotated }) => {
        const { wrapped } = await old.wrap(randomBytes(32), context);
        await assert.rejects(old.unwrap(wrapped, context, `${old.currentKekId}-other`), { code: "KEY_PROVIDER_UNAVAILABLE" });
        const fromRotated = await rotated.wrap(randomBytes(32), context);
        await assert.rejects(old.unwrap(fromRotated.wrapped, context, fromRotated.kekId), { code: "KEY_PROVIDER_UNAVAILABLE" });
      }),
    );

    test(
      "after a KEK rotation new wraps use the new KEK and old wraps still unwrap",
      withPair(async ({ old, rotated }) => {
        assert.notEqual(rotated.currentKekId, old.currentKekId);
        const dek = randomBytes(32);
        const before = await old.wrap(dek, context);
        const after = await rotated.wrap(dek, context);
        assert.equal(after.kekId, rotated.currentKekId);
        assert.deepEqual(await rotated.unwrap(before.wrapped, context, before.kekId), dek);
        assert.deepEqual(await rotated.unwrap(after.wrapped, context, after.kekId), dek);
        // A wrap claiming the other KEK's id is checked under that KEK and fails.
        await assert.rejects(rotated.unwrap(after.wrapped, context, before.kekId), { code: "SECRET_INTEGRITY" });
      }),
    );

    test(
      "concurrent wraps and unwraps do not mix each other up",
      withPair(async ({ rotated }) => {
        const deks = Array.from({ length: 40 }, () => randomBytes(32));
        const results = await Promise.all(
          deks.map(async (dek, i) => {
            const own = Buffer.from(`${context.toString()}|${i}`);
            const { kekId, wrapped } = await rotated.wrap(dek, own);
            return rotated.unwrap(wrapped, own, kekId);
          }),
        );
        results.forEach((dek, i) => assert.deepEqual(dek, deks[i]));
      }),
    );
  });
}
