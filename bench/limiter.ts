/**
 * Rate-limiter decisions per second, against the libraries a team would reach for, measured in
 * this run: in memory against rate-limiter-flexible (RateLimiterMemory) and @fastify/rate-limit's
 * LocalStore; on Redis against rate-limiter-flexible (RateLimiterRedis, same Redis, same client
 * library) and against redis-benchmark running one EVALSHA of our script (the ceiling: Redis
 * itself, no client). Interleaved rounds, medians. Limits are set high so every decision admits,
 * the common case; 10 000 distinct keys, visited round-robin.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import { MemoryCounterStore } from "../src/counters/memory-store.js";
import { GCRA_SCRIPT, RedisCounterStore } from "../src/counters/redis-store.js";

const ROUNDS = 5;
const KEYS = Array.from({ length: 10_000 }, (_, i) => `client-${i}`);
const RULE = { intervalUs: 1, burst: 1_000_000_000 };
const REDIS_URL = process.env.PORTCULLIS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

type Decide = (key: string) => Promise<unknown> | unknown;

/**
 * Sequential decisions for a fixed time: memory limiters are CPU-bound, concurrency adds nothing.
 * `awaited`: every answer is awaited, as a caller of a promise API must; otherwise a synchronous
 * answer is used as it is, as the gateway's memory store gives it.
 */
async function memoryRate(decide: Decide, awaited: boolean, ms = 500): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1_000; i++) {
      const answer = decide(KEYS[n++ % KEYS.length]!);
      if (awaited || answer instanceof Promise) await answer;
    }
  }
  return n / (ms / 1000);
}

/** `inFlight` callers, each awaiting its decision before the next: what a busy gateway does. */
async function redisRate(decide: Decide, inFlight = 50, ms = 1_000): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) await decide(KEYS[n++ % KEYS.length]!);
    }),
  );
  return n / (ms / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function compare(title: string, cases: [string, () => Promise<number>][]): Promise<Map<string, number>> {
  const runs = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (const [, run] of cases) await run();
  for (let round = 0; round < ROUNDS; round++) for (const [name, run] of cases) runs.get(name)!.push(await run());
  console.log(title);
  const figures = new Map<string, number>();
  for (const [name] of cases) {
    figures.set(name, median(runs.get(name)!));
    console.log(`  ${name.padEnd(42)} ${figures.get(name)!.toFixed(0).padStart(10)} decisions/s`);
  }
  return figures;
}

// @fastify/rate-limit exposes its store only as a CommonJS file; its API is callback-based.
const require = createRequire(import.meta.url);
const LocalStore = require("@fastify/rate-limit/store/LocalStore.js") as new (continueExceeding: boolean, backoff: boolean, cache: number) => {
  incr(key: string, cb: (error: Error | null, result: unknown) => void, timeWindow: number, max: number): void;
};

const memoryStore = new MemoryCounterStore({ maxEntries: 100_000 });
const flexible = new RateLimiterMemory({ points: 1_000_000_000, duration: 60 });
const fastifyStore = new LocalStore(false, false, 100_000);
const memory = await compare(`in-memory limiter, ${KEYS.length} keys, median of ${ROUNDS} rounds`, [
  ["portcullis GCRA, answer used as given", () => memoryRate((key) => memoryStore.gcra(key, RULE, 1), false)],
  ["portcullis GCRA, every answer awaited", () => memoryRate((key) => memoryStore.gcra(key, RULE, 1), true)],
  ["rate-limiter-flexible RateLimiterMemory", () => memoryRate((key) => flexible.consume(key), true)],
  ["@fastify/rate-limit LocalStore (callback)", () => memoryRate((key) => fastifyStore.incr(key, () => undefined, 60_000, 1_000_000_000), false)],
]);
const flexibleRate = memory.get("rate-limiter-flexible RateLimiterMemory")!;
console.log(`  portcullis / rate-limiter-flexible  ${(memory.get("portcullis GCRA, answer used as given")! / flexibleRate).toFixed(2)} as given, ${(memory.get("portcullis GCRA, every answer awaited")! / flexibleRate).toFixed(2)} awaited   (goal ≥ 2)`);

const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
probe.on("error", () => undefined);
const redisUp = await probe.connect().then(
  () => true,
  () => false,
);
if (!redisUp) {
  console.log(`\nRedis limiter: not measured, Redis at ${REDIS_URL} unreachable`);
} else {
  const prefix = `portcullis-bench:${process.pid}:`;
  const store = await RedisCounterStore.connect({ url: REDIS_URL, prefix, commandTimeoutMs: 5_000 });
  const client = new Redis(REDIS_URL);
  const flexibleRedis = new RateLimiterRedis({ storeClient: client, points: 1_000_000_000, duration: 60, keyPrefix: `${prefix}rlf` });
  const redis = await compare(`\nRedis limiter, ${KEYS.length} keys, 50 decisions in flight, median of ${ROUNDS} rounds`, [
    ["portcullis GCRA (one EVALSHA per decision)", () => redisRate((key) => store.gcra(key, RULE, 1))],
    ["rate-limiter-flexible RateLimiterRedis", () => redisRate((key) => flexibleRedis.consume(key))],
  ]);
  // The ceiling: the same script from redis-benchmark's C client in the same shape as ours, one
  // connection with 50 commands in flight (ioredis pipelines what is sent while others wait).
  const sha = await new Promise<string>((resolve, reject) =>
    probe.script("LOAD", GCRA_SCRIPT, (error, result) => (error ? reject(error) : resolve(result as string))),
  );
  const { hostname, port } = new URL(REDIS_URL);
  const ceilingRuns: number[] = [];
  for (let round = 0; round < 3; round++) {
    const out = spawnSync("redis-benchmark", ["-h", hostname, "-p", port || "6379", "-q", "-n", "200000", "-c", "1", "-P", "50", "evalsha", sha, "1", `${prefix}ceiling:__rand_int__`, "1", "1000000000", "1"], {
      encoding: "utf8",
    }).stdout;
    const rps = Number(/([\d.]+) requests per second/.exec(out)?.[1]);
    if (Number.isFinite(rps)) ceilingRuns.push(rps);
  }
  const ours = redis.get("portcullis GCRA (one EVALSHA per decision)")!;
  if (ceilingRuns.length > 0) {
    const ceiling = median(ceilingRuns);
    console.log(`  ${"redis-benchmark EVALSHA (ceiling)".padEnd(42)} ${ceiling.toFixed(0).padStart(10)} decisions/s`);
    console.log(`  portcullis / ceiling                ${(ours / ceiling).toFixed(2)}`);
  } else {
    console.log("  redis-benchmark not available: no ceiling measured");
  }
  console.log(`  portcullis / rate-limiter-flexible  ${(ours / redis.get("rate-limiter-flexible RateLimiterRedis")!).toFixed(2)}`);
  for (let cursor = "0"; ; ) {
    const [next, keys] = await probe.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await probe.del(...keys);
    if ((cursor = next) === "0") break;
  }
  await store.close();
  client.disconnect();
}
probe.disconnect();
