import assert from "node:assert/strict";
import { test } from "node:test";
import { requireRoutableMethod } from "../../src/routing/method.js";

test("only methods a policy can name are forwarded", () => {
  for (const method of ["TRACE", "TRACK", "CONNECT", "PROPFIND", "get", "FOO", undefined]) {
    assert.throws(() => requireRoutableMethod(method, {}, ""), /METHOD_NOT_ALLOWED/, String(method));
  }
  for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) assert.doesNotThrow(() => requireRoutableMethod(method, {}, ""));
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
    [{}, "a=1;_method=DELETE"],
    // PHP folds a leading space, `.`, ` ` and an unclosed `[` into `_`, and reads `_method[]` as `_method`.
    [{}, ".method=DELETE"],
    [{}, "%2Emethod=DELETE"],
    [{}, "+.method=DELETE"],
    [{}, "%20_method=DELETE"],
    [{}, "[method=DELETE"],
    [{}, "_method[]=DELETE"],
    [{}, "_method[x]=DELETE"],
    [{}, "x=1;.method=DELETE"],
  ] as const) {
    assert.throws(() => requireRoutableMethod("POST", headers, query), /BAD_REQUEST/, `${JSON.stringify(headers)} ${query}`);
  }
  for (const query of ["", "method=card", "payment_method=x", "a_method=1", "_methods=1", "%5F%E0%A4%A=method", "a=1;b=_method", "x.method=1", "method_=1", "a[_method]=1"]) {
    assert.doesNotThrow(() => requireRoutableMethod("POST", {}, query), query);
  }
});
