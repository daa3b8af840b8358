import assert from "node:assert/strict";
import { test } from "node:test";
import { Router, validatePattern } from "../../src/routing/router.js";

test("the most specific route wins whatever the order", () => {
  const router = new Router<string>(false);
  router.add("/**", undefined, "catch-all");
  router.add("/admin/**", undefined, "admin");
  router.add("/admin/users/:id", ["GET"], "user");
  router.add("/admin/users/me", undefined, "me");
  const at = (method: string, path: string) => router.match(method, path === "/" ? [] : path.slice(1).split("/"))?.value;
  assert.equal(at("GET", "/anything"), "catch-all");
  assert.equal(at("GET", "/"), "catch-all");
  assert.equal(at("GET", "/admin"), "admin", "** matches zero segments");
  assert.equal(at("POST", "/admin/users/7"), "admin", "method filter");
  assert.equal(at("GET", "/admin/users/7"), "user");
  assert.equal(at("GET", "/admin/users/me"), "me");
  assert.deepEqual(router.match("GET", ["admin", "users", "7"])?.params, { id: "7" });
});

test("case-insensitive matching by default: /ADMIN cannot dodge the admin route", () => {
  const router = new Router<string>(false);
  router.add("/**", undefined, "open");
  router.add("/admin/**", undefined, "admin");
  assert.equal(router.match("GET", ["ADMIN", "x"])?.value, "admin");
  assert.equal(router.match("GET", ["Admin"])?.value, "admin");
  const strict = new Router<string>(true);
  strict.add("/admin", undefined, "admin");
  assert.equal(strict.match("GET", ["ADMIN"]), undefined);
});

test("exact beats **, a method-specific route beats an any-method twin, ties go to the first", () => {
  const router = new Router<string>(false);
  router.add("/a/**", undefined, "rest");
  router.add("/a", undefined, "exact-any");
  router.add("/a", ["GET"], "exact-get");
  router.add("/a", ["GET"], "exact-get-later");
  assert.equal(router.match("GET", ["a"])?.value, "exact-get");
  assert.equal(router.match("PUT", ["a"])?.value, "exact-any");
  assert.equal(router.match("PUT", ["a", "b"])?.value, "rest");
});

test("bad patterns are refused", () => {
  for (const bad of ["admin", "/a//b", "/**/a", "/a*", "/:1x", "/a/../b"]) assert.notEqual(validatePattern(bad), undefined, bad);
  assert.equal(validatePattern("/v1/:id/**"), undefined);
});

test("HEAD matches what GET matches: a GET-only route is never walked past to a weaker catch-all by HEAD", () => {
  const router = new Router<string>(false);
  router.add("/**", undefined, "site");
  router.add("/reports/**", ["GET"], "reports");
  router.add("/upload", ["POST"], "upload");
  assert.equal(router.match("HEAD", ["reports", "q3"])?.value, "reports");
  assert.equal(router.match("GET", ["reports", "q3"])?.value, "reports");
  assert.equal(router.match("POST", ["reports", "q3"])?.value, "site");
  assert.equal(router.match("HEAD", ["upload"])?.value, "site", "HEAD follows GET only");
});
