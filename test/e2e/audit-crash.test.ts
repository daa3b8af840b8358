import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { crashableNode, type CrashableNode } from "../helpers/crashable-node.js";

const CLIENTS = 16;

/**
 * `portcullis start` on Postgres, and on PGlite in its data directory, under a load of audited
 * mutations (a route with `audit`, and records the upstream appends), killed with SIGKILL mid-load
 * and started again: every record a client was answered for must be in the trail, and the chain
 * must verify.
 */
for (const kind of ["Postgres", "PGlite"] as const)
describe(`audit on ${kind}: kill -9 of the gateway under load loses no acknowledged record`, () => {
  let echo: Awaited<ReturnType<typeof startEchoUpstream>>;
  let gateway: CrashableNode;
  let node: CrashableNode["node"];
  const start = async () => {
    await gateway.start();
    node = gateway.node;
  };
  const admin = (method: string, path: string, body?: unknown) => gateway.admin(method, path, body);

  before(async () => {
    echo = await startEchoUpstream();
    gateway = await crashableNode(kind, { version: 1, routes: [{ name: "orders", match: { path: "/orders/:id" }, authenticate: { methods: ["apiKey"] }, audit: true }] }, echo.url);
    node = gateway.node;
  });
  after(async () => {
    await gateway.close();
    echo.server.closeAllConnections();
    echo.server.close();
  });

  test("records acknowledged before the kill are all there after the restart, in one valid chain", async () => {
    const tenant = (await admin("POST", "/admin/v1/tenants", { name: "acme" })) as { id: string };
    const { key } = (await admin("POST", `/admin/v1/tenants/${tenant.id}/keys`, { env: "live", scopes: ["audit:write"] })) as { key: string };
    const acknowledged = new Set<string>();
    const appended = new Set<string>();
    let stopping = false;
    // Connections of their own, so that a killed server fails the requests in flight rather than hanging them.
    const dispatcher = new Agent({ connections: CLIENTS * 2, headersTimeout: 5_000, bodyTimeout: 5_000 });
    const client = async (n: number) => {
      for (let i = 0; !stopping; i++) {
        try {
          if (i % 2 === 0) {
            const answer = await request(`${node.url}/orders/${n}-${i}`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: "{}", dispatcher });
            await answer.body.dump();
            if (answer.statusCode === 200) acknowledged.add(String(answer.headers["x-request-id"]));
          } else {
            const requestId = `upstream-${n}-${i}`;
            const answer = await request(`${node.url}/portcullis/v1/audit/records`, {
              method: "POST",
              headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
              body: JSON.stringify({ actorType: "user", actorId: `u${n}`, action: "order.update", targetType: "order", targetId: `${n}-${i}`, requestId, diff: { after: { i } } }),
              dispatcher,
            });
            await answer.body.dump();
            if (answer.statusCode === 201) appended.add(requestId);
          }
        } catch {
          await sleep(5); // the gateway is down: what was not answered was not acknowledged
        }
      }
    };
    const load = Array.from({ length: CLIENTS }, (_, n) => client(n));
    while (acknowledged.size + appended.size < 400) await sleep(10);
    node.child.kill("SIGKILL");
    await sleep(300);
    stopping = true;
    await Promise.all(load);
    await dispatcher.close();
    await start();

    const seen = new Set<string>();
    for (let after = 0; ; ) {
      const page = (await admin("GET", `/admin/v1/tenants/${tenant.id}/audit?after=${after}&limit=1000`)) as { records: { seq: number; request_id: string | null }[]; next_after: number | null };
      for (const r of page.records) if (r.request_id !== null) seen.add(r.request_id);
      if (page.next_after === null) break;
      after = page.next_after;
    }
    const lost = [...acknowledged, ...appended].filter((id) => !seen.has(id));
    console.log(`acknowledged ${acknowledged.size} audited requests and ${appended.size} appended records before the kill; ${seen.size} records with a request id after it`);
    assert.deepEqual(lost, [], "no acknowledged record is missing");
    const verified = (await admin("GET", `/admin/v1/tenants/${tenant.id}/audit/verify`)) as { ok: boolean; records: number };
    assert.equal(verified.ok, true);
    assert.ok(verified.records >= acknowledged.size + appended.size);
  });

  test("admin key creations and revocations under a kill -9: every change that took effect has its record, written before it", async () => {
    const tenant = (await admin("POST", "/admin/v1/tenants", { name: "ops" })) as { id: string };
    let stopping = false;
    const created: string[] = [];
    const client = async () => {
      while (!stopping) {
        try {
          const key = (await admin("POST", `/admin/v1/tenants/${tenant.id}/keys`, { env: "live", scopes: [] })) as { id?: string };
          if (key.id === undefined) continue;
          created.push(key.id);
          await admin("POST", `/admin/v1/keys/${key.id}/revoke`);
        } catch {
          await sleep(5); // the gateway is down
        }
      }
    };
    const load = Array.from({ length: 8 }, () => client());
    while (created.length < 60) await sleep(10);
    node.child.kill("SIGKILL");
    await sleep(300);
    stopping = true;
    await Promise.all(load);
    await start();

    const keys = ((await admin("GET", `/admin/v1/tenants/${tenant.id}/keys`)) as { keys: { id: string; revoked_at: string | null }[] }).keys;
    const records: { action: string; outcome: string; target_id: string | null }[] = [];
    for (let after = 0; ; ) {
      const page = (await admin("GET", `/admin/v1/tenants/${tenant.id}/audit?after=${after}&limit=1000`)) as { records: typeof records; next_after: number | null };
      records.push(...page.records);
      if (page.next_after === null) break;
      after = page.next_after;
    }
    const attempted = (action: string) => records.filter((r) => r.action === action && r.outcome === "attempted");
    const revokedWithoutRecord = keys.filter((k) => k.revoked_at !== null && !attempted("admin.revoke_key").some((r) => r.target_id === k.id)).map((k) => k.id);
    console.log(`${keys.length} keys made, ${keys.filter((k) => k.revoked_at !== null).length} revoked before the kill; ${records.length} records`);
    assert.deepEqual(revokedWithoutRecord, [], "every revocation that took effect was recorded first");
    assert.ok(attempted("admin.create_key").length >= keys.length, "every key that exists had its creation recorded first");
    const verified = (await admin("GET", `/admin/v1/tenants/${tenant.id}/audit/verify`)) as { ok: boolean };
    assert.equal(verified.ok, true);
  });
});
