import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { decodeJwt, SignJWT } from "jose";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";
import { LocalIdp } from "../helpers/idp.js";
import { proxyAvailable, startCaddy, startNginx, type RunningProxy } from "../helpers/proxies.js";
import { freePort } from "../helpers/ports.js";
import { rawRequest } from "../helpers/raw-http.js";

/**
 * The decision API behind real nginx (auth_request) and Caddy (forward_auth), each run with the
 * configuration shipped in examples/: clients must get what the gateway would answer, and must not
 * be able to steer the decision with headers of their own.
 */
const ISSUER = "https://idp.decision.test/";
const policy = (jwksUri: string) => ({
  version: 1,
  clients: { trustedProxies: ["127.0.0.1/32"] },
  jwt: { issuers: [{ issuer: ISSUER, jwksUri, audience: "api" }] },
  cors: { allowOrigins: ["https://app.example.com"] },
  routes: [
    { name: "site", match: { path: "/site/**" }, authenticate: "none" },
    { name: "site-reports", match: { path: "/site/reports/**", methods: ["GET"] }, authorize: { scopes: ["reports:read"] } },
    { name: "public", match: { path: "/public/**", methods: ["GET"] }, authenticate: "none" },
    { name: "limited", match: { path: "/limited/**" }, limits: [{ name: "tight", by: ["key"], rate: 2, per: "minute" }] },
    { name: "api", match: { path: "/api/**" }, authorize: { scopes: ["read"] }, shield: { inspectBody: false } },
  ],
});

interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
}

for (const [name, start] of [
  ["nginx", startNginx],
  ["caddy", startCaddy],
] as const) {
  describe(`decision API behind ${name}`, { skip: !proxyAvailable(name) && `${name} is not installed` }, () => {
    let gw: TestGateway;
    let proxy: RunningProxy;
    let key: string;
    let tenantId: string;
    const idp = new LocalIdp();

    before(async () => {
      await idp.start();
      gw = await startTestGateway(policy(idp.url), { decision: true });
      proxy = await start({ decisionUrl: gw.decisionUrl!, upstreamUrl: gw.upstreamUrl });
      ({ key, tenantId } = await tenantWithKey(gw, { scopes: ["read"] }));
    });
    after(async () => {
      await proxy?.close();
      await gw?.close();
      idp.server?.close();
    });

    const get = (path: string, headers: Record<string, string> = {}, method = "GET") => fetch(proxy.url + path, { method, headers });

    test("a valid key passes; the upstream gets the signed identity and not the credential", async () => {
      const response = await get("/api/items?q=1", { authorization: `Bearer ${key}`, "x-portcullis-identity": "forged" });
      assert.equal(response.status, 200, proxy.output());
      const echoed = (await response.json()) as Echoed;
      assert.equal(echoed.url, "/api/items?q=1");
      assert.equal(echoed.headers.authorization, undefined);
      const claims = decodeJwt(echoed.headers["x-portcullis-identity"]!);
      assert.equal(claims.tenant_id, tenantId);
      assert.equal(claims.scope, "read");
    });

    test("a JWT from the configured issuer passes and the identity names its subject; one for another audience does not", async () => {
      const signing = await idp.newKey(`k-${name}`);
      const sign = (audience: string) =>
        new SignJWT({ org_id: tenantId, scope: "read" })
          .setProtectedHeader({ alg: "RS256", kid: signing.kid })
          .setIssuer(ISSUER)
          .setSubject("user-7")
          .setAudience(audience)
          .setExpirationTime("1m")
          .sign(signing.privateKey);
      const response = await get("/api/items", { authorization: `Bearer ${await sign("api")}` });
      assert.equal(response.status, 200, proxy.output());
      const claims = decodeJwt(((await response.json()) as Echoed).headers["x-portcullis-identity"]!);
      assert.deepEqual([claims.sub, claims.tenant_id, claims.auth], ["user-7", tenantId, "jwt"]);
      const other = await get("/api/items", { authorization: `Bearer ${await sign("another-api")}` });
      assert.equal(other.status, 401);
    });

    test("an open route passes without a credential, and a client's own identity header never reaches the upstream", async () => {
      const response = await get("/public/page", { "x-portcullis-identity": "forged" });
      assert.equal(response.status, 200);
      // Absent (nginx) or empty (Caddy copies the decision's empty header): never the client's.
      assert.equal(((await response.json()) as Echoed).headers["x-portcullis-identity"] ?? "", "");
    });

    test("refusals reach the client as the gateway writes them: status, problem+json, Retry-After", async () => {
      const missing = await get("/api/items");
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(((await missing.json()) as { code: string }).code, "UNAUTHENTICATED");

      const attack = await get("/api/items?q=1'%20OR%201=1--", { authorization: `Bearer ${key}` });
      assert.equal(attack.status, 400);
      assert.equal(((await attack.json()) as { code: string }).code, "MALICIOUS_INPUT");

      const { key: limitedKey } = await tenantWithKey(gw);
      for (let i = 0; i < 2; i++) assert.equal((await get("/limited/x", { "x-api-key": limitedKey })).status, 200);
      const limited = await get("/limited/x", { "x-api-key": limitedKey });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      const body = (await limited.json()) as { code: string; status: number; limit: string; request_id: string };
      assert.deepEqual([body.code, body.status, body.limit], ["RATE_LIMITED", 429, "tight"]);
      assert.match(body.request_id, /^[0-9a-f-]{36}$/);

      const unknown = await get("/nowhere", { "x-api-key": key });
      assert.equal(unknown.status, 404);
    });

    test("a request shaped like a preflight is never let through: from an allowed origin the proxy answers 204, from any other it meets the route's controls", async () => {
      const shaped = (origin: string) =>
        fetch(`${proxy.url}/api/purge`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "content-type": "application/json" }, body: '{"all":true}' });
      const evil = await shaped("https://evil.example");
      assert.equal(evil.status, 401, proxy.output());
      assert.equal(((await evil.json()) as { code: string }).code, "UNAUTHENTICATED");
      const real = await shaped("https://app.example.com");
      assert.equal(real.status, 204, proxy.output());
      assert.equal(real.headers.get("access-control-allow-origin"), "https://app.example.com");
      assert.match(real.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.equal(await real.text(), "", "answered by the proxy, not the upstream's echo");
      // OPTIONS that is no preflight is an ordinary request for the route's controls.
      assert.equal((await get("/api/items", {}, "OPTIONS")).status, 401);
      const open = await get("/site/x", { origin: "https://evil.example", "access-control-request-method": "DELETE" }, "OPTIONS");
      assert.equal(open.status, 200, "on an open route it reaches the upstream as OPTIONS, under that route's controls");
      assert.equal(((await open.json()) as Echoed).method, "OPTIONS");
    });

    test("HEAD is decided as GET is: a GET-only route's scope holds for HEAD, which never falls to the open catch-all", async () => {
      for (const method of ["GET", "HEAD"]) {
        assert.equal((await get("/site/reports/q3", {}, method)).status, 401, method);
        assert.equal((await get("/site/reports/q3", { "x-api-key": key }, method)).status, 403, `${method} without reports:read`);
      }
      assert.equal((await get("/site/about", {}, "HEAD")).status, 200);
    });

    test("a client cannot describe another request: forged X-Original-* and X-Forwarded-* pick no other route or method", async () => {
      const forged = {
        "x-original-uri": "/public/page",
        "x-original-method": "GET",
        "x-forwarded-uri": "/public/page",
        "x-forwarded-method": "GET",
        "x-original-url": "http://example.com/public/page",
      };
      const response = await get("/api/items", forged);
      assert.ok(response.status === 401 || response.status === 400, `got ${response.status}`);
      assert.notEqual(response.status, 200);
      // POST is not open on the public route, whatever the client says the method is.
      const post = await get("/public/page", forged, "POST");
      assert.notEqual(post.status, 200);
    });

    test("headers by which a framework would serve another path or believe another client never reach the upstream", async () => {
      const forged = {
        "x-original-url": "/admin",
        "x-rewrite-url": "/admin",
        "x-original-host": "admin.internal",
        "x-host": "admin.internal",
        forwarded: "for=10.0.0.1;proto=https",
        "x-client-ip": "10.0.0.1",
        "true-client-ip": "10.0.0.1",
        "cf-connecting-ip": "10.0.0.1",
        "x-real-ip": "10.0.0.1",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "x-forwarded-prefix": "/admin",
        "x-forwarded-ssl": "on",
        "x-forwarded-scheme": "https",
        "x-url-scheme": "https",
        "x-scheme": "https",
        "front-end-https": "on",
        "x-forwarded-server": "admin.internal",
        "x-forwarded": "for=10.0.0.1",
        "forwarded-for": "10.0.0.1",
        "x-original-forwarded-for": "10.0.0.1",
        "x-envoy-external-address": "10.0.0.1",
      };
      const response = await get("/public/page", forged);
      assert.equal(response.status, 200, proxy.output());
      const seen = ((await response.json()) as Echoed).headers;
      for (const [name, value] of Object.entries(forged)) assert.notEqual(seen[name], value, `${name} reached the upstream as the client sent it`);
      assert.equal(seen["x-forwarded-for"], "127.0.0.1");
      // Underscore spellings, which CGI-style stacks read as the dashed names: dropped by nginx, refused by Portcullis behind Caddy.
      for (const name of ["X_Forwarded_For", "X_Real_IP", "X_Portcullis_Identity"]) {
        const { status, text } = await rawRequest(proxy.url, `GET /public/page HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\n${name}: 10.0.0.1\r\nConnection: close\r\n\r\n`);
        assert.ok(status === 400 || (status === 200 && !text.toLowerCase().includes(name.toLowerCase())), `${name}: ${status}`);
      }
    });

    test("a path the proxy normalises is decided as sent: dot segments and encodings cannot reach a route through the open one", async () => {
      const host = new URL(proxy.url).host;
      for (const target of ["/public/../api/items", "/public/%2e%2e/api/items", "/public/%2E%2E%2Fapi/items", "/public/..;/api/items", "/public//../api/items", `http://${host}/api/items`]) {
        const { status, text } = await rawRequest(proxy.url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.ok(status === 400 || status === 401, `${target}: ${status}`);
        assert.doesNotMatch(text, /x-portcullis-identity/i, `${target} reached the upstream`);
      }
    });

    test("address lists and blocks hold, and a forged X-Forwarded-For does not get around them", async () => {
      const other = await tenantWithKey(gw, { scopes: ["read"] });
      assert.equal((await gw.admin("PUT", `/admin/v1/tenants/${other.tenantId}/ip-rules`, { allow: ["192.0.2.0/24"], deny: [] })).status, 200);
      const denied = await get("/api/items", { "x-api-key": other.key, "x-forwarded-for": "192.0.2.7", "x-real-ip": "192.0.2.7" });
      assert.equal(denied.status, 403);
      assert.equal(((await denied.json()) as { code: string }).code, "IP_DENIED");

      assert.equal((await gw.admin("POST", "/admin/v1/blocks", { client: "127.0.0.1", seconds: 60 })).status, 201);
      try {
        const blocked = await get("/public/page", { "x-forwarded-for": "198.51.100.1" });
        assert.equal(blocked.status, 403);
        assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
        assert.equal(((await blocked.json()) as { code: string }).code, "BLOCKED");
      } finally {
        await gw.admin("POST", "/admin/v1/blocks/lift", { client: "127.0.0.1" });
      }
      assert.equal((await get("/public/page")).status, 200);
    });

    // Caddy's forward_auth copies the decision's headers to the upstream request only.
    if (name === "nginx") test("RateLimit state reaches the client on an admitted request", async () => {
      const { key: limitedKey } = await tenantWithKey(gw);
      const response = await get("/limited/x", { "x-api-key": limitedKey });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("ratelimit-policy"), '"tight";q=2;w=60');
      assert.match(response.headers.get("ratelimit") ?? "", /^"tight";r=1;t=\d+$/);
    });
  });
}

test("the shipped proxy configurations clear every header the gateway strips, so they cannot drift from its list", async () => {
  const { readFile } = await import("node:fs/promises");
  const { GATEWAY_OWNED_HEADERS, PREFIXED_GATEWAY_HEADERS } = await import("../../src/forward/forwarder.js");
  const nginx = (await readFile(new URL("../../../examples/nginx/nginx.conf", import.meta.url), "utf8")).toLowerCase();
  const caddy = (await readFile(new URL("../../../examples/caddy/Caddyfile", import.meta.url), "utf8")).toLowerCase();
  const apiLocation = nginx.slice(nginx.indexOf("location / {"), nginx.indexOf("location = /.portcullis/decide"));
  const apiProxy = caddy.slice(caddy.indexOf("reverse_proxy 127.0.0.1:3000"));
  // What each proxy sets itself, from its own facts, rather than clearing.
  const caddySets = new Set(["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id", "x-portcullis-identity"]);
  const missing: string[] = [];
  for (const name of [...GATEWAY_OWNED_HEADERS, ...PREFIXED_GATEWAY_HEADERS]) {
    if (!new RegExp(`proxy_set_header ${name} `).test(apiLocation)) missing.push(`nginx: ${name}`);
    if (!caddySets.has(name) && !apiProxy.includes(`header_up -${name}\n`)) missing.push(`caddy: ${name}`);
  }
  assert.deepEqual(missing, []);
});

for (const [name, start] of [
  ["nginx", startNginx],
  ["caddy", startCaddy],
] as const) {
  test(`with the decision API unreachable, nothing passes ${name}`, { skip: !proxyAvailable(name) && `${name} is not installed` }, async () => {
    const upstream = await startEchoUpstream();
    const proxy = await start({ decisionUrl: `http://127.0.0.1:${await freePort()}`, upstreamUrl: upstream.url });
    try {
      const response = await fetch(`${proxy.url}/public/page`);
      assert.ok(response.status >= 500, `got ${response.status}`);
      assert.doesNotMatch(await response.text(), /"url":/, "the echo upstream never answered");
      if (name === "nginx") assert.equal(response.status, 503, "the example's error page answers as the gateway would");
    } finally {
      await proxy.close();
      upstream.server.closeAllConnections();
      upstream.server.close();
    }
  });
}

