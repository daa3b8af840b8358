import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer } from "node:http";
import { connect } from "node:net";
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

  test("node:http: an answer sent by an earlier middleware while the decision waited (a timeout) does not crash the process", async () => {
    const portcullis = await createNodeMiddleware({ instance });
    let handlerRan = false;
    const timed = await serveOnLoopback(
      createServer((req, res) => {
        // connect-timeout's pattern: answer after a deadline, whatever runs behind.
        const timer = setTimeout(() => res.writeHead(503).end("timed out"), 50);
        res.once("close", () => clearTimeout(timer));
        portcullis.handle(req, res, (error?: unknown) => {
          if (error !== undefined) return void (res.headersSent ? undefined : res.writeHead(500).end());
          handlerRan = true;
        });
      }),
    );
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      const tenant = await instance.core.tenants.create("t");
      const { key } = await instance.core.keys.create(tenant.id, { env: "test", scopes: [] });
      for (const [path, body] of [["/api/x", '{"comment":"fine"}'], ["/api/x", '{"comment":"<svg onload=alert(1)>"}']] as const) {
        // The head first, the body after the timeout has answered: the decision ends late.
        const status = await new Promise<number>((resolve, reject) => {
          const socket = connect(Number(new URL(timed.url).port), "127.0.0.1");
          let answer = "";
          socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
          socket.on("error", reject);
          socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
          setTimeout(() => socket.write(body), 150);
          setTimeout(() => {
            socket.destroy();
            resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0));
          }, 400);
        });
        assert.equal(status, 503, path);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(rejections, [], "no unhandled rejection");
      assert.equal(handlerRan, false, "nothing ran behind an answer already sent");
      assert.equal((await fetch(`${served.url}/open`)).status, 200, "the server is still up");
    } finally {
      process.off("unhandledRejection", onRejection);
      await timed.close();
    }
  });
});
