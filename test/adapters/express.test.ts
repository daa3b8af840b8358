import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer } from "node:http";
import express from "express";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { createNodeMiddleware } from "../../src/adapters/node.js";
import { adapterCases, adapterInstance, serveOnLoopback, view } from "../helpers/adapter-cases.js";

describe("portcullis/node on Express 5", () => {
  let instance: InProcessPortcullis;
  let served: Awaited<ReturnType<typeof serveOnLoopback>>;
  before(async () => {
    instance = await adapterInstance();
    const portcullis = await createNodeMiddleware({ instance });
    const app = express();
    app.use(portcullis.handle);
    app.use(express.json());
    app.use((req, res) => {
      res.setHeader("x-cost", "7");
      res.json({ portcullis: view(req.portcullis), body: (req as { body?: unknown }).body ?? null });
    });
    served = await serveOnLoopback(createServer(app));
  });
  after(async () => {
    await served.close();
    await instance.close();
  });
  adapterCases("express", () => ({ url: served.url, instance }), "refused");

  test("express: mounted under a path, the middleware decides on the whole target, not the rest Express leaves in req.url", async () => {
    const portcullis = await createNodeMiddleware({ instance });
    const app = express();
    app.use("/api", portcullis.handle);
    app.use((req, res) => res.json({ portcullis: view(req.portcullis) }));
    const mounted = await serveOnLoopback(createServer(app));
    try {
      // "/api/open" would be "/open" to a middleware reading req.url: an open route.
      const response = await fetch(`${mounted.url}/api/open`);
      assert.equal(response.status, 401, "decided as /api/open (the api route), which needs a key");
    } finally {
      await mounted.close();
    }
  });
});
