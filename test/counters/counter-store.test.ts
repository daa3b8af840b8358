import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { CounterStore, GcraRule } from "../../src/counters/counter-store.js";
import { MemoryCounterStore } from "../../src/counters/memory-store.js";
import { RedisCounterStore } from "../../src/counters/redis-store.js";
import { createTestRedis, type TestRedis } from "../helpers/redis.js";

/** 10 per second, all 10 at once from a full bucket. */
const TEN_PER_SECOND: GcraRule = { intervalUs: 100_000, burst: 10 };
/** 5 per minute: nothing comes back within a test. */
const FIVE_PER_MINUTE: GcraRule = { intervalUs: 12_000_000, burst: 5 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function counterStoreSuite(name: string, open: () => Promise<CounterStore | string>) {
  describe(`counter store [${name}]`, () => {
    let store: CounterStore | string;
    before(async () => {
      store = await open();
    });
    after(async () => {
      if (typeof store !== "string") await store.close();
    });
    const withStore = (body: (s: CounterStore) => Promise<void>) => async (t: TestContext) => {
      if (typeof store === "string") return void t.skip(store);
      await body(store);
    };

    test(
      "GCRA admits the burst, then refuses with a retry time, and refused requests spend nothing",
      withStore(async (s) => {
        const decisions = [];
        for (let i = 0; i < 7; i++) decisions.push(await s.gcra("burst", FIVE_PER_MINUTE, 1));
        assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, true, true, false, false]);
        assert.deepEqual(decisions.slice(0, 5).map((d) => d.remaining), [4, 3, 2, 1, 0]);
        const refused = decisions[6]!;
        assert.equal(refused.remaining, 0);
        assert.ok(refused.retryAfterMs > 11_000 && refused.retryAfterMs <= 12_000, `retry after ${refused.retryAfterMs}`);
        // A client that retried 100 times is no further from admission than one that waited.
        for (let i = 0; i < 100; i++) await s.gcra("burst", FIVE_PER_MINUTE, 1);
        const after = await s.gcra("burst", FIVE_PER_MINUTE, 1);
        assert.ok(Math.abs(after.retryAfterMs - refused.retryAfterMs) < 1_000, "retrying dug no deeper hole");
      }),
    );

    test(
      "allowance comes back over time, and a refund gives back exactly what was taken",
      withStore(async (s) => {
        for (let i = 0; i < 10; i++) assert.ok((await s.gcra("refill", TEN_PER_SECOND, 1)).allowed);
        assert.equal((await s.gcra("refill", TEN_PER_SECOND, 1)).allowed, false);
        await sleep(250);
        assert.ok((await s.gcra("refill", TEN_PER_SECOND, 1)).allowed, "a unit returns every 100 ms");
        for (let i = 0; i < 5; i++) await s.gcra("refund", FIVE_PER_MINUTE, 1);
        assert.equal((await s.gcra("refund", FIVE_PER_MINUTE, 1)).allowed, false);
        await s.gcra("refund", FIVE_PER_MINUTE, -2);
        assert.deepEqual([(await s.gcra("refund", FIVE_PER_MINUTE, 1)).allowed, (await s.gcra("refund", FIVE_PER_MINUTE, 1)).allowed, (await s.gcra("refund", FIVE_PER_MINUTE, 1)).allowed], [true, true, false]);
        assert.equal((await s.gcra("costly", FIVE_PER_MINUTE, 6)).allowed, false, "a cost above the burst never passes");
        assert.equal((await s.gcra("costly", FIVE_PER_MINUTE, 5)).allowed, true, "and spent nothing trying");
      }),
    );

    test(
      "200 concurrent requests against a limit of 10 admit exactly 10",
      withStore(async (s) => {
        const decisions = await Promise.all(Array.from({ length: 200 }, () => s.gcra("race", { intervalUs: 60_000_000, burst: 10 }, 1)));
        assert.equal(decisions.filter((d) => d.allowed).length, 10);
      }),
    );

    test(
      "windowed counters, blocks and events",
      withStore(async (s) => {
        assert.equal(await s.count("c", 1, 300), 1);
        assert.equal(await s.count("c", 2, 300), 3);
        assert.equal(await s.peek("c"), 3);
        await sleep(400);
        assert.equal(await s.peek("c"), 0, "the window ended");
        assert.equal(await s.count("c", 1, 300), 1);

        const until = Date.now() + 60_000;
        await s.block("203.0.113.7", until);
        await s.block("203.0.113.7", until - 30_000);
        assert.equal(await s.blockedUntil("203.0.113.7"), until, "a shorter block never shortens a longer one");
        await s.block("2001:db8::1", Date.now() + 200);
        assert.ok((await s.blocks()).some((b) => b.client === "2001:db8::1"));
        await sleep(300);
        assert.equal(await s.blockedUntil("2001:db8::1"), undefined, "blocks end by themselves");
        assert.deepEqual((await s.blocks()).map((b) => b.client), ["203.0.113.7"]);
        assert.equal(await s.unblock("203.0.113.7"), true);
        assert.equal(await s.blockedUntil("203.0.113.7"), undefined);

        for (let i = 0; i < 5; i++) await s.recordEvent(JSON.stringify({ i }));
        assert.deepEqual((await s.recentEvents(3)).map((e) => (JSON.parse(e) as { i: number }).i), [4, 3, 2], "newest first");
      }),
    );

    test(
      "remembered sets: members once each, capped, gone with their window",
      withStore(async (s) => {
        assert.deepEqual(await s.members("set"), []);
        for (const member of ["a", "b", "a", "c", "d"]) await s.remember("set", member, 300, 3);
        assert.deepEqual((await s.members("set")).sort(), ["a", "b", "c"], "no duplicates, and no growth past the cap");
        await sleep(400);
        assert.deepEqual(await s.members("set"), [], "the window ended");
        await s.remember("set", "e", 300, 3);
        assert.deepEqual(await s.members("set"), ["e"], "a new window starts empty");
      }),
    );
  });
}

counterStoreSuite("memory", async () => new MemoryCounterStore());

let redis: TestRedis | string;
counterStoreSuite("redis", async () => {
  redis = await createTestRedis();
  if (typeof redis === "string") return redis;
  return RedisCounterStore.connect({ url: redis.url, prefix: redis.prefix });
});
after(async () => {
  if (typeof redis === "object") await redis.cleanup();
});

test("a flood of distinct keys stays within the memory bound and cannot reset a hammered key's limit", async () => {
  const store = new MemoryCounterStore({ maxEntries: 10_000 });
  for (let i = 0; i < 5; i++) store.gcra("attacker", FIVE_PER_MINUTE, 1);
  for (let i = 0; i < 200_000; i++) {
    store.gcra(`flood-${i}`, FIVE_PER_MINUTE, 1);
    // The attacker keeps trying between flood keys.
    if (i % 1_000 === 0) assert.equal(store.gcra("attacker", FIVE_PER_MINUTE, 1).allowed, false, `reset after ${i} flood keys`);
  }
  const heap = retainedHeap();
  for (let i = 0; i < 200_000; i++) await store.count(`flood-count-${i}`, 1, 60_000);
  // Measured here: about 1 MB with the bound, 30 MB for 200 000 counters without one.
  assert.ok(retainedHeap() - heap < 10 * 1024 * 1024, "counters stay bounded too");
  // Used after the measurement, so the collection above could not free the store itself.
  assert.equal(store.gcra("attacker", FIVE_PER_MINUTE, 1).allowed, false, "the hammered key is still limited");
});

/**
 * The heap still in use after a full collection: without one, garbage the flood left behind (its
 * promises and key strings) counts against the bound whenever the collector has not run yet.
 */
function retainedHeap(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}
