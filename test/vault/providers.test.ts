import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DekCache } from "../../src/vault/dek-cache.js";
import { LocalKeyProvider } from "../../src/vault/providers/local.js";

test("the local provider is refused in production and checks its key", async () => {
  await assert.rejects(LocalKeyProvider.load({ production: true }), /refused in production/);
  await assert.rejects(LocalKeyProvider.load({ production: false, fromEnv: Buffer.alloc(16).toString("base64") }), /exactly 32 bytes/);
  const fromEnv = await LocalKeyProvider.load({ production: false, fromEnv: randomBytes(32).toString("base64") });
  assert.equal(fromEnv.insecure, true);
});

test("a generated development KEK is stored with mode 0600 and reused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-kek-"));
  const first = await LocalKeyProvider.load({ production: false, dataDir: dir, fromEnv: "" });
  assert.equal((await stat(join(dir, "kek.key"))).mode & 0o777, 0o600);
  const second = await LocalKeyProvider.load({ production: false, dataDir: dir, fromEnv: "" });
  const context = Buffer.from("ctx");
  const { kekId, wrapped } = await first.wrap(Buffer.alloc(32, 7), context);
  assert.deepEqual(await second.unwrap(wrapped, context, kekId), Buffer.alloc(32, 7));
});

test("a wrap is bound to its context", async () => {
  const provider = LocalKeyProvider.fromKeys(randomBytes(32));
  const { kekId, wrapped } = await provider.wrap(randomBytes(32), Buffer.from("tenant-a"));
  await assert.rejects(provider.unwrap(wrapped, Buffer.from("tenant-b"), kekId), { code: "SECRET_INTEGRITY" });
  await assert.rejects(provider.unwrap(wrapped.subarray(1), Buffer.from("tenant-a"), kekId), { code: "SECRET_INTEGRITY" });
});

test("keys leaving the DEK cache are zeroed: on eviction, on use limit, on close", () => {
  const cache = new DekCache({ ttlMs: 60_000, maxUses: 2, maxEntries: 2 });
  const k1 = Buffer.alloc(32, 1);
  const k2 = Buffer.alloc(32, 2);
  const k3 = Buffer.alloc(32, 3);
  cache.adopt("a", k1);
  cache.adopt("b", k2);
  cache.adopt("c", k3);
  assert.ok(k1.every((b) => b === 0), "evicted at capacity");
  assert.ok(cache.use("b", () => true));
  assert.ok(cache.use("b", () => true));
  assert.equal(cache.use("b", () => true), undefined);
  assert.ok(k2.every((b) => b === 0), "used up");
  const duplicate = Buffer.alloc(32, 9);
  cache.adopt("c", duplicate);
  assert.ok(duplicate.every((b) => b === 0), "a losing concurrent unwrap is zeroed, the live key kept");
  assert.deepEqual(cache.use("c", (dek) => dek.key[0]), { result: 3 }, "the live key is the one kept");
  cache.close();
  assert.ok(k3.every((b) => b === 0), "closed");
});
