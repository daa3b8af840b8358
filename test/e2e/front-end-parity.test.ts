import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { serve, type ServerType } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { createHonoMiddleware, type PortcullisEnv } from "../../src/adapters/hono.js";
import { InProcessPortcullis, parsePolicy } from "../../src/adapters/in-process.js";
import { portcullisFastify } from "../../src/adapters/fastify.js";
import { createNodeMiddleware } from "../../src/adapters/node.js";
import { createLogger } from "../../src/observability/logger.js";
import { serveOnLoopback } from "../helpers/adapter-cases.js";
import { startTestGateway, tenantWithKey } from "../helpers/gateway.js";
import { proxyAvailable, startCaddy, startNginx } from "../helpers/proxies.js";
import { rawRequest } from "../helpers/raw-http.js";

/**
 * The gateway's attacks, replayed through every front end: nginx and Caddy in front of the
 * decision API, and each framework adapter. A front end may refuse in its own words (nginx answers
 * some malformed requests itself), but none may let through what the gateway refuses: each case
 * names the answers allowed, and a 2xx is never one of them.
 */
const POLICY = {
  version: 1,
  blocking: { enabled: false },
  clients: { trustedProxies: ["127.0.0.1/32"] },
  cors: { allowOrigins: ["https://app.example.com"] },
  routes: [
    { name: "public", match: { path: "/public/**" }, authenticate: "none", shield: { inspectBody: false } },
    { name: "admin", match: { path: "/admin/**" }, authorize: { scopes: ["admin"] }, shield: { inspectBody: false } },
    { name: "reports", match: { path: "/reports/**", methods: ["GET"] }, authorize: { scopes: ["reports:read"] }, shield: { inspectBody: false } },
    { name: "limited", match: { path: "/limited/**" }, limits: [{ name: "tight", by: ["key"], rate: 2, per: "minute" }], shield: { inspectBody: false } },
    { name: "site", match: { path: "/**" }, authenticate: "none", shield: { inspectBody: false } },
  ],
};

interface FrontEnd {
  url: string;
  /** A fresh key of a fresh tenant, with these scopes. */
  key(scopes?: string[]): Promise<string>;
  close(): Promise<void>;
}

/** Raw HTTP/1.1, byte for byte: no client library gets the chance to normalise the attack away. */
interface Attack {
  name: string;
  request: (host: string, key: string) => string;
  allowed: readonly number[];
}

const get = (target: string, headers = "") => (host: string) => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`;
const ATTACKS: readonly Attack[] = [
  // Path confusion: a target that some layer resolves to /admin must never be decided as the open site.
  ...["/public/../admin/x", "/public/%2e%2e/admin/x", "/public/%2e%2e%2fadmin/x", "/public/..;/admin/x", "/public//../admin/x", "/admin%2fx", "/admin./x", "/%61dmin/x", "/admin/x%00", "/admin%5cx"].map(
    (target): Attack => ({ name: `path ${target}`, request: get(target), allowed: [400, 401, 403, 404] }),
  ),
  { name: "case: /ADMIN is the admin route", request: get("/ADMIN/x"), allowed: [401] },
  { name: "absolute-form target naming the admin route", request: (host) => `GET http://${host}/admin/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, allowed: [400, 401] },
  // Identity forgery: the decision headers and the identity are the front end's to write.
  { name: "forged identity header", request: get("/admin/x", "X-Portcullis-Identity: eyJhbGciOiJub25lIn0.e30.\r\n"), allowed: [401] },
  { name: "forged decision description", request: get("/admin/x", "X-Original-URI: /public/x\r\nX-Original-Method: GET\r\nX-Forwarded-Uri: /public/x\r\nX-Forwarded-Method: GET\r\n"), allowed: [400, 401] },
  { name: "forged refusal header", request: get("/admin/x", "X-Portcullis-Problem: e30\r\n"), allowed: [401, 500] },
  // Method tricks.
  { name: "HEAD on a GET-only route", request: (host) => `HEAD /reports/q3 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, allowed: [401] },
  { name: "method override header", request: (host) => `POST /public/x HTTP/1.1\r\nHost: ${host}\r\nX-HTTP-Method-Override: DELETE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, allowed: [400] },
  { name: "method override in the query, as PHP folds it", request: (host) => `POST /public/x?.method=DELETE HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, allowed: [400] },
  { name: "TRACE", request: (host) => `TRACE /public/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, allowed: [400, 405] },
  { name: "a preflight's shape from an origin off the list", request: (host) => `OPTIONS /admin/x HTTP/1.1\r\nHost: ${host}\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: DELETE\r\nConnection: close\r\n\r\n`, allowed: [401] },
  // Smuggling: two framings, or a framing parsers read differently.
  {
    name: "Content-Length with Transfer-Encoding",
    request: (host) => `POST /admin/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    allowed: [400, 401],
  },
  { name: "two Content-Lengths", request: (host) => `POST /admin/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`, allowed: [400, 401] },
  // The shield, in the query (the decision API never sees bodies).
  { name: "SQL injection in the query", request: get("/public/x?q=1%27%20OR%201%3D1--"), allowed: [400] },
  { name: "XSS in the query", request: get("/public/x?q=%3Csvg%20onload%3Dalert(1)%3E"), allowed: [400] },
  // Authorisation: a key without the scope.
  { name: "a key without the admin scope", request: (host, key) => `GET /admin/x HTTP/1.1\r\nHost: ${host}\r\nX-API-Key: ${key}\r\nConnection: close\r\n\r\n`, allowed: [403] },
];

const handlerAnswer = JSON.stringify({ handler: true });

async function adapterFrontEnd(kind: "express" | "node" | "fastify" | "hono"): Promise<FrontEnd> {
  const instance = await InProcessPortcullis.create({ policy: parsePolicy(POLICY, "parity"), logger: createLogger({ level: "silent" }) });
  const key = async (scopes: string[] = []) => (await instance.core.keys.create((await instance.core.tenants.create("t")).id, { env: "test", scopes })).key;
  if (kind === "express" || kind === "node") {
    const middleware = await createNodeMiddleware({ instance });
    const server =
      kind === "express"
        ? createServer(express().use(middleware.handle).use((_req, res) => void res.type("json").send(handlerAnswer)))
        : createServer((req, res) => middleware.handle(req, res, () => void res.writeHead(200, { "content-type": "application/json" }).end(handlerAnswer)));
    const served = await serveOnLoopback(server);
    return { url: served.url, key, close: async () => (await served.close(), await instance.close()) };
  }
  if (kind === "fastify") {
    const app = Fastify();
    await app.register(portcullisFastify, { instance });
    app.all("/*", async () => JSON.parse(handlerAnswer) as unknown);
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    return { url, key, close: async () => (await app.close(), await instance.close()) };
  }
  const middleware = await createHonoMiddleware({ instance });
  const app = new Hono<PortcullisEnv>();
  app.use(middleware.handle);
  app.all("*", (c) => c.json(JSON.parse(handlerAnswer) as object));
  const server = await new Promise<ServerType>((resolve) => {
    const started: ServerType = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, key, close: async () => (await new Promise((resolve) => server.close(resolve)), await instance.close()) };
}

async function gatewayFrontEnd(proxy?: "nginx" | "caddy"): Promise<FrontEnd> {
  const gw = await startTestGateway(POLICY, { decision: proxy !== undefined });
  const key = async (scopes: string[] = []) => (await tenantWithKey(gw, { scopes })).key;
  if (proxy === undefined) return { url: gw.url, key, close: () => gw.close() };
  const running = await (proxy === "nginx" ? startNginx : startCaddy)({ decisionUrl: gw.decisionUrl!, upstreamUrl: gw.upstreamUrl });
  return { url: running.url, key, close: async () => (await running.close(), await gw.close()) };
}

const FRONT_ENDS: [string, () => Promise<FrontEnd>, string | false][] = [
  ["gateway", () => gatewayFrontEnd(), false],
  ["nginx + decision API", () => gatewayFrontEnd("nginx"), !proxyAvailable("nginx") && "nginx is not installed"],
  ["Caddy + decision API", () => gatewayFrontEnd("caddy"), !proxyAvailable("caddy") && "caddy is not installed"],
  ["Express", () => adapterFrontEnd("express"), false],
  ["node:http", () => adapterFrontEnd("node"), false],
  ["Fastify", () => adapterFrontEnd("fastify"), false],
  ["Hono", () => adapterFrontEnd("hono"), false],
];

for (const [name, start, skip] of FRONT_ENDS) {
  describe(`the gateway's attacks through ${name}`, { skip }, () => {
    let frontEnd: FrontEnd;
    before(async () => {
      frontEnd = await start();
    });
    after(() => frontEnd?.close());

    test("every attack is refused, as the gateway refuses it", async () => {
      const host = new URL(frontEnd.url).host;
      const key = await frontEnd.key();
      const passed: string[] = [];
      for (const attack of ATTACKS) {
        const { status, text } = await rawRequest(frontEnd.url, attack.request(host, key));
        if (!attack.allowed.includes(status) || text.includes(handlerAnswer) || /"headers":\{/.test(text)) passed.push(`${attack.name}: ${status}`);
      }
      assert.deepEqual(passed, [], "answers the gateway would not give");
    });

    test("the same requests done right pass, so the refusals above are the attacks' and not the front end's", async () => {
      const host = new URL(frontEnd.url).host;
      assert.equal((await rawRequest(frontEnd.url, get("/public/x?q=hello")(host))).status, 200);
      const admin = await frontEnd.key(["admin", "reports:read"]);
      assert.equal((await rawRequest(frontEnd.url, `GET /admin/x HTTP/1.1\r\nHost: ${host}\r\nX-API-Key: ${admin}\r\nConnection: close\r\n\r\n`)).status, 200);
      assert.equal((await rawRequest(frontEnd.url, `HEAD /reports/q3 HTTP/1.1\r\nHost: ${host}\r\nX-API-Key: ${admin}\r\nConnection: close\r\n\r\n`)).status, 200);
    });

    test("limits hold: the third request of a key allowed two a minute is 429", async () => {
      const key = await frontEnd.key();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${frontEnd.url}/limited/x`, { headers: { "x-api-key": key } })).status);
      assert.deepEqual(statuses, [200, 200, 429]);
    });
  });
}
