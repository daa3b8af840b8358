import assert from "node:assert/strict";
import { test } from "node:test";
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
    "/%EF%BD%81dmin",
    "/%EF%BC%A1DMIN/users",
    "/ad%EF%AC%81le",
    "/admin\u0000",
    "/admin%09",
    "/admin%20",
    "/%20admin",
    "/%20",
    "/admin%0a",
    "/admin%0D",
    "/adm%7fin",
    "/admin%c2%85",
    "/admin%e2%80%a8",
    "/admin%ef%bb%bf",
    "/ad%e2%80%8bmin",
    "/admin%e2%80%ae",
    "/ad%c2%admin",
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
