import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer } from "node:http";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { createNodeMiddleware } from "../../src/adapters/node.js";
import { adapterCases, adapterInstance, serveOnLoopback, view } from "../helpers/adapter-cases.js";

describe("portcullis/node on node:http", () => {
  let instance: InProcessPortcullis;
  let served: Awaited<ReturnType<typeof serveOnLoopback>>;
  before(async () => {
    instance = await adapterInstance();
    const portcullis = await createNodeMiddleware({ instance });
    const server = createServer((req, res) =>
      portcullis.handle(req, res, () => {
        const text = JSON.stringify({ portcullis: view(req.portcullis), body: (req as { body?: unknown }).body ?? null });
        res.writeHead(200, { "content-type": "application/json", "x-cost": "7" });
        res.end(text);
      }),
    );
    served = await serveOnLoopback(server);
  });
  after(async () => {
    await served.close();
    await instance.close();
  });
  adapterCases("node:http", () => ({ url: served.url, instance }), "refused");

  test("node:http: a body an earlier middleware consumed is not waved through as inspected", async () => {
    const portcullis = await createNodeMiddleware({ instance });
    const early = await serveOnLoopback(
      createServer((req, res) => {
        req.resume();
        req.on("end", () => portcullis.handle(req, res, () => res.end("handler ran")));
      }),
    );
    try {
      const tenant = await instance.core.tenants.create("t");
      const { key } = await instance.core.keys.create(tenant.id, { env: "test", scopes: [] });
      const response = await fetch(`${early.url}/api/x`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ comment: "<svg onload=alert(1)>" }),
      });
      assert.equal(response.status, 500);
      assert.notEqual(await response.text(), "handler ran");
    } finally {
      await early.close();
    }
  });

  test("node:http: a body that is not the JSON it claims, let through by a monitoring shield, reaches the handler as no value", async () => {
    const response = await fetch(`${served.url}/lenient`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { body: unknown }).body, null);
    assert.equal((await fetch(`${served.url}/open`)).status, 200, "the server is still up");
  });
});
