import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { createNodeMiddleware } from "../../src/adapters/node.js";
import { adapterCases, adapterInstance, view } from "../helpers/adapter-cases.js";

describe("portcullis/node on node:http", () => {
  let instance: InProcessPortcullis;
  let server: Server;
  let url: string;
  before(async () => {
    instance = await adapterInstance();
    const portcullis = await createNodeMiddleware({ instance });
    server = createServer((req, res) =>
      portcullis.handle(req, res, () => {
        const text = JSON.stringify({ portcullis: view(req.portcullis), body: (req as { body?: unknown }).body ?? null });
        res.writeHead(200, { "content-type": "application/json", "x-cost": "7" });
        res.end(text);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await instance.close();
  });
  adapterCases("node:http", () => ({ url, instance }), "refused");

  test("node:http: a body an earlier middleware consumed is not waved through as inspected", async () => {
    const portcullis = await createNodeMiddleware({ instance });
    const early = createServer((req, res) => {
      req.resume();
      req.on("end", () => portcullis.handle(req, res, () => res.end("handler ran")));
    });
    await new Promise<void>((resolve) => early.listen(0, "127.0.0.1", resolve));
    try {
      const tenant = await instance.core.tenants.create("t");
      const { key } = await instance.core.keys.create(tenant.id, { env: "test", scopes: [] });
      const response = await fetch(`http://127.0.0.1:${(early.address() as AddressInfo).port}/api/x`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ comment: "<svg onload=alert(1)>" }),
      });
      assert.equal(response.status, 500);
      assert.notEqual(await response.text(), "handler ran");
    } finally {
      early.closeAllConnections();
      await new Promise((resolve) => early.close(resolve));
    }
  });
});
