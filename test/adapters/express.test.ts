import { after, before, describe } from "node:test";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { createNodeMiddleware } from "../../src/adapters/node.js";
import { adapterCases, adapterInstance, view } from "../helpers/adapter-cases.js";

describe("portcullis/node on Express 5", () => {
  let instance: InProcessPortcullis;
  let server: Server;
  let url: string;
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
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await instance.close();
  });
  adapterCases("express", () => ({ url, instance }), "refused");
});
