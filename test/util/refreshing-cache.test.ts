import assert from "node:assert/strict";
import { test } from "node:test";
import { RefreshingCache } from "../../src/util/refreshing-cache.js";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test("fresh entries are served, stale ones refreshed in the background, expired ones awaited", async () => {
  const time = clock();
  let loads = 0;
  const cache = new RefreshingCache(async (k) => `${k}:${++loads}`, { freshMs: 100, maxAgeMs: 200, maxEntries: 10, now: time.now });
  assert.equal(await cache.get("a"), "a:1");
  time.advance(50);
  assert.equal(cache.get("a"), "a:1", "fresh: served synchronously, no load");
  time.advance(100);
  assert.equal(cache.get("a"), "a:1", "stale: the old value while a refresh runs");
  await new Promise((r) => setImmediate(r));
  assert.equal(loads, 2);
  time.advance(250);
  const pending = cache.get("a");
  assert.ok(pending instanceof Promise, "past maxAge the caller waits");
  assert.equal(await pending, "a:3");
});

test("concurrent misses share one load; failures are not cached", async () => {
  let loads = 0;
  let fail = true;
  const cache = new RefreshingCache(
    async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error("down");
      return "v";
    },
    { freshMs: 1000, maxAgeMs: 2000, maxEntries: 10 },
  );
  const results = await Promise.allSettled([cache.get("k"), cache.get("k"), cache.get("k")]);
  assert.equal(loads, 1);
  assert.ok(results.every((r) => r.status === "rejected"));
  fail = false;
  assert.equal(await cache.get("k"), "v");
  assert.equal(loads, 2);
});

test("a flood of distinct keys is bounded; a forget during a load discards the loaded value", async () => {
  const cache = new RefreshingCache(async (k) => k, { freshMs: 1000, maxAgeMs: 2000, maxEntries: 100 });
  for (let i = 0; i < 10_000; i++) await cache.get(`k${i}`);
  assert.ok(cache.size > 0 && cache.size <= 100, `size ${cache.size}`);

  let release!: () => void;
  const slow = new RefreshingCache(
    (k) => new Promise<string>((r) => (release = () => r(k))),
    { freshMs: 1000, maxAgeMs: 2000, maxEntries: 10 },
  );
  const pending = slow.get("revoked");
  slow.forget("revoked");
  release();
  await pending;
  assert.equal(slow.size, 0, "a value loaded before a revocation must not be kept");
});
