import assert from "node:assert/strict";
import { test } from "node:test";
import { refuseMethodOverride } from "../../src/routing/method-override.js";
import { parseRequestTarget } from "../../src/routing/request-target.js";

test("canonical paths parse into decoded segments; the raw path and query are kept", () => {
  assert.deepEqual(parseRequestTarget("/v1/users/42?x=1&y=%2F"), { rawPath: "/v1/users/42", query: "x=1&y=%2F", segments: ["v1", "users", "42"] });
  assert.deepEqual(parseRequestTarget("/").segments, []);
  assert.deepEqual(parseRequestTarget("/a/").segments, ["a"]);
  assert.deepEqual(parseRequestTarget("/caf%C3%A9/a%20b").segments, ["café", "a b"]);
});

test("every spelling that could mean a different path upstream is refused", () => {
  const attacks = [
    "/public/../admin",
    "/public/./admin",
    "/public/%2e%2e/admin",
    "/public/%2E%2E/admin",
    "/public/.%2e/admin",
    "/public/%2e/admin",
    "/public%2fadmin",
    "/public%2Fadmin",
    "/public%5cadmin",
    "/public\\admin",
    "/public/%252e%252e/admin",
    "/public/%25252e/admin",
    "/public//admin",
    "//admin",
    "/admin;jsessionid=1",
    "/admin%3bx",
    "/admin%00.json",
    "/admin\u0000",
    "/adm\tin",
    "/admin#frag",
    "/%ff%fe",
    "/%e2%82",
    "/%zz",
    "/%",
    "http://evil.example/admin",
    "*",
    "",
    "admin",
  ];
  for (const url of attacks) {
    assert.throws(() => parseRequestTarget(url), { code: "INVALID_PATH" }, JSON.stringify(url));
  }
});

test("method overrides are refused in every spelling a framework reads, and only those", () => {
  for (const [headers, query] of [
    [{ "x-http-method-override": "DELETE" }, ""],
    [{ "x-http-method": "PUT" }, ""],
    [{ "x-method-override": "PATCH" }, ""],
    [{}, "_method=DELETE"],
    [{}, "x=1&_method"],
    [{}, "%5f%6D%65thod=DELETE"],
    [{}, "_Method=put"],
  ] as const) {
    assert.throws(() => refuseMethodOverride(headers, query), /BAD_REQUEST/, `${JSON.stringify(headers)} ${query}`);
  }
  for (const query of ["", "method=card", "payment_method=x", "a_method=1", "_methods=1", "%5F%E0%A4%A=method"]) {
    assert.doesNotThrow(() => refuseMethodOverride({}, query), query);
  }
});
