import assert from "node:assert/strict";
import { test } from "node:test";
import { generateApiKey, hashApiKey, parseApiKey } from "../../src/identity/api-keys/format.js";

test("keys carry env, 190 random bits and a checksum a scanner can verify offline", () => {
  const { key, prefix, hash } = generateApiKey("live");
  assert.match(key, /^sk_live_[0-9A-Za-z]{38}$/);
  assert.ok(key.startsWith(prefix));
  assert.equal(prefix.length, "sk_live_".length + 6);
  assert.deepEqual(parseApiKey(key), { env: "live" });
  assert.deepEqual(hash, hashApiKey(key));
  assert.deepEqual(parseApiKey(generateApiKey("test").key), { env: "test" });
});

test("a key is never generated twice and its characters are spread over the alphabet", () => {
  const keys = new Set(Array.from({ length: 2000 }, () => generateApiKey("test").key));
  assert.equal(keys.size, 2000);
  const counts = new Map<string, number>();
  for (const key of keys) for (const c of key.slice(8, 40)) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 62);
  const expected = (2000 * 32) / 62;
  for (const [c, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.25, `character ${c} seen ${n} times`);
});

test("a wrong checksum, a typo, another env or another shape is not a key", () => {
  const { key } = generateApiKey("live");
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "a" ? "b" : "a") + s.slice(i + 1);
  assert.equal(parseApiKey(flip(key, 12)), undefined, "typo in the secret");
  assert.equal(parseApiKey(flip(key, key.length - 1)), undefined, "typo in the checksum");
  assert.equal(parseApiKey(key.replace("sk_live_", "sk_test_")), undefined, "env swapped");
  for (const bad of ["", "sk_live_", key + "x", key.slice(0, -1), key.toUpperCase(), ` ${key}`, key.replace("_", "-"), "sk_prod_" + key.slice(8)]) {
    assert.equal(parseApiKey(bad), undefined, JSON.stringify(bad));
  }
});
