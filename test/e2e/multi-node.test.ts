import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { startCli, stop } from "../helpers/cli.js";
import { startCountingUpstream } from "../helpers/counting-upstream.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";
import { createTestRedis, type TestRedis } from "../helpers/redis.js";

const ADMIN_TOKEN = "multi-node-admin-token-0123456789abcdef";
const TENANT_LIMIT = 10;

/**
 * Two `portcullis start` processes against one Postgres and one Redis, as a deployment runs them.
 * What one node counts, the other sees: limits, violations and blocks.
 */
describe("two gateway processes on one Redis", () => {
  let database: TestDatabase | string;
  let redis: TestRedis | string;
  let echo: Awaited<ReturnType<typeof startEchoUpstream>> | undefined;
  let counting: Awaited<ReturnType<typeof startCountingUpstream>> | undefined;
  const nodes: { child: ChildProcess; url: string; adminUrl: string }[] = [];

  before(async () => {
    database = await createTestDatabase();
    redis = await createTestRedis();
    if (typeof database === "string" || typeof redis === "string") return;
    echo = await startEchoUpstream();
    counting = await startCountingUpstream();
    const dir = await mkdtemp(join(tmpdir(), "portcullis-multi-"));
    const policyFile = join(dir, "policy.json");
    await writeFile(
      policyFile,
      JSON.stringify({
        version: 1,
        blocking: { threshold: 50, windowSeconds: 60, blockSeconds: 60 },
        routes: [
          { name: "orders", match: { path: "/orders/**" }, idempotency: {}, forward: { upstream: counting.url } },
          { name: "metered", match: { path: "/metered/**" }, quotas: [{ name: "daily", by: "tenant", limit: 7, per: "day" }] },
          { name: "api", match: { path: "/**" }, limits: [{ name: "per-tenant", by: ["tenant"], rate: TENANT_LIMIT, per: "minute" }] },
        ],
      }),
    );
    for (const name of ["a", "b"]) {
      const { child, banner } = await startCli(["--upstream", echo.url, "--policy", policyFile, "--data-dir", join(dir, name)], {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        PORTCULLIS_REDIS_PREFIX: redis.prefix,
        PORTCULLIS_ADMIN_TOKEN: ADMIN_TOKEN,
      });
      nodes.push({ child, url: /gateway listening on (\S+)/.exec(banner)![1]!, adminUrl: /admin API listening on (\S+)/.exec(banner)![1]! });
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => stop(n.child)));
    echo?.server.closeAllConnections();
    echo?.server.close();
    counting?.server.closeAllConnections();
    counting?.server.close();
    if (typeof redis === "object") await redis.cleanup();
    if (typeof database === "object") await database.drop();
  });

  const ready = (t: TestContext) => {
    if (typeof database === "string") return void t.skip(database);
    if (typeof redis === "string") return void t.skip(redis);
    return true;
  };
  const admin = async (node: number, path: string, body: unknown) =>
    (await (
      await fetch(nodes[node]!.adminUrl + path, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, string>;

  test(`a per-tenant limit of ${TENANT_LIMIT} a minute admits ${TENANT_LIMIT} across both nodes, whatever the interleaving`, async (t) => {
    if (!ready(t)) return;
    const tenant = await admin(0, "/admin/v1/tenants", { name: "shared" });
    const keyA = (await admin(0, `/admin/v1/tenants/${tenant.id}/keys`, { env: "test", scopes: [] })).key;
    const keyB = (await admin(1, `/admin/v1/tenants/${tenant.id}/keys`, { env: "test", scopes: [] })).key;
    // 40 requests at once, half to each node, with two keys of the one tenant.
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fetch(`${nodes[i % 2]!.url}/x`, { headers: { authorization: `Bearer ${i % 3 === 0 ? keyA : keyB}` } }).then((r) => r.status)),
    );
    const admitted = statuses.filter((s) => s === 200).length;
    // Allowance returns at one per 6 s; the burst takes well under that, so the tolerance is one.
    assert.ok(admitted >= TENANT_LIMIT && admitted <= TENANT_LIMIT + 1, `admitted ${admitted}`);
    assert.equal(statuses.filter((s) => s === 429).length, 40 - admitted);
  });

  test("a daily quota of 7 is one quota across both nodes: exactly 7 admitted", async (t) => {
    if (!ready(t)) return;
    const tenant = await admin(1, "/admin/v1/tenants", { name: "metered" });
    const key = (await admin(1, `/admin/v1/tenants/${tenant.id}/keys`, { env: "test", scopes: [] })).key;
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fetch(`${nodes[i % 2]!.url}/metered/x`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status)),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 7);
    assert.equal(statuses.filter((s) => s === 429).length, 13);
  });

  test("30 concurrent requests with one Idempotency-Key, half to each node, reach the upstream exactly once", async (t) => {
    if (!ready(t)) return;
    const tenant = await admin(0, "/admin/v1/tenants", { name: "orders" });
    const key = (await admin(0, `/admin/v1/tenants/${tenant.id}/keys`, { env: "test", scopes: [] })).key;
    const send = (node: number) =>
      fetch(`${nodes[node]!.url}/orders/slow-pay`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "idempotency-key": "pay-1", "content-type": "application/json" },
        body: '{"amount":5}',
      });
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => send(i % 2).then(async (r) => (await r.arrayBuffer(), r.status))));
    assert.equal(counting!.hits.get("/orders/slow-pay"), 1);
    assert.ok(statuses.every((s) => s === 201 || s === 409), statuses.join(" "));
    const replays = await Promise.all([send(0), send(1)]);
    for (const r of replays) {
      assert.equal(r.status, 201);
      assert.equal(r.headers.get("idempotent-replayed"), "true");
      assert.match(await r.text(), /"n":1/);
    }
    assert.equal(counting!.hits.get("/orders/slow-pay"), 1);
  });

  test("a client blocked on one node is blocked on the other, and lifted on both", async (t) => {
    if (!ready(t)) return;
    // The 429s above were violations too; forged keys on node A finish the count to 50.
    let status = 401;
    for (let i = 0; i < 60 && status === 401; i++) status = (await fetch(`${nodes[0]!.url}/x`, { headers: { authorization: "Bearer sk_test_forged" } })).status;
    assert.equal(status, 403, "node A blocked the client at the threshold");
    const onB = await fetch(`${nodes[1]!.url}/x`);
    assert.equal(onB.status, 403);
    assert.equal(((await onB.json()) as { code: string }).code, "BLOCKED");
    assert.deepEqual(await admin(1, "/admin/v1/blocks/lift", { client: "127.0.0.1" }), { lifted: true });
    assert.equal((await fetch(`${nodes[0]!.url}/x`)).status, 401, "lifted through B, A lets the client try again");
  });
});
