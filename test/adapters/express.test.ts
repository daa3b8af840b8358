import { after, before, describe } from "node:test";
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
});
