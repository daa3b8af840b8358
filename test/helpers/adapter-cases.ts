import assert from "node:assert/strict";
import { test } from "node:test";
import { InProcessPortcullis, parsePolicy } from "../../src/adapters/in-process.js";
import { createLogger } from "../../src/observability/logger.js";
import { rawRequest } from "./raw-http.js";

/** One policy for every framework adapter, so each is held to the same cases as the gateway. */
export const ADAPTER_POLICY = parsePolicy(
  {
    version: 1,
    blocking: { enabled: false },
    cors: { allowOrigins: ["https://app.example.com"] },
    routes: [
      { name: "open", match: { path: "/open" }, authenticate: "none" },
      { name: "big", match: { path: "/big" }, authenticate: "none", shield: { maxBodyBytes: 64, checks: { bodySize: "monitor" } } },
      { name: "lenient", match: { path: "/lenient" }, authenticate: "none", shield: { checks: { encoding: "monitor" } } },
      { name: "idem", match: { path: "/idem" }, idempotency: {} },
      { name: "reports", match: { path: "/reports/**", methods: ["GET"] }, authorize: { scopes: ["reports:read"] }, limits: [{ name: "reports", by: ["key"], rate: 2, per: "minute" }] },
      { name: "site", match: { path: "/site/**" }, authenticate: "none" },
      { name: "site-reports", match: { path: "/site/reports/**", methods: ["GET"] }, authorize: { scopes: ["reports:read"] } },
      {
        name: "api",
        match: { path: "/api/:thing" },
        limits: [{ name: "per-key", by: ["key"], rate: 3, per: "minute" }],
        shield: {},
        quotas: [{ name: "tokens", by: "tenant", limit: 1000, per: "day", cost: { header: "x-cost" } }],
      },
    ],
  },
  "adapter-policy",
);

export function adapterInstance(): Promise<InProcessPortcullis> {
  return InProcessPortcullis.create({ policy: ADAPTER_POLICY, logger: createLogger({ level: "silent" }) });
}

/** What each test app's handler answers: the caller Portcullis handed it, and the body it parsed. */
export interface HandlerView {
  portcullis: { route: string; tenantId?: string; principal?: { id: string; kind: string }; params: Record<string, string>; requestId: string } | null;
  body: unknown;
}

/**
 * The cases every adapter must pass, from the attacker's side where they apply. `app` answers
 * every path with a handler that returns `HandlerView` as JSON and sets `x-cost: 7`.
 */
export function adapterCases(
  framework: string,
  setup: () => { url: string; instance: InProcessPortcullis },
  /** A body over a monitoring shield's limit: handed on whole, or refused where only its unread rest could be. */
  oversized: "whole" | "refused" = "whole",
): void {
  const keyFor = async (instance: InProcessPortcullis) => {
    const tenant = await instance.core.tenants.create("t");
    const issued = await instance.core.keys.create(tenant.id, { env: "test", scopes: [] });
    return { tenantId: tenant.id, key: issued.key, keyId: issued.id };
  };
  const call = (path: string, init: RequestInit = {}) => fetch(setup().url + path, init);
  const code = async (response: Response) => ((await response.json()) as { code: string }).code;

  test(`${framework}: no credential is a 401 problem; a valid key reaches the handler with its tenant and route`, async () => {
    const refused = await call("/api/widgets");
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(await code(refused), "UNAUTHENTICATED");
    const { tenantId, key, keyId } = await keyFor(setup().instance);
    const passed = await call("/api/widgets", { headers: { authorization: `Bearer ${key}` } });
    assert.equal(passed.status, 200);
    assert.match(passed.headers.get("ratelimit") ?? "", /^"per-key";r=2;t=\d+$/);
    const view = (await passed.json()) as HandlerView;
    assert.deepEqual([view.portcullis?.route, view.portcullis?.tenantId, view.portcullis?.principal?.id, view.portcullis?.params.thing], ["api", tenantId, keyId, "widgets"]);
    const open = (await (await call("/open")).json()) as HandlerView;
    assert.equal(open.portcullis?.principal, undefined);
  });

  test(`${framework}: limits refuse with 429 and Retry-After once the allowance is spent`, async () => {
    const { key } = await keyFor(setup().instance);
    for (let i = 0; i < 3; i++) assert.equal((await call("/api/x", { headers: { "x-api-key": key } })).status, 200);
    const limited = await call("/api/x", { headers: { "x-api-key": key } });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal(await code(limited), "RATE_LIMITED");
  });

  test(`${framework}: the shield refuses attacks in the query and body; a clean body reaches the handler as inspected`, async () => {
    const { key } = await keyFor(setup().instance);
    const headers = { "x-api-key": key, "content-type": "application/json" };
    assert.equal(await code(await call("/api/x?q=1%27%20OR%201%3D1--", { headers })), "MALICIOUS_INPUT");
    const xss = await call("/api/x", { method: "POST", headers, body: JSON.stringify({ comment: "<svg onload=alert(1)>" }) });
    assert.equal(xss.status, 400);
    assert.equal(await code(xss), "MALICIOUS_INPUT");
    const twice = await call("/api/x", { method: "POST", headers, body: '{"role":"user","role":"admin"}' });
    assert.equal(await code(twice), "INVALID_ENCODING");
  });

  test(`${framework}: a clean JSON body reaches the handler, parsed from the bytes the shield read`, async () => {
    const { key } = await keyFor(setup().instance);
    const clean = await call("/api/x", { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify({ name: "widget", n: 3 }) });
    assert.equal(clean.status, 200);
    assert.deepEqual(((await clean.json()) as HandlerView).body, { name: "widget", n: 3 });
  });

  test(`${framework}: a body over a monitoring shield's limit is never handed on cut short`, async () => {
    const payload = { text: "x".repeat(2_000) };
    const text = JSON.stringify(payload);
    // With a length the shield reads nothing and the stream is left whole.
    assert.equal((await call("/big", { method: "POST", headers: { "content-type": "application/json" }, body: text })).status, 200);
    // Chunked, the shield has read some of it before it knows: what it read must go on too.
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < text.length; i += 500) controller.enqueue(new TextEncoder().encode(text.slice(i, i + 500)));
        controller.close();
      },
    });
    const response = await call("/big", { method: "POST", headers: { "content-type": "application/json" }, body: chunked, duplex: "half" } as RequestInit);
    if (oversized === "refused") {
      assert.equal(response.status, 413);
      return;
    }
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as HandlerView).body, payload);
  });

  test(`${framework}: path and header tricks are refused before any handler runs`, async () => {
    const { key } = await keyFor(setup().instance);
    // Sent byte for byte: fetch would resolve the encoded dot segments itself.
    for (const path of ["/api/..%2fopen", "/api/x%2e%2e", "/api./x", "/api/%2e%2e/open", "/api/../open"]) {
      const response = await rawRequest(setup().url, `GET ${path} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nConnection: close\r\n\r\n`);
      assert.equal(response.status, 400, path);
      assert.match(response.text, /"code":"INVALID_PATH"/, path);
    }
    assert.equal(await code(await call("/api/x", { headers: { "x-api-key": key, authorization: `Bearer ${key}` } })), "AMBIGUOUS_CREDENTIALS");
    assert.equal(await code(await call("/api/x", { headers: { "x-api-key": key, "x-http-method-override": "DELETE" } })), "BAD_REQUEST");
  });

  test(`${framework}: a tenant's address list holds whatever X-Forwarded-For says`, async () => {
    const { tenantId, key } = await keyFor(setup().instance);
    await setup().instance.core.ipRules.replace(tenantId, { allow: ["192.0.2.0/24"], deny: [] });
    const denied = await call("/api/x", { headers: { "x-api-key": key, "x-forwarded-for": "192.0.2.9" } });
    assert.equal(denied.status, 403);
    assert.equal(await code(denied), "IP_DENIED");
  });

  test(`${framework}: CORS preflights are answered by Portcullis; the handler's x-cost header is charged to the quota`, async () => {
    const preflight = await call("/api/x", { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "POST" } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example.com");
    const { tenantId, key } = await keyFor(setup().instance);
    assert.equal((await call("/api/x", { headers: { "x-api-key": key } })).status, 200);
    const instance = setup().instance;
    let used = 0;
    for (let i = 0; i < 50 && used !== 7; i++) {
      used = (await instance.core.quotas.usage(ADAPTER_POLICY.routes.flatMap((r) => r.quotas), tenantId, []))[0]!.used;
      if (used !== 7) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(used, 7);
  });

  test(`${framework}: HEAD matches what GET matches: a GET-only route's scope and limit hold for HEAD, which never falls to a weaker catch-all`, async () => {
    const { tenantId, key } = await keyFor(setup().instance);
    for (const method of ["GET", "HEAD"]) {
      assert.equal((await call("/site/reports/q3", { method })).status, 401, `${method} without a credential`);
      assert.equal((await call("/site/reports/q3", { method, headers: { "x-api-key": key } })).status, 403, `${method} without the scope`);
      assert.equal((await call("/site/about", { method })).status, 200, `${method} of the open site`);
    }
    const reader = (await setup().instance.core.keys.create(tenantId, { env: "test", scopes: ["reports:read"] })).key;
    const statuses = [];
    for (const method of ["HEAD", "GET", "HEAD"]) statuses.push((await call("/reports/q3", { method, headers: { "x-api-key": reader } })).status);
    assert.deepEqual(statuses, [200, 200, 429], "HEAD spends the GET route's allowance");
  });

  test(`${framework}: an Idempotency-Key retry gets the handler's first answer without running it again`, async () => {
    const { key } = await keyFor(setup().instance);
    const send = (idempotencyKey: string, body = '{"amount":1}') =>
      call("/idem", { method: "POST", headers: { "x-api-key": key, "content-type": "application/json", "idempotency-key": idempotencyKey }, body });
    const first = await send("adapter-1");
    assert.equal(first.status, 200);
    const firstView = (await first.json()) as HandlerView;
    assert.equal((firstView.body as { amount: number }).amount, 1, "the handler got the body the fingerprint was made of");
    let retry = await send("adapter-1");
    // The answer is stored once it is out: a retry that overtakes the store is told to wait.
    for (let i = 0; i < 50 && retry.status === 409; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      retry = await send("adapter-1");
    }
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.match(retry.headers.get("content-type") ?? "", /^application\/json/, "the handler's headers are replayed, however it wrote them");
    assert.deepEqual(await retry.json(), firstView, "the same answer, the same request id: the handler did not run again");
    const reused = await send("adapter-1", '{"amount":2}');
    assert.equal(reused.status, 422);
    assert.equal(await code(reused), "IDEMPOTENCY_KEY_REUSED");
  });
}

/** What a handler shows of the caller: no Set, no body bytes. */
export function view(request: import("../../src/adapters/in-process.js").PortcullisRequest | null | undefined): HandlerView["portcullis"] {
  if (request === null || request === undefined) return null;
  return {
    route: request.route,
    tenantId: request.tenantId,
    principal: request.principal === undefined ? undefined : { id: request.principal.id, kind: request.principal.kind },
    params: { ...request.params },
    requestId: request.requestId,
  };
}

/** Listens on a free loopback port; the URL, and how to close it (connections and all). */
export async function serveOnLoopback(server: import("node:http").Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
