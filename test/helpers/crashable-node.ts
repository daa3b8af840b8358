import type { ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCli, stop } from "./cli.js";
import { createTestDatabase, type TestDatabase } from "./postgres.js";

const ADMIN_TOKEN = "crash-test-admin-token-0123456789abcdefgh";

export interface CrashableNode {
  /** The running process and its listeners; replaced by each `start`. */
  node: { child: ChildProcess; url: string; adminUrl: string };
  /** Starts `portcullis start` on the same store and data directory (again, after a kill). */
  start(): Promise<void>;
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * `portcullis start` as a child process that a test can kill with SIGKILL and start again on the
 * same durable store: a database of its own on the Postgres server, or PGlite in a data directory.
 */
export async function crashableNode(kind: "Postgres" | "PGlite", policy: unknown, upstreamUrl: string): Promise<CrashableNode> {
  let database: TestDatabase | undefined;
  if (kind === "Postgres") {
    const created = await createTestDatabase();
    if (typeof created === "string") throw new Error(created);
    database = created;
  }
  const dir = await mkdtemp(join(tmpdir(), "portcullis-crash-"));
  const dataDir = join(dir, "data");
  const policyFile = join(dir, "policy.json");
  await writeFile(policyFile, JSON.stringify(policy));
  const self: CrashableNode = {
    node: undefined as unknown as CrashableNode["node"],
    async start() {
      const { child, banner } = await startCli(["--upstream", upstreamUrl, "--policy", policyFile, "--data-dir", dataDir], { DATABASE_URL: database?.url ?? "", PORTCULLIS_ADMIN_TOKEN: ADMIN_TOKEN });
      self.node = { child, url: /gateway listening on (\S+)/.exec(banner)![1]!, adminUrl: /admin API listening on (\S+)/.exec(banner)![1]! };
    },
    async admin(method, path, body) {
      const response = await fetch(self.node.adminUrl + path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await response.json()) as Record<string, unknown>;
    },
    async close() {
      if (self.node !== undefined) await stop(self.node.child);
      await database?.drop();
    },
  };
  await self.start();
  return self;
}
