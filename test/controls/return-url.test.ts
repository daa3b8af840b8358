import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isAllowedReturnUrl, returnUrlControl, returnUrlSchema } from "../../src/return-url/index.js";
import { contextFor, outcome } from "../helpers/context.js";

const allowed = new Set(["https://app.example.com", "http://localhost:3000"]);
const ok = (value: string, relative = true) => isAllowedReturnUrl(value, allowed, relative);

describe("return URLs: only the listed origins, read as a browser reads them", () => {
  test("what a real app sends passes", () => {
    for (const value of [
      "https://app.example.com",
      "https://app.example.com/",
      "https://app.example.com/account?tab=billing#top",
      "https://APP.example.com/x",
      "https://app.example.com:443/x",
      "http://localhost:3000/cb",
      "/dashboard",
      "/search?q=a%20b",
      "settings",
      "https://app.example.com/next?url=https%3A%2F%2Fapp.example.com%2Fx",
    ]) {
      assert.equal(ok(value), true, value);
    }
  });

  test("the known open-redirect bypasses are refused", () => {
    for (const value of [
      "https://evil.example",
      "//evil.example",
      "///evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "\\/evil.example",
      "https:evil.example",
      "https:/evil.example",
      "https:\\\\evil.example",
      "HTTPS://evil.example",
      "https://app.example.com@evil.example",
      "https://app.example.com:pass@evil.example",
      "https://user@app.example.com/",
      "https://evil.example\\@app.example.com",
      "https://evil.example#@app.example.com",
      "https://evil.example?@app.example.com",
      "https://app.example.com.evil.example",
      "https://app.example.com./",
      "https://app.example.com:8443/",
      "http://app.example.com/",
      "https://аpp.example.com/", // Cyrillic а: another host (xn--pp-…)
      "https://app.exаmple.com/",
      "%2F%2Fevil.example",
      "%252F%252Fevil.example",
      "%25252F%25252Fevil.example",
      "/%2F/evil.example",
      "/%5Cevil.example",
      "https%3A%2F%2Fevil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "h\ttps://evil.example",
      "ht\rtps://evil.example",
      " //evil.example",
      "//evil.example ",
      "\u0000//evil.example",
      "/\u3000/evil.example",
      "javascript:alert(1)",
      "JavaScript:alert(1)",
      "java\tscript:alert(1)",
      "javascript://app.example.com/%0aalert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox(1)",
      "file:///etc/passwd",
      "https://own-site.portcullis.invalid/x",
      "https://[::1]/",
      "https://%65vil.example",
      "x".repeat(5000),
      "%E0%A4%A",
    ]) {
      assert.equal(ok(value), false, JSON.stringify(value));
    }
  });

  test("with allowRelative off, only absolute URLs to the listed origins pass", () => {
    assert.equal(ok("/dashboard", false), false);
    assert.equal(ok("https://app.example.com/dashboard", false), true);
  });

  test("the schema refuses allow entries that are not bare origins", () => {
    for (const allow of ["https://app.example.com/path", "app.example.com", "javascript:alert(1)", "https://APP.example.com", "https://app.example.com:443"]) {
      assert.equal(returnUrlSchema.safeParse({ params: ["next"], allow: [allow] }).success, false, allow);
    }
    assert.equal(returnUrlSchema.safeParse({ params: ["next"], allow: ["https://app.example.com/"] }).success, true);
  });

  test("the control checks every occurrence in the query, form and JSON bodies, and nested members", async () => {
    const control = returnUrlControl(returnUrlSchema.parse({ params: ["next", "redirect.to"], allow: ["https://app.example.com"] }));
    const run = (spec: Parameters<typeof contextFor>[0]) => outcome(() => control.run(contextFor(spec)));
    assert.equal(await run({ url: "/login?next=/home" }), "passed");
    assert.equal(await run({ url: "/login?next=/home&next=//evil.example" }), "INVALID_RETURN_URL");
    assert.equal(await run({ url: "/login?next=%2F%2Fevil.example" }), "INVALID_RETURN_URL");
    assert.equal(await run({ url: "/login?other=//evil.example" }), "passed");
    const form = (body: string) => run({ method: "POST", url: "/login", headers: [["content-type", "application/x-www-form-urlencoded"]], body });
    assert.equal(await form("user=a&next=https%3A%2F%2Fapp.example.com%2Fx"), "passed");
    assert.equal(await form("user=a&next=https%3A%2F%2Fevil.example"), "INVALID_RETURN_URL");
    const json = (body: unknown) => run({ method: "POST", url: "/login", headers: [["content-type", "application/json; charset=utf-8"]], body: JSON.stringify(body) });
    assert.equal(await json({ redirect: { to: "/ok" } }), "passed");
    assert.equal(await json({ redirect: { to: "https://evil.example" } }), "INVALID_RETURN_URL");
    assert.equal(await json({ next: ["https://evil.example"] }), "INVALID_RETURN_URL");
    assert.equal(await json({ next: { href: "https://evil.example" } }), "INVALID_RETURN_URL");
    assert.equal(await run({ method: "POST", url: "/login", headers: [["content-type", "application/json"]], body: "{" }), "BAD_REQUEST");
    // Names as lenient frameworks read them: without case, with array brackets.
    assert.equal(await run({ url: "/login?NEXT=//evil.example" }), "INVALID_RETURN_URL");
    assert.equal(await run({ url: "/login?next[]=//evil.example" }), "INVALID_RETURN_URL");
    assert.equal(await run({ url: "/login?next%5B0%5D=//evil.example" }), "INVALID_RETURN_URL");
    assert.equal(await json({ Next: "https://evil.example" }), "INVALID_RETURN_URL");
    assert.equal(await json({ REDIRECT: { To: "https://evil.example" } }), "INVALID_RETURN_URL");
    const multipart = (field: string, value: string) =>
      run({
        method: "POST",
        url: "/login",
        headers: [["content-type", "multipart/form-data; boundary=XyZ"]],
        body: `--XyZ\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n${value}\r\n--XyZ--\r\n`,
      });
    assert.equal(await multipart("next", "//evil.example"), "INVALID_RETURN_URL");
    assert.equal(await multipart("next", "/home"), "passed");
    assert.equal(await run({ method: "POST", url: "/login", headers: [["content-type", "multipart/form-data; boundary=XyZ"]], body: "garbage" }), "BAD_REQUEST");
  });

  test("every way a framework reads a parameter or a body is checked: `;` pairs, PHP's folded names, JSON's other types, bodies of no or an unknown type", async () => {
    const control = returnUrlControl(returnUrlSchema.parse({ params: ["next", "return_to"], allow: ["https://app.example.com"] }));
    const run = (spec: Parameters<typeof contextFor>[0]) => outcome(() => control.run(contextFor(spec)));
    const post = (type: string | undefined, body: string) => run({ method: "POST", url: "/login", headers: type === undefined ? [] : [["content-type", type]], body });
    // Rack 2 and older Python split on `;`; PHP reads `return.to`, `return to` and `return[to` as `return_to`.
    for (const query of ["x=1;next=https://evil.example", "return.to=https://evil.example", "return+to=//evil.example", "return%5Bto=//evil.example", "next=%E0%A4%A"]) {
      assert.equal(await run({ url: `/login?${query}` }), "INVALID_RETURN_URL", query);
    }
    assert.equal(await post("application/x-www-form-urlencoded", "a=1;next=https://evil.example"), "INVALID_RETURN_URL");
    // JSON under the types ASP.NET Core (text/json) and Rails (application/jsonrequest) parse as JSON.
    for (const type of ["text/json", "application/jsonrequest", "application/x-json", "text/x-json", "application/vnd.api+json"]) {
      assert.equal(await post(type, '{"next":"https://evil.example"}'), "INVALID_RETURN_URL", type);
    }
    // Two equal keys: JSON.parse keeps the last, other parsers the first.
    assert.equal(await post("application/json", '{"next":"https://evil.example","next":"/home"}'), "BAD_REQUEST");
    // No Content-Type (Rack parses a form), an unknown one, or two: read as a form and as JSON.
    assert.equal(await post(undefined, "next=https://evil.example"), "INVALID_RETURN_URL");
    assert.equal(await post("text/plain", '{"next":"https://evil.example"}'), "INVALID_RETURN_URL");
    assert.equal(await run({ method: "POST", url: "/login", headers: [["content-type", "application/octet-stream"], ["content-type", "application/x-www-form-urlencoded"]], body: "next=//evil.example" }), "INVALID_RETURN_URL");
    // What a real app sends still passes.
    assert.equal(await post(undefined, "next=/home"), "passed");
    assert.equal(await post("text/plain", "just some text; with a semicolon"), "passed");
    assert.equal(await post("text/json", '{"next":"https://app.example.com/x"}'), "passed");
    assert.equal(await run({ url: "/login?return.to=/account;next=/home" }), "passed");
  });

  test("the body read for the check is the body passed on", async () => {
    const control = returnUrlControl(returnUrlSchema.parse({ params: ["next"], allow: ["https://app.example.com"] }));
    const ctx = contextFor({ method: "POST", url: "/login", headers: [["content-type", "application/json"]], body: '{"next":"/a"}' });
    assert.equal(await outcome(() => control.run(ctx)), "passed");
    assert.equal((ctx.forwardBody as Buffer).toString(), '{"next":"/a"}');
  });

  test("in: [query] never reads the body, so the decision API can run it", async () => {
    const control = returnUrlControl(returnUrlSchema.parse({ params: ["next"], allow: ["https://app.example.com"], in: ["query"] }));
    assert.equal(control.needsBody, undefined);
    assert.ok(returnUrlControl(returnUrlSchema.parse({ params: ["next"], allow: ["https://app.example.com"] })).needsBody);
  });
});
