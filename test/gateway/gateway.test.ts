import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createIdentityVerifier } from "../../src/forward/identity-assertion.js";
import { generateApiKey } from "../../src/identity/api-keys/format.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";
import { rawRequest } from "../helpers/raw-http.js";

const POLICY = {
  version: 1,
  cors: { allowOrigins: ["https://app.example.com"], allowCredentials: true },
  routes: [
    { name: "default", match: { path: "/**" } },
    { name: "public", match: { path: "/public/**", methods: ["GET"] }, authenticate: "none" },
    { name: "admin", match: { path: "/admin/**" }, authorize: { scopes: ["admin"] } },
    { name: "secret", match: { path: "/secret/**" }, authorize: { scopes: ["secret"], onDenied: "not_found" } },
    { name: "live-only", match: { path: "/payments/**" }, authenticate: { methods: ["apiKey"], keyEnv: "live" } },
  ],
};

type Echo = { method: string; url: string; headers: Record<string, string>; body_bytes: number };

describe("gateway: authentication, forwarding and the request's path", () => {
  let gw: TestGateway;
  let key: string;
  let keyId: string;
  let tenantId: string;

  before(async () => {
    gw = await startTestGateway(POLICY);
    ({ key, keyId, tenantId } = await tenantWithKey(gw, { scopes: ["read"] }));
  });
  after(() => gw.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(gw.url + path, { headers });
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

  test("an authenticated request reaches the upstream with a verifiable signed identity", async () => {
    const response = await get("/orders/1?expand=items", bearer(key));
    assert.equal(response.status, 200);
    const echo = (await response.json()) as Echo;
    assert.equal(echo.url, "/orders/1?expand=items");
    const verify = createIdentityVerifier({ jwksUrl: `${gw.url}/.well-known/jwks.json`, audience: new URL(gw.upstreamUrl).origin });
    const claims = await verify(echo.headers["x-portcullis-identity"]!);
    assert.equal(claims.tenant_id, tenantId);
    assert.equal(claims.sub, keyId);
    assert.equal(claims.scope, "read");
    assert.equal(claims.auth, "api_key");
    assert.equal(claims.env, "test");
    assert.equal(echo.headers.authorization, undefined, "the key is not passed on");
    assert.equal(response.headers.get("x-request-id"), echo.headers["x-request-id"]);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("x-frame-options"), "DENY");
  });

  test("identity and forwarding headers from the client are replaced, hop-by-hop headers dropped", async () => {
    const response = await get("/x", {
      ...bearer(key),
      "x-portcullis-identity": "forged",
      "X-Portcullis-Tenant": "00000000-0000-4000-8000-000000000000",
      "x-forwarded-for": "10.0.0.1",
      "x-forwarded-host": "evil.example",
      forwarded: "for=10.0.0.1",
      "x-real-ip": "10.0.0.1",
      "x-request-id": "client-chosen",
      "x-original-url": "/admin/users",
      "x-rewrite-url": "/admin/users",
      "x-host": "evil.example",
      "x-client-ip": "10.0.0.1",
      "true-client-ip": "10.0.0.1",
      "cf-connecting-ip": "10.0.0.1",
      "fastly-client-ip": "10.0.0.1",
      "x-cluster-client-ip": "10.0.0.1",
      "x-forwarded": "for=10.0.0.1",
      "forwarded-for": "10.0.0.1",
      "x-scheme": "https",
      "front-end-https": "on",
    });
    const echo = (await response.json()) as Echo;
    for (const name of ["x-client-ip", "true-client-ip", "cf-connecting-ip", "fastly-client-ip", "x-cluster-client-ip", "x-forwarded", "forwarded-for", "x-scheme", "front-end-https"]) {
      assert.equal(echo.headers[name], undefined, `${name} would let the client pick its address or scheme upstream`);
    }
    for (const name of ["x-original-url", "x-rewrite-url", "x-host"]) assert.equal(echo.headers[name], undefined, `${name} could make the upstream serve another path or host`);
    assert.notEqual(echo.headers["x-portcullis-identity"], "forged");
    assert.equal(echo.headers["x-portcullis-tenant"], undefined);
    assert.equal(echo.headers["x-forwarded-for"], "127.0.0.1");
    assert.notEqual(echo.headers["x-forwarded-host"], "evil.example");
    assert.equal(echo.headers.forwarded, undefined);
    assert.equal(echo.headers["x-real-ip"], undefined);
    assert.notEqual(echo.headers["x-request-id"], "client-chosen");

    // Underscores spell the same names to CGI-style upstreams (PHP, Rack, WSGI).
    const underscored = await get("/x", {
      ...bearer(key),
      X_Forwarded_For: "10.0.0.1",
      X_Real_IP: "10.0.0.1",
      X_Portcullis_Identity: "forged",
      X_HTTP_Method_Override: "DELETE",
      X_Api_Key: "sk_live_other",
      "x-custom_name": "1",
    });
    assert.equal(underscored.status, 200);
    const underscoredEcho = (await underscored.json()) as Echo;
    assert.deepEqual(
      Object.keys(underscoredEcho.headers).filter((name) => name.includes("_")),
      [],
      "no header named with an underscore reaches the upstream",
    );

    // fetch never sends Connection, so hop-by-hop handling is tested on the wire.
    const host = new URL(gw.url).host;
    const raw = await rawRequest(
      gw.url,
      `GET /x HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nConnection: close, x-internal-secret\r\nX-Internal-Secret: s3cr3t\r\nTE: trailers\r\nKeep-Alive: timeout=99\r\n\r\n`,
    );
    assert.equal(raw.status, 200);
    const forwarded = JSON.parse(raw.text.slice(raw.text.indexOf("\r\n\r\n") + 4)) as Echo;
    assert.equal(forwarded.headers["x-internal-secret"], undefined);
    assert.equal(forwarded.headers.te, undefined);
    assert.equal(forwarded.headers["keep-alive"], undefined);
  });

  test("unknown, revoked, expired, malformed-checksum and wrong-env keys all get the same answer", async () => {
    const revoked = await tenantWithKey(gw);
    await gw.admin("POST", `/admin/v1/keys/${revoked.keyId}/revoke`);
    const candidates = [
      generateApiKey("live").key,
      generateApiKey("test").key,
      revoked.key,
      key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"),
      "sk_live_short",
      "not-a-key-at-all",
      "eyJhbGciOiJSUzI1NiJ9.e30.sig",
    ];
    const bodies = new Set<string>();
    for (const candidate of candidates) {
      const response = await get("/orders", bearer(candidate));
      assert.equal(response.status, 401, candidate);
      assert.equal(response.headers.get("content-type"), "application/problem+json");
      const body = (await response.json()) as Record<string, unknown>;
      assert.equal(body.request_id, response.headers.get("x-request-id"));
      delete body.request_id;
      bodies.add(JSON.stringify(body));
    }
    assert.equal(bodies.size, 1, [...bodies].join("\n"));
    const none = await get("/orders");
    assert.equal(none.status, 401);
  });

  test("revocation and suspension through the admin API apply to the very next request", async () => {
    const victim = await tenantWithKey(gw);
    assert.equal((await get("/x", bearer(victim.key))).status, 200);
    await gw.admin("POST", `/admin/v1/keys/${victim.keyId}/revoke`);
    assert.equal((await get("/x", bearer(victim.key))).status, 401);

    const other = await tenantWithKey(gw);
    assert.equal((await get("/x", bearer(other.key))).status, 200);
    await gw.admin("POST", `/admin/v1/tenants/${other.tenantId}/suspend`);
    assert.equal((await get("/x", bearer(other.key))).status, 401);
    await gw.admin("POST", `/admin/v1/tenants/${other.tenantId}/activate`);
    assert.equal((await get("/x", bearer(other.key))).status, 200);
  });

  test("X-API-Key works alone; two credentials, duplicated headers or malformed ones are 400", async () => {
    assert.equal((await get("/x", { "x-api-key": key })).status, 200);
    const both = await get("/x", { ...bearer(key), "x-api-key": key });
    assert.equal(both.status, 400);
    assert.equal(((await both.json()) as { code: string }).code, "AMBIGUOUS_CREDENTIALS");

    const host = new URL(gw.url).host;
    const twice = await rawRequest(gw.url, `GET /x HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${generateApiKey("test").key}\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    assert.equal(twice.status, 400);
    assert.match(twice.text, /AMBIGUOUS_CREDENTIALS/);
    const twoKeys = await rawRequest(gw.url, `GET /x HTTP/1.1\r\nHost: ${host}\r\nX-API-Key: ${key}\r\nx-api-key: ${key}\r\nConnection: close\r\n\r\n`);
    assert.equal(twoKeys.status, 400);

    for (const authorization of [`Basic ${Buffer.from("a:b").toString("base64")}`, "Bearer", `Bearer ${"a".repeat(9000)}`, `Bearer ${key} extra`, "Bearer <script>", `Bearer${" ".repeat(8000)}x y`]) {
      const response = await get("/x", { authorization });
      assert.equal(response.status, 400, authorization.slice(0, 40));
      assert.equal(((await response.json()) as { code: string }).code, "MALFORMED_CREDENTIALS");
    }
    const huge = await rawRequest(gw.url, `GET /x HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${"a".repeat(20_000)}\r\nConnection: close\r\n\r\n`);
    assert.ok(huge.status >= 400 && huge.status < 500, `oversized header answered ${huge.status}`);
  });

  test("a test key never reaches a live-only route; a live key does", async () => {
    const test = await get("/payments/1", bearer(key));
    assert.equal(test.status, 403);
    assert.equal(((await test.json()) as { code: string }).code, "FORBIDDEN");
    const live = await tenantWithKey(gw, { env: "live" });
    assert.equal((await get("/payments/1", bearer(live.key))).status, 200);
  });

  test("scopes are enforced, with 404 where existence must not leak", async () => {
    assert.equal((await get("/admin/users", bearer(key))).status, 403);
    const secret = await get("/secret/doc", bearer(key));
    assert.equal(secret.status, 404);
    assert.equal(((await secret.json()) as { code: string }).code, "NOT_FOUND");
    const admin = await tenantWithKey(gw, { scopes: ["admin", "secret"] });
    assert.equal((await get("/admin/users", bearer(admin.key))).status, 200);
    assert.equal((await get("/secret/doc", bearer(admin.key))).status, 200);
  });

  test("path tricks cannot reach a protected route through the open one", async () => {
    assert.equal((await get("/public/docs")).status, 200, "the open route is open");
    const host = new URL(gw.url).host;
    const tricks = [
      "/public/../admin/users",
      "/public/%2e%2e/admin/users",
      "/public/%2E%2e/admin/users",
      "/public%2F..%2Fadmin/users",
      "/public/..%5cadmin/users",
      "/public/%252e%252e/admin/users",
      "/public//../admin/users",
      "/public/.;/admin/users",
      "/PUBLIC/../ADMIN/users",
      "/admin%20/users",
      "/admin%09/users",
      "/ad%e2%80%8bmin/users",
    ];
    for (const path of tricks) {
      const response = await rawRequest(gw.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(response.status, 400, `${path} answered ${response.status}`);
      assert.match(response.text, /INVALID_PATH/);
    }
    assert.equal((await get("/ADMIN/users")).status, 401, "case does not dodge the admin route");
    assert.equal((await get("/Admin/users", bearer(key))).status, 403);
    const post = await fetch(`${gw.url}/public/docs`, { method: "POST" });
    assert.equal(post.status, 401, "the open route is GET only; other methods fall to the default route");
  });

  test("a segment ending in a dot is not another route (IIS strips it): refused unless the policy allows it", async () => {
    const host = new URL(gw.url).host;
    for (const path of ["/admin./users", "/admin%2e/users", "/public/docs.", "/admin.../users"]) {
      const response = await rawRequest(gw.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(response.status, 400, path);
      assert.match(response.text, /INVALID_PATH/, path);
    }
    const lenient = await startTestGateway({ version: 1, paths: { allowTrailingDots: true }, routes: [{ name: "open", match: { path: "/**" }, authenticate: "none" }] });
    try {
      assert.equal((await fetch(`${lenient.url}/hosts/example.com.`)).status, 200);
    } finally {
      await lenient.close();
    }
  });

  test("the upstream runs the method the route was chosen by: no overrides, no TRACE", async () => {
    const overrides: [string, Record<string, string>][] = [
      ["/public/docs", { "x-http-method-override": "DELETE" }],
      ["/public/docs", { "X-HTTP-Method": "PUT" }],
      ["/public/docs", { "x-method-override": "DELETE" }],
      ["/public/docs?_method=DELETE", {}],
      ["/public/docs?a=1&%5Fmethod=delete", {}],
      ["/public/docs?_METHOD=DELETE", {}],
    ];
    for (const [path, headers] of overrides) {
      const response = await get(path, headers);
      assert.equal(response.status, 400, `${path} ${JSON.stringify(headers)}`);
      assert.equal(((await response.json()) as { code: string }).code, "BAD_REQUEST");
    }
    assert.equal((await get("/public/docs?method=card&payment_method=x")).status, 200, "other parameters that mention a method pass");
    const host = new URL(gw.url).host;
    for (const method of ["TRACE", "PROPFIND", "CONNECT"]) {
      const target = method === "CONNECT" ? host : "/orders/1";
      const response = await rawRequest(gw.url, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
      assert.notEqual(response.status, 200, `${method} is never forwarded, not even on a route open to any method`);
      if (method !== "CONNECT") assert.match(response.text, /METHOD_NOT_ALLOWED/);
    }
  });

  test("bodies stream through in both directions", async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const response = await fetch(`${gw.url}/upload`, { method: "POST", headers: { ...bearer(key), "content-type": "application/octet-stream" }, body });
    assert.equal(((await response.json()) as Echo).body_bytes, body.length);
  });

  test("a client that sends Expect: 100-continue gets its 100 and its answer (curl does, for larger uploads)", async () => {
    const body = Buffer.alloc(5_000, 1);
    const { status, echo, continued } = await new Promise<{ status: number; echo: Echo; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request(`${gw.url}/upload`, { method: "POST", headers: { ...bearer(key), expect: "100-continue", "content-type": "application/octet-stream", "content-length": body.length } });
      req.on("continue", () => {
        continued = true;
        req.end(body);
      });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, echo: JSON.parse(text) as Echo, continued }));
      });
      req.on("error", reject);
    });
    assert.equal(continued, true);
    assert.equal(status, 200);
    assert.equal(echo.body_bytes, body.length);
    assert.equal(echo.headers.expect, undefined, "the expectation was met here, not passed on");
  });

  test("gateway endpoints, 404s and preflights carry x-request-id and safe headers", async () => {
    for (const path of ["/health/live", "/health/ready", "/.well-known/jwks.json"]) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.ok(response.headers.get("x-request-id"), path);
      await response.arrayBuffer();
    }
    // Status and metrics say when Redis is down, which version runs and what traffic each route
    // gets: on the admin port only, unless the policy makes them public.
    for (const path of ["/health/status", "/health/metrics"]) {
      const hidden = await get(path, bearer(key));
      assert.equal(hidden.status, 404, path);
      assert.equal(((await hidden.json()) as { code: string }).code, "NOT_FOUND");
    }
    const admin = (path: string) => fetch(gw.adminUrl + path);
    const status = (await (await admin("/health/status")).json()) as { version: string; stores: { durable: string } };
    assert.equal(status.stores.durable, "pglite");
    assert.match(status.version, /^\d+\.\d+\.\d+/);
    const metrics = await (await admin("/health/metrics")).text();
    assert.match(metrics, /portcullis_requests_total\{route="default",outcome="forwarded"\} \d+/);
    assert.match(metrics, /portcullis_rejections_total\{code="UNAUTHENTICATED"\} \d+/);
    assert.match(metrics, /portcullis_request_duration_seconds_bucket/);
  });

  test("CORS answers only listed origins; preflights never reach the upstream", async () => {
    const allowed = await get("/x", { ...bearer(key), origin: "https://app.example.com" });
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
    const denied = await get("/x", { ...bearer(key), origin: "https://evil.example" });
    assert.equal(denied.headers.get("access-control-allow-origin"), null);
    const preflight = await fetch(`${gw.url}/x`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "DELETE" },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-methods")!, /DELETE/);
  });

  test("logs never carry a key, an authorization or cookie header, or a body", async () => {
    await get("/x?token=abc", { ...bearer(key), cookie: "session=cookie-secret-value" });
    await fetch(`${gw.url}/x`, { method: "POST", headers: bearer(key), body: "body-secret-value" });
    await get("/x", bearer(generateApiKey("live").key));
    const text = gw.logs.join("");
    assert.ok(text.includes('"msg":"request"'), "access log lines are written");
    for (const secret of [key, key.slice(8), "cookie-secret-value", "body-secret-value", "Bearer", "token=abc"]) {
      assert.ok(!text.includes(secret), `log contains ${secret}`);
    }
  });
});

describe("gateway: upstream failures", () => {
  test("a client that leaves before the answer frees the upstream at once; a slow reader gets every byte", async () => {
    let upstreamSawClose: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (upstreamSawClose = resolve));
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const upstream = createServer((req, res) => {
      if (req.url === "/slow") return void req.socket.once("close", upstreamSawClose);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": big.length }).end(big);
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const local = await startTestGateway(POLICY, { upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
    try {
      const { key: localKey } = await tenantWithKey(local);
      const gone = request(`${local.url}/slow`, { headers: { authorization: `Bearer ${localKey}` } });
      gone.on("error", () => undefined);
      gone.end();
      await new Promise((resolve) => setTimeout(resolve, 100));
      gone.destroy();
      const outcome = await Promise.race([closed.then(() => "upstream freed"), new Promise((resolve) => setTimeout(() => resolve("upstream still waiting"), 2_000))]);
      assert.equal(outcome, "upstream freed");
      for (let attempt = 0; attempt < 50 && !local.logs.some((line) => line.includes('"status":499')); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(local.logs.some((line) => line.includes('"status":499')), "the access log says the client left");

      // Read in small sips with pauses: the gateway must hold the upstream back, not drop or reorder bytes.
      const received = await new Promise<Buffer>((resolve, reject) => {
        request(`${local.url}/big`, { headers: { authorization: `Bearer ${localKey}` } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => {
            chunks.push(chunk);
            res.pause();
            setTimeout(() => res.resume(), 1);
          });
          res.on("end", () => resolve(Buffer.concat(chunks)));
          res.on("error", reject);
        })
          .on("error", reject)
          .end();
      });
      assert.equal(received.length, big.length);
      assert.ok(received.equals(big), "every byte, in order");
    } finally {
      await local.close();
      upstream.closeAllConnections();
      upstream.close();
    }
  });

  test("an unreachable upstream is 502 and a silent one 504, as problem+json", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const gw = await startTestGateway(
      {
        version: 1,
        routes: [
          { name: "down", match: { path: "/down/**" }, forward: { upstream: "http://127.0.0.1:9" } },
          { name: "slow", match: { path: "/slow/**" }, forward: { upstream: silentUrl, headersTimeoutMs: 200 } },
        ],
        health: { public: ["live", "ready", "status", "metrics"] },
      },
      { upstreamUrl: "http://127.0.0.1:9" },
    );
    try {
      const { key } = await tenantWithKey(gw);
      const down = await fetch(`${gw.url}/down/x`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(down.status, 502);
      assert.equal(((await down.json()) as { code: string }).code, "UPSTREAM_UNAVAILABLE");
      const slow = await fetch(`${gw.url}/slow/x`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(slow.status, 504);
      const body = (await slow.json()) as Record<string, unknown>;
      assert.equal(body.code, "UPSTREAM_TIMEOUT");
      assert.deepEqual(Object.keys(body).sort(), ["code", "request_id", "status", "title", "type"]);
      assert.equal((await fetch(`${gw.url}/health/metrics`)).status, 200, "a policy can make metrics public");
      const failures = gw.logs.filter((line) => line.includes("upstream request failed"));
      assert.ok(failures.some((line) => line.includes('"upstream_error":"ECONNREFUSED"')), "the operator's log says why, the client's answer does not");
      assert.ok(failures.some((line) => line.includes('"upstream_error":"UND_ERR_HEADERS_TIMEOUT"')));
    } finally {
      await gw.close();
      silent.closeAllConnections();
      silent.close();
    }
  });

  test("readiness is 503 while the store is unreachable", async () => {
    const gw = await startTestGateway();
    try {
      assert.equal((await fetch(`${gw.url}/health/ready`)).status, 200);
      await gw.gateway.db.close();
      const response = await fetch(`${gw.url}/health/ready`);
      assert.equal(response.status, 503);
      assert.equal((await fetch(`${gw.url}/health/live`)).status, 200);
    } finally {
      await gw.close().catch(() => undefined);
    }
  });
});

describe("gateway: CORS is the gateway's alone", () => {
  test("an upstream that reflects any origin cannot undo the allow-list; its Vary is kept", async () => {
    const upstream = createServer((req, res) => {
      res.writeHead(200, {
        "access-control-allow-origin": req.headers.origin ?? "*",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-internal-token",
        vary: "Accept-Encoding",
        "content-type": "text/plain",
      });
      res.end("ok");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const gw = await startTestGateway(POLICY, { upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
    try {
      const { key } = await tenantWithKey(gw);
      const evil = await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${key}`, origin: "https://evil.example" } });
      assert.equal(evil.status, 200);
      for (const name of ["access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"]) {
        assert.equal(evil.headers.get(name), null, `${name} came through from the upstream`);
      }
      assert.equal(evil.headers.get("vary"), "Accept-Encoding, Origin");
      const listed = await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${key}`, origin: "https://app.example.com" } });
      assert.equal(listed.headers.get("access-control-allow-origin"), "https://app.example.com");
      assert.equal(listed.headers.get("access-control-expose-headers"), "x-request-id", "the gateway's list, not the upstream's");
      const sameOrigin = await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(sameOrigin.headers.get("vary"), "Accept-Encoding");
      assert.equal(sameOrigin.headers.get("access-control-allow-origin"), null);
    } finally {
      await gw.close();
      upstream.close();
    }
  });
});
