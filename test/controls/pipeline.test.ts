import assert from "node:assert/strict";
import { test } from "node:test";
import type { Control } from "../../src/pipeline/control.js";
import { Pipeline, routePlan } from "../../src/pipeline/pipeline.js";
import { Problem } from "../../src/problem/index.js";
import { Router } from "../../src/routing/router.js";
import { contextFor } from "../helpers/context.js";

const marker = (name: string, stage: Control["stage"], seen: string[], pending = false): Control => ({
  name,
  stage,
  run: () => {
    seen.push(name);
    return pending ? Promise.resolve() : undefined;
  },
});

test("controls run in stage order, whatever order they were given in; a route's after routing", async () => {
  const seen: string[] = [];
  const router = new Router<ReturnType<typeof routePlan>>(false);
  router.add("/x", undefined, routePlan("x", [marker("quota", "quota", seen), marker("authenticate", "authenticate", seen), marker("shield", "shield", seen, true), marker("limit", "limit", seen)], {}));
  const pipeline = new Pipeline([marker("method", "method", seen), marker("blocks", "blocks", seen), marker("lists", "address-lists", seen)], router);
  const ctx = contextFor({ url: "/x" });
  await pipeline.run(ctx);
  assert.deepEqual(seen, ["lists", "blocks", "method", "authenticate", "limit", "shield", "quota"]);
  assert.equal(ctx.route?.name, "x");
});

test("a request whose controls all answer at once goes through without a promise", () => {
  const router = new Router<ReturnType<typeof routePlan>>(false);
  router.add("/x", undefined, routePlan("x", [marker("a", "authenticate", [])], {}));
  const pipeline = new Pipeline([marker("m", "method", [])], router);
  assert.equal(pipeline.run(contextFor({ url: "/x" })), undefined);
});

test("an answer stops the pipeline; a Problem stops it; no route is NOT_FOUND; a bad target is INVALID_PATH", async () => {
  const seen: string[] = [];
  const answering: Control = { name: "cors", stage: "cors", run: (ctx) => void (ctx.answer = { outcome: "preflight", status: 204, headers: {} }) };
  const router = new Router<ReturnType<typeof routePlan>>(false);
  router.add("/x", undefined, routePlan("x", [marker("after", "authenticate", seen)], {}));
  await new Pipeline([answering, marker("method", "method", seen)], router).run(contextFor({ url: "/x" }));
  assert.deepEqual(seen, []);

  const refusing: Control = { name: "lists", stage: "address-lists", run: () => Promise.reject(new Problem("IP_DENIED")) };
  await assert.rejects(async () => new Pipeline([refusing, marker("method", "method", seen)], router).run(contextFor({ url: "/x" })), { code: "IP_DENIED" });
  assert.deepEqual(seen, []);
  assert.throws(() => new Pipeline([], router).run(contextFor({ url: "/y" })), { code: "NOT_FOUND" });
  const ctx = contextFor();
  Object.assign(ctx, { url: "/a/../x" });
  assert.throws(() => new Pipeline([], router).run(ctx), { code: "INVALID_PATH" });
});

test("a control cannot be placed on the wrong side of routing", () => {
  const router = new Router<ReturnType<typeof routePlan>>(false);
  assert.throws(() => routePlan("x", [marker("cors", "cors", [])], {}), /runs before routing/);
  assert.throws(() => new Pipeline([marker("authenticate", "authenticate", [])], router), /runs after routing/);
});

test("response hooks see the answer's head, in stage order", () => {
  const heads: number[] = [];
  const hook: Control = { name: "quota", stage: "quota", run: () => undefined, onResponse: (_ctx, head) => void heads.push(head.status) };
  const router = new Router<ReturnType<typeof routePlan>>(false);
  router.add("/x", undefined, routePlan("x", [hook, marker("a", "authenticate", [])], {}));
  const pipeline = new Pipeline([], router);
  const ctx = contextFor({ url: "/x" });
  pipeline.run(ctx);
  pipeline.respond(ctx, { status: 201, headers: {} });
  assert.deepEqual(heads, [201]);
});
