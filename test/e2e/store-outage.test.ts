import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { startCountingUpstream } from "../helpers/counting-upstream.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

/**
 * The link to a real Postgres server, cut and restored by the test: what an outage looks like to
 * the gateway (connections reset, new ones refused), without stopping the server other tests use.
 */
async function startLink(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}

describe("a Postgres outage is answered 503 STORE_UNAVAILABLE, never 500", () => {
  let database: TestDatabase;
  let link: Awaited<ReturnType<typeof startLink>>;
  let gw: TestGateway;
  let upstream: Awaited<ReturnType<typeof startCountingUpstream>>;
  let key: string;
  let tenantId: string;

  before(async () => {
    const created = await createTestDatabase();
    if (typeof created === "string") throw new Error(created);
    database = created;
    const url = new URL(database.url);
    link = await startLink(new URL(database.url));
    url.host = `127.0.0.1:${link.port}`;
    upstream = await startCountingUpstream();
    gw = await startTestGateway({ version: 1, routes: [{ name: "orders", match: { path: "/orders/**" }, idempotency: {} }] }, { upstreamUrl: upstream.url, databaseUrl: url.toString() });
    ({ key, tenantId } = await tenantWithKey(gw));
  });
  after(async () => {
    await gw?.close();
    await link?.close().catch(() => undefined);
    upstream?.server.close();
    await database?.drop();
  });

  test("the idempotency claim and admin operations answer 503 while the database is down, and work again after", async () => {
    const post = (id: string) => fetch(`${gw.url}/orders/${id}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "idempotency-key": id, "content-type": "application/json" }, body: "{}" });
    assert.equal((await post("before")).status, 201);
    await link.cut();
    try {
      const during = await post("during");
      assert.equal(during.status, 503);
      assert.equal(((await during.json()) as { code: string }).code, "STORE_UNAVAILABLE");
      for (const [method, path, body] of [["POST", "/admin/v1/tenants", { name: "x" }], ["POST", `/admin/v1/tenants/${tenantId}/keys`, { env: "test", scopes: [] }], ["GET", `/admin/v1/tenants/${tenantId}`, undefined]] as const) {
        const answer = await gw.admin(method, path, body);
        assert.equal(answer.status, 503, `${method} ${path}`);
        assert.equal(answer.json.code, "STORE_UNAVAILABLE");
      }
      assert.equal(upstream.hits.get("/orders/during"), undefined, "nothing was forwarded unrecorded");
    } finally {
      await link.restore();
    }
    let after = await post("after");
    for (let i = 0; i < 20 && after.status === 503; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await post("after");
    }
    assert.equal(after.status, 201);
  });
});
