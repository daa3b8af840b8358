import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer } from "node:http";
import express from "express";
import { InProcessPortcullis, parsePolicy } from "../../src/adapters/in-process.js";
import { createLogger } from "../../src/observability/logger.js";
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

describe("portcullis/node on Express 5: a case-sensitive policy in front of a router that ignores case", () => {
  const policy = () =>
    parsePolicy(
      {
        version: 1,
        blocking: { enabled: false },
        paths: { caseSensitive: true },
        routes: [
          { name: "admin", match: { path: "/admin/**" }, authorize: { scopes: ["admin"] } },
          { name: "public", match: { path: "/**" }, authenticate: "none" },
        ],
      },
      "case-policy",
    );
  for (const sensitive of [false, true]) {
    test(`express ${sensitive ? "with" : "without"} 'case sensitive routing': ${sensitive ? "/ADMIN is the public route, which Express agrees with" : "every request is refused, so /ADMIN cannot reach the /admin handler"}`, async () => {
      const instance = await InProcessPortcullis.create({ policy: policy(), logger: createLogger({ level: "silent" }) });
      const portcullis = await createNodeMiddleware({ instance });
      const app = express();
      if (sensitive) app.enable("case sensitive routing");
      let adminRan = 0;
      app.use(portcullis.handle);
      app.get("/admin/:item", (_req, res) => {
        adminRan++;
        res.json({ admin: true });
      });
      app.use((_req, res) => res.json({ public: true }));
      const served = await serveOnLoopback(createServer(app));
      try {
        const shouted = await fetch(`${served.url}/ADMIN/x`);
        if (sensitive) {
          assert.equal(shouted.status, 200);
          assert.deepEqual(await shouted.json(), { public: true });
        } else {
          assert.equal(shouted.status, 500);
          assert.equal((await fetch(`${served.url}/about`)).status, 500, "fail closed for every request");
        }
        assert.equal(adminRan, 0, "the admin handler never ran for an unauthorised caller");
      } finally {
        await served.close();
        await instance.close();
      }
    });
  }
});
