import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Registry } from "prom-client";
import { createEgress, createEgressProxy, type Egress, type Resolver } from "../../src/egress/index.js";
import type { SecurityEvent } from "../../src/events/security-events.js";
import { createLogger } from "../../src/observability/logger.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { selfSignedCertificate } from "../helpers/tls.js";

const run = promisify(execFile);

interface Destination {
  port: number;
  seen: IncomingHttpHeaders[];
  server: Server;
}

async function listen(server: Server, seen: IncomingHttpHeaders[]): Promise<Destination> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, seen, server };
}

const answer = (seen: IncomingHttpHeaders[]) => (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
  seen.push(req.headers);
  req.resume();
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ path: req.url, host: req.headers.host }));
};

/** Sends a raw CONNECT and reads the proxy's status line; the socket stays open for the caller. */
async function rawConnect(proxyPort: number, authority: string, key?: string): Promise<{ status: number; socket: Socket; head: string }> {
  const socket = connect(proxyPort, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const auth = key === undefined ? "" : `Proxy-Authorization: Basic ${Buffer.from(`svc:${key}`).toString("base64")}\r\n`;
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
  const head = await new Promise<string>((resolve) => {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      if (buffered.includes("\r\n\r\n")) {
        socket.off("data", onData);
        resolve(buffered);
      }
    };
    socket.on("data", onData);
  });
  return { status: Number(head.split(" ")[1]), socket, head };
}

describe("egress proxy", () => {
  let gw: TestGateway;
  let egress: Egress;
  let proxy: Server;
  let proxyPort: number;
  let plain: Destination;
  let secure: Destination;
  let key: string;
  let otherTenantKey: string;
  let unscopedKey: string;
  let dir: string;
  const events: Omit<SecurityEvent, "at">[] = [];
  const registry = new Registry();

  before(async () => {
    gw = await startTestGateway();
    const certificate = selfSignedCertificate(["api.test", "other.test"]);
    dir = mkdtempSync(join(tmpdir(), "portcullis-proxy-"));
    writeFileSync(join(dir, "ca.pem"), certificate.cert);
    const seenPlain: IncomingHttpHeaders[] = [];
    const seenSecure: IncomingHttpHeaders[] = [];
    plain = await listen(createServer(answer(seenPlain)), seenPlain);
    secure = await listen(createTlsServer(certificate, answer(seenSecure)), seenSecure);
    const acme = await gw.gateway.tenants.create("acme");
    const globex = await gw.gateway.tenants.create("globex");
    key = (await gw.gateway.keys.create(acme.id, { env: "live", scopes: ["egress:proxy"] })).key;
    otherTenantKey = (await gw.gateway.keys.create(globex.id, { env: "live", scopes: ["egress:proxy"] })).key;
    unscopedKey = (await gw.gateway.keys.create(acme.id, { env: "live", scopes: ["orders:read"] })).key;
    const resolve: Resolver = async (hostname) => {
      const table: Record<string, string> = { "api.test": "127.0.0.1", "other.test": "127.0.0.1", "inside.test": "10.0.0.7", "meta.test": "169.254.169.254" };
      if (table[hostname] === undefined) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
      return [{ address: table[hostname]!, family: 4 }];
    };
    egress = createEgress(
      {
        schemes: ["https", "http"],
        ports: { allow: [plain.port, secure.port, 443, 80] },
        allowAddresses: ["127.0.0.1"],
        tenants: { [globex.id]: { hosts: { allow: ["other.test"] } } },
      },
      { resolve, events: { emit: (e) => events.push(e) } },
    );
    proxy = createEgressProxy({
      egress,
      authenticate: (presented) => gw.gateway.core.keyAuthenticator.authenticate(presented),
      maxConcurrentPerClient: 2,
      logger: createLogger({ level: "silent" }),
      events: { emit: (e) => events.push(e) },
      registry,
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    proxyPort = (proxy.address() as { port: number }).port;
  });

  after(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await egress.close();
    plain.server.closeAllConnections();
    secure.server.closeAllConnections();
    plain.server.close();
    secure.server.close();
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const curl = async (url: string, proxyKey: string | null = key): Promise<{ status: number; body: string }> => {
    const proxyUrl = proxyKey === null ? `http://127.0.0.1:${proxyPort}` : `http://svc:${proxyKey}@127.0.0.1:${proxyPort}`;
    const { stdout } = await run("curl", ["-sS", "--cacert", join(dir, "ca.pem"), "--proxy", proxyUrl, "-o", "-", "-w", "\n%{http_code}/%{http_connect}", url]);
    const lines = stdout.split("\n");
    const [code, connectCode] = lines.pop()!.split("/");
    // For https, a refused CONNECT is the status curl reports as http_connect.
    return { status: Number(code) === 0 ? Number(connectCode) : Number(code), body: lines.join("\n") };
  };

  test("curl: https through CONNECT and http in absolute form reach a permitted host; the destination sees its own Host and no proxy credential", async () => {
    const overTls = await curl(`https://api.test:${secure.port}/hello`);
    assert.equal(overTls.status, 200);
    assert.deepEqual(JSON.parse(overTls.body), { path: "/hello", host: `api.test:${secure.port}` });
    const overHttp = await curl(`http://api.test:${plain.port}/plain?x=1`);
    assert.equal(overHttp.status, 200);
    assert.deepEqual(JSON.parse(overHttp.body), { path: "/plain?x=1", host: `api.test:${plain.port}` });
    assert.equal(plain.seen.at(-1)!["proxy-authorization"], undefined);
  });

  test("curl: the inside network, metadata, odd spellings, other ports and userinfo are refused, CONNECT and absolute form alike", async () => {
    for (const url of ["http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/", "http://inside.test/", "http://meta.test/", `http://[::1]:${plain.port}/`, "http://api.test:22/"]) {
      const refused = await curl(url);
      assert.equal(refused.status, 403, url);
      assert.equal((JSON.parse(refused.body) as { code: string }).code, "EGRESS_DENIED", url);
    }
    for (const authority of ["169.254.169.254:443", "inside.test:443", "127.0.0.2:443", "[fd00:ec2::254]:443", "api.test:22", "api.test:443@evil.test:443", "api.test", "2852039166:443"]) {
      const { status, socket, head } = await rawConnect(proxyPort, authority, key);
      socket.destroy();
      assert.equal(status, 403, `${authority}: ${head}`);
    }
    // curl moves userinfo into a header; a client that leaves it in the URL is refused.
    const withUserinfo = connect(proxyPort, "127.0.0.1");
    await new Promise((resolve) => withUserinfo.once("connect", resolve));
    withUserinfo.write(`GET http://u:p@api.test:${plain.port}/ HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    const raw = await new Promise<string>((resolve) => {
      let text = "";
      withUserinfo.on("data", (c: Buffer) => (text += c.toString())).on("end", () => resolve(text));
    });
    assert.match(raw, /^HTTP\/1\.1 403/);
    assert.match(raw, /EGRESS_USERINFO_DENIED/);
    const dnsFailure = await rawConnect(proxyPort, "nowhere.test:443", key);
    dnsFailure.socket.destroy();
    assert.equal(dnsFailure.status, 502);
    assert.ok(events.some((e) => e.type === "egress_refused" && e.detail?.reason === "metadata"));
  });

  test("without a valid key: 407 with Proxy-Authenticate; a key without the egress:proxy scope: 403", async () => {
    const none = await rawConnect(proxyPort, `api.test:${secure.port}`);
    none.socket.destroy();
    assert.equal(none.status, 407);
    assert.match(none.head, /proxy-authenticate: Basic/i);
    assert.equal((await curl(`http://api.test:${plain.port}/`, null)).status, 407);
    assert.equal((await curl(`http://api.test:${plain.port}/`, "pk_live_not_a_real_key")).status, 407);
    assert.equal((await curl(`http://api.test:${plain.port}/`, unscopedKey)).status, 403);
    assert.ok(events.some((e) => e.type === "proxy_auth_failed"));
  });

  test("the key's tenant picks the allow-list", async () => {
    const denied = await rawConnect(proxyPort, `api.test:${secure.port}`, otherTenantKey);
    denied.socket.destroy();
    assert.equal(denied.status, 403);
    const allowed = await curl(`https://other.test:${secure.port}/theirs`, otherTenantKey);
    assert.equal(allowed.status, 200);
  });

  test("one key has at most its cap of tunnels and requests open at once", async () => {
    const first = await rawConnect(proxyPort, `api.test:${secure.port}`, key);
    const second = await rawConnect(proxyPort, `api.test:${secure.port}`, key);
    const third = await rawConnect(proxyPort, `api.test:${secure.port}`, key);
    assert.deepEqual([first.status, second.status, third.status], [200, 200, 429]);
    // Another key is not held back by this one's tunnels.
    const others = await rawConnect(proxyPort, `other.test:${secure.port}`, otherTenantKey);
    assert.equal(others.status, 200);
    for (const t of [first, second, third, others]) t.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await rawConnect(proxyPort, `api.test:${secure.port}`, key);
    again.socket.destroy();
    assert.equal(again.status, 200, "closing tunnels frees the slots");
    const metrics = await registry.metrics();
    assert.match(metrics, /portcullis_egress_proxy_requests_total\{kind="connect",outcome="RATE_LIMITED"\} 1/);
  });

  test("Python's urllib, configured by HTTPS_PROXY / HTTP_PROXY as a service would be, goes through the checks", async () => {
    const script = [
      "import json, ssl, sys, urllib.request, urllib.error",
      `ctx = ssl.create_default_context(cafile=${JSON.stringify(join(dir, "ca.pem"))})`,
      "out = []",
      "for url in sys.argv[1:]:",
      "    try:",
      "        with urllib.request.urlopen(url, context=ctx, timeout=10) as r: out.append([r.status, json.loads(r.read())])",
      "    except urllib.error.HTTPError as e: out.append([e.code, json.loads(e.read())])",
      "    except OSError as e: out.append([0, str(e)[:80]])",
      "print(json.dumps(out))",
    ].join("\n");
    const proxyUrl = `http://svc:${key}@127.0.0.1:${proxyPort}`;
    const { stdout } = await run("python3", ["-c", script, `https://api.test:${secure.port}/py`, `http://api.test:${plain.port}/py-plain`, "http://169.254.169.254/latest/meta-data/"], {
      env: { ...process.env, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: "" },
    });
    const results = JSON.parse(stdout) as [number, Record<string, unknown> | string][];
    assert.deepEqual(results[0], [200, { path: "/py", host: `api.test:${secure.port}` }]);
    assert.deepEqual(results[1], [200, { path: "/py-plain", host: `api.test:${plain.port}` }]);
    assert.equal(results[2]![0], 403);
    assert.equal((results[2]![1] as { egress_code: string }).egress_code, "EGRESS_ADDRESS_DENIED");
  });

  test("a request that is not a proxy request is refused", async () => {
    const response = await fetch(`http://127.0.0.1:${proxyPort}/just-a-path`);
    assert.equal(response.status, 400);
  });
});
