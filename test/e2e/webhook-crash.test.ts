import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { startCli, stop } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

const ADMIN_TOKEN = "webhook-crash-admin-token-0123456789abcdef";
const MESSAGES = 120;

/**
 * Two `portcullis start` processes on one Postgres deliver one tenant's webhooks from the shared
 * queue; one is killed with SIGKILL mid-run. Every message must still arrive (at least once, as
 * Standard Webhooks delivery is), and every delivery must end delivered.
 */
describe("outbound webhooks: a delivering node killed mid-run loses nothing", () => {
  let database: TestDatabase;
  let echo: Awaited<ReturnType<typeof startEchoUpstream>>;
  let receiver: Server;
  const seen = new Map<string, number>();
  const nodes: { child: ChildProcess; url: string; adminUrl: string }[] = [];

  before(async () => {
    const db = await createTestDatabase();
    if (typeof db === "string") throw new Error(db);
    database = db;
    echo = await startEchoUpstream();
    // A slow receiver, so that the kill lands while deliveries are in flight.
    receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const id = String(req.headers["webhook-id"]);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        setTimeout(() => res.writeHead(204).end(), 60);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), "portcullis-webhook-crash-"));
    const policyFile = join(dir, "policy.json");
    await writeFile(
      policyFile,
      JSON.stringify({
        version: 1,
        egress: { schemes: ["http"], ports: { allow: [port] }, allowAddresses: ["127.0.0.1"], retries: { attempts: 0 } },
        webhookDelivery: { pollMs: 50, concurrency: 4, batch: 4, leaseSeconds: 2, retryScheduleSeconds: [0.2, 0.2, 0.2, 0.2, 0.2] },
        routes: [{ name: "api", match: { path: "/**" } }],
      }),
    );
    // One KEK for both nodes, as a deployment's nodes share their key provider.
    const kek = randomBytes(32).toString("base64");
    for (const name of ["a", "b"]) {
      const { child, banner } = await startCli(["--upstream", echo.url, "--policy", policyFile, "--data-dir", join(dir, name)], {
        DATABASE_URL: database.url,
        PORTCULLIS_ADMIN_TOKEN: ADMIN_TOKEN,
        PORTCULLIS_KEK: kek,
      });
      nodes.push({ child, url: /gateway listening on (\S+)/.exec(banner)![1]!, adminUrl: /admin API listening on (\S+)/.exec(banner)![1]! });
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => stop(n.child)));
    echo.server.closeAllConnections();
    echo.server.close();
    receiver.closeAllConnections();
    receiver.close();
    await database.drop();
  });

  const admin = async (node: number, method: string, path: string, body?: unknown) => {
    const response = await fetch(nodes[node]!.adminUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await response.json()) as Record<string, unknown>;
  };

  test("SIGKILL of one node while it delivers: the other takes over its leased deliveries once the lease ends", async () => {
    const port = (receiver.address() as { port: number }).port;
    const tenant = (await admin(0, "POST", "/admin/v1/tenants", { name: "acme" })) as { id: string };
    const { key } = (await admin(0, "POST", `/admin/v1/tenants/${tenant.id}/keys`, { env: "live", scopes: ["webhooks:write"] })) as { key: string };
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const created = await fetch(`${nodes[0]!.url}/portcullis/v1/webhooks/endpoints`, { method: "POST", headers, body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook` }) });
    assert.equal(created.status, 201);
    for (let i = 0; i < MESSAGES; i++) {
      const sent = await fetch(`${nodes[i % 2]!.url}/portcullis/v1/webhooks/messages`, { method: "POST", headers, body: JSON.stringify({ id: `msg_${i}`, eventType: "order.created", payload: { i } }) });
      assert.equal(sent.status, 202);
    }
    while (seen.size < 10) await sleep(10);
    nodes[0]!.child.kill("SIGKILL");
    for (let i = 0; i < 1_200 && seen.size < MESSAGES; i++) await sleep(50);
    assert.equal(seen.size, MESSAGES, `every message arrived (${seen.size} of ${MESSAGES})`);
    const listed = (await admin(1, "GET", `/admin/v1/tenants/${tenant.id}/webhooks/deliveries`)).deliveries as { state: string }[];
    assert.equal(listed.length, MESSAGES);
    for (;;) {
      const pending = ((await admin(1, "GET", `/admin/v1/tenants/${tenant.id}/webhooks/deliveries`)).deliveries as { state: string }[]).filter((d) => d.state !== "delivered");
      if (pending.length === 0) break;
      await sleep(100);
    }
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.log(`delivered ${seen.size}, duplicates ${duplicates}`);
    // At least once: a delivery the killed node had sent but not recorded is sent again, never lost.
    assert.ok(duplicates <= 4 * 2, `duplicates bounded by what the killed node had in flight: ${duplicates}`);
  });
});
