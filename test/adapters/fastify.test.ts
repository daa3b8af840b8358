import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { portcullisFastify } from "../../src/adapters/fastify.js";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { adapterCases, adapterInstance, view } from "../helpers/adapter-cases.js";

describe("portcullis/fastify on Fastify 5", () => {
  let instance: InProcessPortcullis;
  let app: FastifyInstance;
  let url: string;
  before(async () => {
    instance = await adapterInstance();
    app = Fastify();
    await app.register(portcullisFastify, { instance });
    app.all("/*", async (request, reply) => {
      void reply.header("x-cost", "7");
      return { portcullis: view(request.portcullis), body: request.body ?? null };
    });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  after(async () => {
    await app.close();
    await instance.close();
  });
  adapterCases("fastify", () => ({ url, instance }));
});

describe("portcullis/fastify: a refusal never runs the handler, whatever hooks the app has", () => {
  const cases: [string, (app: FastifyInstance) => void][] = [
    ["an async onSend hook", (app) => app.addHook("onSend", async (_request, _reply, payload) => payload)],
    ["a sync onSend hook", (app) => app.addHook("onSend", (_request, _reply, payload, done) => done(null, payload))],
    ["an async preSerialization hook", (app) => app.addHook("preSerialization", async (_request, _reply, payload) => payload)],
    ["an onResponse hook", (app) => app.addHook("onResponse", async () => undefined)],
    ["a slow async onSend hook", (app) => app.addHook("onSend", async (_request, _reply, payload) => new Promise<unknown>((resolve) => setTimeout(() => resolve(payload), 50)))],
  ];
  for (const [name, addHooks] of cases) {
    for (const order of ["adapter first", "routes registered by a plugin before the adapter"] as const) {
      test(`${name}, ${order}`, async () => {
        const instance = await adapterInstance();
        const app = Fastify();
        let ran = 0;
        const routes = async (scope: FastifyInstance) => {
          scope.delete("/api/:thing", async () => {
            ran++;
            return { deleted: true };
          });
        };
        addHooks(app);
        if (order === "adapter first") {
          await app.register(portcullisFastify, { instance });
          await app.register(routes);
        } else {
          await app.register(routes);
          await app.register(portcullisFastify, { instance });
        }
        const url = await app.listen({ port: 0, host: "127.0.0.1" });
        try {
          const refused = await fetch(`${url}/api/7`, { method: "DELETE" });
          assert.equal(refused.status, 401);
          await refused.text();
          // Give a handler that was wrongly let through the time to run.
          await new Promise((resolve) => setTimeout(resolve, 100));
          assert.equal(ran, 0, "the handler ran behind a refusal");
          const tenant = await instance.core.tenants.create("t");
          const { key } = await instance.core.keys.create(tenant.id, { env: "test", scopes: [] });
          const passed = await fetch(`${url}/api/7`, { method: "DELETE", headers: { "x-api-key": key } });
          assert.equal(passed.status, 200);
          assert.equal(ran, 1);
        } finally {
          await app.close();
          await instance.close();
        }
      });
    }
  }
});

test("portcullis/fastify refuses to start where the policy tells case apart and the router does not", async () => {
  const { InProcessPortcullis, parsePolicy } = await import("../../src/adapters/in-process.js");
  const { createLogger } = await import("../../src/observability/logger.js");
  const policy = parsePolicy({ version: 1, paths: { caseSensitive: true }, routes: [{ name: "admin", match: { path: "/admin/**" } }] }, "case-policy");
  const instance = await InProcessPortcullis.create({ policy, logger: createLogger({ level: "silent" }) });
  try {
    const folding = Fastify({ routerOptions: { caseSensitive: false } });
    await assert.rejects(async () => {
      await folding.register(portcullisFastify, { instance });
      await folding.ready();
    }, /case-sensitively/);
    await folding.close().catch(() => undefined);
    const agreeing = Fastify();
    await agreeing.register(portcullisFastify, { instance });
    await agreeing.ready();
    await agreeing.close();
  } finally {
    await instance.close();
  }
});
