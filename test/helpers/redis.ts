import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { freePort } from "./ports.js";
import { Redis } from "ioredis";

const SERVER_URL = process.env.PORTCULLIS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestRedis {
  url: string;
  /** Unique to this run: runs sharing the server cannot see each other's keys. */
  prefix: string;
  /** Deletes this run's keys. */
  cleanup(): Promise<void>;
}

/** The shared Redis server with a key prefix of this run's own. CI fails where it is unreachable. */
export async function createTestRedis(): Promise<TestRedis | string> {
  const client = new Redis(SERVER_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const reason = `Redis at ${SERVER_URL} is unreachable (${(error as Error).message})`;
    if (process.env.CI === "true") throw new Error(`${reason}; CI requires it`, { cause: error });
    return reason;
  }
  const prefix = `portcullis-test:${process.pid}:${randomBytes(4).toString("hex")}:`;
  return {
    url: SERVER_URL,
    prefix,
    async cleanup() {
      for (let cursor = "0"; ; ) {
        const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        if (keys.length > 0) await client.del(...keys);
        if ((cursor = next) === "0") break;
      }
      client.disconnect();
    },
  };
}

/** A Redis server of the test's own, on a free port, that the test may stop and start again. */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch (error) {
        if (attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }
}
