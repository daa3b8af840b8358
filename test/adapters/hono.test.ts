import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { createHonoMiddleware, type PortcullisEnv } from "../../src/adapters/hono.js";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { adapterCases, adapterInstance, view } from "../helpers/adapter-cases.js";

describe("portcullis/hono on Hono 4 (@hono/node-server)", () => {
  let instance: InProcessPortcullis;
  let server: ServerType;
  let url: string;
  before(async () => {
    instance = await adapterInstance();
    const portcullis = await createHonoMiddleware({ instance });
    const app = new Hono<PortcullisEnv>();
    app.use(portcullis.handle);
    app.all("*", async (c) => {
      const body = c.req.method === "POST" ? await c.req.json() : null;
      c.header("x-cost", "7");
      return c.json({ portcullis: view(c.get("portcullis")), body });
    });
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await instance.close();
  });
  adapterCases("hono", () => ({ url, instance }));

  test("hono: outside @hono/node-server (no Node message to decide with) nothing reaches the handler", async () => {
    const portcullis = await createHonoMiddleware({ instance });
    const app = new Hono<PortcullisEnv>();
    app.use(portcullis.handle);
    app.get("*", (c) => c.text("handler ran"));
    const response = await app.request("/open");
    assert.equal(response.status, 500);
    assert.notEqual(await response.text(), "handler ran");
  });
});
