import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { crashableNode, type CrashableNode } from "../helpers/crashable-node.js";
import { startCountingUpstream } from "../helpers/counting-upstream.js";

const CLIENTS = 20;
const ROUNDS = 2;

/**
 * `portcullis start` on Postgres, and on PGlite in its data directory, under a load of POSTs with
 * Idempotency-Key to an upstream that answers with Content-Length, killed with SIGKILL mid-load and
 * started again, round after round: every POST a client read a whole success for is replayed on
 * retry, and none reaches the upstream twice.
 */
for (const kind of ["Postgres", "PGlite"] as const)
describe(`idempotency on ${kind}: kill -9 of the gateway under load sends no acknowledged POST twice`, () => {
  let upstream: Awaited<ReturnType<typeof startCountingUpstream>>;
  let gateway: CrashableNode;
  const admin = (method: string, path: string, body?: unknown) => gateway.admin(method, path, body);

  before(async () => {
    upstream = await startCountingUpstream();
    gateway = await crashableNode(kind, { version: 1, routes: [{ name: "orders", match: { path: "/orders/**" }, authenticate: { methods: ["apiKey"] }, idempotency: {} }] }, upstream.url);
  });
  after(async () => {
    await gateway.close();
    upstream.server.closeAllConnections();
    upstream.server.close();
  });

  test(`over ${ROUNDS} rounds, every acknowledged POST is replayed after the restart and reached the upstream once`, async () => {
    const tenant = (await admin("POST", "/admin/v1/tenants", { name: "acme" })) as { id: string };
    const { key } = (await admin("POST", `/admin/v1/tenants/${tenant.id}/keys`, { env: "live", scopes: [] })) as { key: string };
    const post = (id: string, dispatcher?: Agent) =>
      request(`${gateway.node.url}/orders/${id}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "idempotency-key": id, "content-type": "application/json" }, body: `{"order":"${id}"}`, dispatcher });
    for (let round = 0; round < ROUNDS; round++) {
      const acknowledged: string[] = [];
      let stopping = false;
      const dispatcher = new Agent({ connections: CLIENTS * 2, headersTimeout: 5_000, bodyTimeout: 5_000 });
      const client = async (n: number) => {
        for (let i = 0; !stopping; i++) {
          const id = `r${round}-c${n}-${i}`;
          try {
            const answer = await post(id, dispatcher);
            // A whole success, as the client read it: its status and its body to the end, which parses.
            const body = (await answer.body.json()) as { path?: string };
            if (answer.statusCode === 201 && body.path === `/orders/${id}`) acknowledged.push(id);
          } catch {
            await sleep(5); // the gateway is down: what was not answered was not acknowledged
          }
        }
      };
      const load = Array.from({ length: CLIENTS }, (_, n) => client(n));
      while (acknowledged.length < 200) await sleep(10);
      gateway.node.child.kill("SIGKILL");
      await sleep(300);
      stopping = true;
      await Promise.all(load);
      await dispatcher.close();
      await gateway.start();

      const doubled: string[] = [];
      const notReplayed: string[] = [];
      for (const id of acknowledged) {
        const retry = await post(id);
        await retry.body.dump();
        if (retry.statusCode !== 201 || retry.headers["idempotent-replayed"] !== "true") notReplayed.push(`${id}: ${retry.statusCode}`);
        if ((upstream.hits.get(`/orders/${id}`) ?? 0) > 1) doubled.push(id);
      }
      console.log(`round ${round}: ${acknowledged.length} POSTs acknowledged before the kill; ${notReplayed.length} not replayed, ${doubled.length} reached the upstream twice`);
      assert.deepEqual(doubled, [], "no acknowledged POST reached the upstream twice");
      assert.deepEqual(notReplayed, [], "every acknowledged POST is replayed");
    }
  });
});
