import assert from "node:assert/strict";
import { test } from "node:test";
import { isProblemCode, Problem, problemBody } from "../../src/problem/index.js";

test("a problem's extension members can never stand in for its standard ones", () => {
  const body = JSON.parse(problemBody(new Problem("RATE_LIMITED", undefined, { code: "OK", status: 200, type: "x", title: "fine", request_id: "forged", detail: "forged", limit: "l" }), "rid")) as Record<string, unknown>;
  assert.deepEqual(
    [body.code, body.status, body.title, body.request_id, body.detail, body.limit],
    ["RATE_LIMITED", 429, "Too many requests", "rid", undefined, "l"],
  );
  assert.equal(body.type, "https://portcullis.dev/problems/rate-limited");
});

test("problem codes are the table's own keys, not the prototype's", () => {
  assert.equal(isProblemCode("RATE_LIMITED"), true);
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) assert.equal(isProblemCode(name), false, name);
});
