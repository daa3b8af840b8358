import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { classifyAddress, createEgress, EgressError, type EgressErrorCode, type EgressOptionsInput, type Resolver } from "../../src/egress/index.js";
import type { SecurityEvent } from "../../src/events/security-events.js";
import { parseIp } from "../../src/net/ip.js";
import { startFlakyUpstream } from "../helpers/flaky-upstream.js";
import { selfSignedCertificate } from "../helpers/tls.js";

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  servername?: string | false | null;
}

/** A local destination whose answers the test picks by path; it records what reached it. */
async function startDestination(tls?: { key: string; cert: string }): Promise<{ port: number; seen: Seen[]; server: Server; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    seen.push({ path, headers: req.headers, servername: (req.socket as TLSSocket).servername });
    req.resume();
    const redirect = /^\/redirect\?to=(.*)$/.exec(path);
    if (redirect !== null) return res.writeHead(Number(new URLSearchParams(path.split("?")[1]).get("status") ?? 302), { location: decodeURIComponent(redirect[1]!.split("&")[0]!) }).end();
    if (path === "/loop") return res.writeHead(302, { location: "/loop" }).end();
    if (path === "/big") return res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(64 * 1024) }).end(Buffer.alloc(64 * 1024));
    if (path === "/big-chunked") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      for (let i = 0; i < 64; i++) res.write(Buffer.alloc(1024));
      return res.end();
    }
    if (path === "/gzip-json") return res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipSync(JSON.stringify({ decoded: true })));
    if (path === "/gzip-bomb") return res.writeHead(200, { "content-type": "application/octet-stream", "content-encoding": "gzip" }).end(gzipSync(Buffer.alloc(4 * 1024 * 1024)));
    if (path === "/html") return res.writeHead(200, { "content-type": "text/html" }).end("<p>hi</p>");
    if (path === "/hang") return;
    if (path === "/slow-body") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("start");
      return;
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify({ path, host: req.headers.host, authorization: req.headers.authorization ?? null }));
  };
  const server = tls === undefined ? createServer(handler) : createTlsServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const fixed =
  (answers: Record<string, string[]>, calls?: string[]): Resolver =>
  async (hostname) => {
    calls?.push(hostname);
    const addresses = answers[hostname];
    if (addresses === undefined) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };

async function refusal(promise: Promise<unknown>): Promise<EgressError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EgressError, `expected an EgressError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a refusal");
}

async function assertCode(promise: Promise<unknown>, code: EgressErrorCode, reason?: string): Promise<void> {
  const error = await refusal(promise);
  assert.equal(error.code, code, `${error.code}: ${error.message}`);
  if (reason !== undefined) assert.equal(error.reason, reason);
}

describe("address classes", () => {
  const cases: [string, string | undefined][] = [
    ["93.184.215.14", undefined],
    ["2606:4700::1111", undefined],
    ["0.0.0.0", "this_network"],
    ["0.1.2.3", "this_network"],
    ["10.255.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", undefined],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "carrier_grade_nat"],
    ["100.100.100.200", "metadata"],
    ["127.0.0.53", "loopback"],
    ["169.254.169.254", "metadata"],
    ["169.254.170.2", "metadata"],
    ["169.254.1.1", "link_local"],
    ["192.0.0.192", "metadata"],
    ["192.0.0.8", "protocol_assignments"],
    ["192.0.2.1", "documentation"],
    ["198.51.100.1", "documentation"],
    ["203.0.113.1", "documentation"],
    ["198.18.0.1", "benchmarking"],
    ["198.19.255.255", "benchmarking"],
    ["224.0.0.251", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["::ffff:8.8.8.8", undefined],
    ["::127.0.0.1", "ipv4_embedded"],
    ["::8.8.8.8", "ipv4_embedded"],
    ["::ffff:0:7f00:1", "ipv4_embedded"],
    ["64:ff9b::7f00:1", "ipv4_embedded"],
    ["64:ff9b::a9fe:a9fe", "ipv4_embedded"],
    ["64:ff9b::808:808", undefined],
    ["64:ff9b:1::a00:1", "nat64_local"],
    ["2002:7f00:1::1", "ipv4_embedded"],
    ["2002:808:808::1", "ipv4_embedded"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "ipv4_embedded"],
    ["2001:2::1", "protocol_assignments"],
    ["2001:db8::1", "documentation"],
    ["3fff::1", "documentation"],
    ["fc00::1", "unique_local"],
    ["fd00:ec2::254", "metadata"],
    ["fe80::1", "link_local"],
    ["febf::1", "link_local"],
    ["fec0::1", "not_global"],
    ["ff02::1", "multicast"],
    ["100::1", "not_global"],
    ["4000::1", "not_global"],
  ];
  for (const [text, expected] of cases) {
    test(`${text} is ${expected ?? "global unicast"}`, () => assert.equal(classifyAddress(parseIp(text)!), expected));
  }
});

describe("safe fetch", () => {
  let plain: Awaited<ReturnType<typeof startDestination>>;
  let other: Awaited<ReturnType<typeof startDestination>>;
  let secure: Awaited<ReturnType<typeof startDestination>>;
  let certificate: { key: string; cert: string };
  const events: Omit<SecurityEvent, "at">[] = [];
  const sink = { emit: (event: Omit<SecurityEvent, "at">) => events.push(event) };

  before(async () => {
    certificate = selfSignedCertificate(["api.test", "*.api.test"]);
    [plain, other, secure] = await Promise.all([startDestination(), startDestination(), startDestination(certificate)]);
  });
  after(async () => {
    await Promise.all([plain.close(), other.close(), secure.close()]);
  });

  /** An egress that may reach the local servers by name, as an internal service would be reached on purpose. */
  const egress = (options: EgressOptionsInput = {}, resolve: Resolver = fixed({ "api.test": ["127.0.0.1"], "other.test": ["127.0.0.1"] })) =>
    createEgress({ schemes: ["https", "http"], ports: { allow: [plain.port, other.port, secure.port, 80, 443] }, allowAddresses: ["127.0.0.1"], ...options }, { resolve, events: sink, ca: certificate.cert });

  test("a permitted name is fetched, with the name as Host; over TLS the name is the SNI and the certificate is checked for it", async () => {
    const e = egress();
    try {
      const response = await e.fetch(`http://api.test:${plain.port}/hello`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { path: "/hello", host: `api.test:${plain.port}`, authorization: null });
      const spoofed = await e.request(`http://api.test:${plain.port}/hello`, { headers: { Host: "internal.corp" } });
      assert.equal(((await spoofed.body.json()) as { host: string }).host, `api.test:${plain.port}`, "a caller's Host is not sent");
      const tls = await e.fetch(`https://api.test:${secure.port}/tls`);
      assert.equal(tls.status, 200);
      await tls.text();
      assert.equal(secure.seen.at(-1)!.servername, "api.test");
    } finally {
      await e.close();
    }
  });

  test("loopback, private, metadata and the rest are refused when not allowed, by every spelling of the address", async () => {
    const e = createEgress({ schemes: ["https", "http"], ports: { allow: [80, 443, plain.port] } }, { events: sink });
    const spellings: [string, string][] = [
      [`http://127.0.0.1:${plain.port}/`, "loopback"],
      [`http://2130706433:${plain.port}/`, "loopback"],
      [`http://0x7f000001:${plain.port}/`, "loopback"],
      [`http://017700000001:${plain.port}/`, "loopback"],
      [`http://0177.0.0.1:${plain.port}/`, "loopback"],
      [`http://0x7f.1:${plain.port}/`, "loopback"],
      [`http://127.1:${plain.port}/`, "loopback"],
      [`http://127.0.0.1.:${plain.port}/`, "loopback"],
      [`http://%31%32%37.0.0.1:${plain.port}/`, "loopback"],
      [`http://\uFF11\uFF12\uFF17.0.0.1:${plain.port}/`, "loopback"],
      [`http://[::1]:${plain.port}/`, "loopback"],
      [`http://[::ffff:127.0.0.1]:${plain.port}/`, "loopback"],
      [`http://[::ffff:7f00:1]:${plain.port}/`, "loopback"],
      [`http://[0:0:0:0:0:ffff:127.0.0.1]:${plain.port}/`, "loopback"],
      [`http://[::127.0.0.1]:${plain.port}/`, "ipv4_embedded"],
      [`http://[64:ff9b::127.0.0.1]:${plain.port}/`, "ipv4_embedded"],
      [`http://[64:ff9b:1::a00:1]/`, "nat64_local"],
      [`http://[2002:7f00:1::1]/`, "ipv4_embedded"],
      [`http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/`, "ipv4_embedded"],
      ["http://0/", "this_network"],
      ["http://0.0.0.0/", "this_network"],
      ["http://10.0.0.1/", "private"],
      ["http://172.16.0.1/", "private"],
      ["http://192.168.1.1/", "private"],
      ["http://100.64.0.1/", "carrier_grade_nat"],
      ["http://169.254.169.254/latest/meta-data/", "metadata"],
      ["http://2852039166/latest/meta-data/", "metadata"],
      ["http://0xa9.0xfe.0xa9.0xfe/", "metadata"],
      ["http://[fd00:ec2::254]/latest/meta-data/", "metadata"],
      ["http://[::ffff:169.254.169.254]/", "metadata"],
      ["http://100.100.100.200/latest/meta-data/", "metadata"],
      ["http://192.0.0.192/opc/v2/instance/", "metadata"],
      ["http://[fe80::1]/", "link_local"],
      ["http://[fc00::1]/", "unique_local"],
      ["http://[ff02::1]/", "multicast"],
      ["http://224.0.0.1/", "multicast"],
      ["http://255.255.255.255/", "reserved"],
      ["http://198.18.0.1/", "benchmarking"],
      ["http://192.0.2.1/", "documentation"],
      ["http://[2001:db8::1]/", "documentation"],
    ];
    try {
      for (const [url, reason] of spellings) await assertCode(e.fetch(url), "EGRESS_ADDRESS_DENIED", reason);
      assert.equal(plain.seen.filter((s) => s.path === "/").length, 0, "nothing reached the loopback server");
    } finally {
      await e.close();
    }
  });

  test("an allowAddresses exception never opens a metadata address", async () => {
    const e = createEgress({ schemes: ["http"], allowAddresses: ["169.254.0.0/16", "64:ff9b::/96", "fd00::/8"] }, { events: sink });
    try {
      await assertCode(e.fetch("http://169.254.169.254/"), "EGRESS_ADDRESS_DENIED", "metadata");
      await assertCode(e.fetch("http://[64:ff9b::a9fe:a9fe]/"), "EGRESS_ADDRESS_DENIED", "ipv4_embedded");
      await assertCode(e.fetch("http://[fd00:ec2::254]/"), "EGRESS_ADDRESS_DENIED", "metadata");
    } finally {
      await e.close();
    }
  });

  test("cloud metadata services are refused by name, whatever the name resolves to: a public address does not open them", async () => {
    let lookups = 0;
    const publicAnswer = async () => {
      lookups++;
      return [{ address: "147.75.0.1", family: 4 }];
    };
    const e = createEgress({ schemes: ["http"], hosts: { allow: ["*"] } }, { resolve: publicAnswer, events: sink });
    try {
      for (const host of ["metadata.packet.net", "METADATA.platformequinix.com", "metadata.platformequinix.com.", "x.metadata.google.internal", "metadata", "instance-data", "metadata.tencentyun.com"]) {
        await assertCode(e.fetch(`http://${host}/metadata/v1`), "EGRESS_ADDRESS_DENIED", "metadata");
      }
      assert.equal(lookups, 0, "refused before any lookup");
      // A name that merely contains the word is an ordinary host.
      await assertCode(e.fetch("http://metadata.example.com:1/"), "EGRESS_PORT_DENIED");
    } finally {
      await e.close();
    }
  });

  test("schemes, userinfo, ports and host lists are checked before anything is resolved", async () => {
    const calls: string[] = [];
    const e = createEgress(
      { schemes: ["https"], ports: { allow: [443, 8443], deny: [8443] }, hosts: { allow: ["*.example.com", "api.partner.io"], deny: ["internal.example.com"] } },
      { resolve: fixed({}, calls), events: sink },
    );
    try {
      for (const url of ["file:///etc/passwd", "gopher://a.example.com/", "ftp://a.example.com/", "data:text/plain,hi", "javascript:alert(1)", "http://a.example.com/", "ws://a.example.com/"]) {
        await assertCode(e.fetch(url), "EGRESS_SCHEME_DENIED");
      }
      await assertCode(e.fetch("https://user:pass@a.example.com/"), "EGRESS_USERINFO_DENIED");
      await assertCode(e.fetch("https://a.example.com@169.254.169.254/"), "EGRESS_USERINFO_DENIED");
      await assertCode(e.fetch("https://a.example.com:25/"), "EGRESS_PORT_DENIED");
      await assertCode(e.fetch("https://a.example.com:8443/"), "EGRESS_PORT_DENIED");
      for (const url of ["https://example.com/", "https://evilexample.com/", "https://a.example.com.evil.net/", "https://internal.example.com/", "https://INTERNAL.EXAMPLE.COM./", "https://partner.io/", "https://x.api.partner.io/", "https://8.8.8.8/"]) {
        await assertCode(e.fetch(url), "EGRESS_HOST_DENIED");
      }
      await assertCode(e.fetch("not a url"), "EGRESS_INVALID_URL");
      assert.deepEqual(calls, []);
      // Allowed by the lists, then refused by DNS (the fixed resolver knows no names).
      await assertCode(e.fetch("https://deep.a.EXAMPLE.com/"), "EGRESS_DNS_FAILED");
      assert.deepEqual(calls, ["deep.a.example.com"]);
    } finally {
      await e.close();
    }
  });

  test("a name resolving to a private address, or to a public and a private one, is refused and never connected to", async () => {
    const e = createEgress(
      { schemes: ["http"], ports: { allow: [plain.port] } },
      {
        resolve: fixed({ "inside.test": ["10.1.2.3"], "mixed.test": ["93.184.215.14", "127.0.0.1"], "mapped.test": ["::ffff:127.0.0.1"], "v6.test": ["2606:4700::1111", "::1"], "zone.test": ["fe80::1%eth0"], "meta.test": ["169.254.169.254"] }),
        events: sink,
      },
    );
    const before = plain.seen.length;
    try {
      await assertCode(e.fetch(`http://inside.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "private");
      await assertCode(e.fetch(`http://mixed.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "loopback");
      await assertCode(e.fetch(`http://mapped.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "loopback");
      await assertCode(e.fetch(`http://v6.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "loopback");
      await assertCode(e.fetch(`http://zone.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "unparseable");
      await assertCode(e.fetch(`http://meta.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "metadata");
      assert.equal(plain.seen.length, before);
    } finally {
      await e.close();
    }
  });

  test("a name that answers differently on a second lookup gets no second lookup: the connection goes to the address checked", async () => {
    const calls: string[] = [];
    let n = 0;
    // First a public address (unreachable from here), then loopback: a check-then-fetch design would connect to the second.
    const rebinding: Resolver = async (hostname) => {
      calls.push(hostname);
      return [{ address: n++ === 0 ? "93.184.215.14" : "127.0.0.1", family: 4 }];
    };
    const e = createEgress({ schemes: ["http"], ports: { allow: [plain.port] }, connectTimeoutMs: 300, timeoutMs: 2_000, retries: { attempts: 0 } }, { resolve: rebinding, events: sink });
    const before = plain.seen.length;
    try {
      const error = await refusal(e.fetch(`http://rebind.test:${plain.port}/`));
      assert.ok(error.code === "EGRESS_UNAVAILABLE" || error.code === "EGRESS_TIMEOUT", error.code);
      assert.deepEqual(calls, ["rebind.test"]);
      assert.equal(plain.seen.length, before);
    } finally {
      await e.close();
    }
    // A retry makes a new connection, so a new lookup: its answer is checked like the first.
    n = 0;
    calls.length = 0;
    const retrying = createEgress({ schemes: ["http"], ports: { allow: [plain.port] }, connectTimeoutMs: 300, timeoutMs: 2_000, retries: { attempts: 1, baseDelayMs: 1 } }, { resolve: rebinding, events: sink });
    try {
      await assertCode(retrying.fetch(`http://rebind.test:${plain.port}/`), "EGRESS_ADDRESS_DENIED", "loopback");
      assert.deepEqual(calls, ["rebind.test", "rebind.test"]);
      assert.equal(plain.seen.length, before);
    } finally {
      await retrying.close();
    }
  });

  test("pooled connections are reused without resolving again", async () => {
    const calls: string[] = [];
    const e = egress({}, fixed({ "api.test": ["127.0.0.1"] }, calls));
    try {
      for (let i = 0; i < 5; i++) {
        await (await e.fetch(`http://api.test:${plain.port}/again`)).text();
        // undici puts a connection back in its pool a tick after the body ends (plain undici fetch too).
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.deepEqual(calls, ["api.test"]);
    } finally {
      await e.close();
    }
  });

  test("redirects: handed back unless asked for, then each hop checked again; never to another scheme or down to http", async () => {
    const hop = (to: string, status = 302) => `/redirect?to=${encodeURIComponent(to)}&status=${status}`;
    const manual = egress();
    const follow = egress({ maxRedirects: 3 });
    try {
      const handedBack = await manual.fetch(`http://api.test:${plain.port}${hop("/final")}`);
      assert.equal(handedBack.status, 302);
      assert.equal(handedBack.headers.get("location"), "/final");
      await handedBack.text();

      const followed = await follow.fetch(`http://api.test:${plain.port}${hop("/final")}`);
      assert.equal(followed.status, 200);
      assert.equal(((await followed.json()) as { path: string }).path, "/final");

      await assertCode(follow.fetch(`http://api.test:${plain.port}${hop("http://169.254.169.254/latest/meta-data/")}`), "EGRESS_ADDRESS_DENIED", "metadata");
      await assertCode(follow.fetch(`http://api.test:${plain.port}${hop("http://[::1]:22/")}`), "EGRESS_PORT_DENIED");
      await assertCode(follow.fetch(`http://api.test:${plain.port}${hop(`http://127.0.0.2:${plain.port}/`)}`), "EGRESS_ADDRESS_DENIED", "loopback");
      await assertCode(follow.fetch(`http://api.test:${plain.port}${hop("file:///etc/passwd")}`), "EGRESS_REDIRECT_DENIED");
      await assertCode(follow.fetch(`http://api.test:${plain.port}${hop("gopher://api.test/")}`), "EGRESS_REDIRECT_DENIED");
      await assertCode(follow.fetch(`https://api.test:${secure.port}${hop(`http://api.test:${plain.port}/downgraded`)}`), "EGRESS_REDIRECT_DENIED");
      await assertCode(follow.fetch(`http://api.test:${plain.port}/loop`), "EGRESS_TOO_MANY_REDIRECTS");
      assert.equal(plain.seen.filter((s) => s.path === "/downgraded").length, 0);
    } finally {
      await Promise.all([manual.close(), follow.close()]);
    }
  });

  test("credentials do not follow a redirect to another origin; a streamed body is not sent again", async () => {
    const e = egress({ maxRedirects: 2 });
    try {
      const same = await e.fetch(`http://api.test:${plain.port}/redirect?to=${encodeURIComponent("/same")}`, { headers: { authorization: "Bearer s3cret" } });
      assert.equal(((await same.json()) as { authorization: string }).authorization, "Bearer s3cret");
      const cross = await e.fetch(`http://api.test:${plain.port}/redirect?to=${encodeURIComponent(`http://other.test:${other.port}/cross`)}`, { headers: { authorization: "Bearer s3cret", cookie: "sid=1" } });
      assert.equal(((await cross.json()) as { authorization: string | null }).authorization, null);
      assert.equal(other.seen.at(-1)!.headers.cookie, undefined);
      const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("payload")), c.close()) });
      await assertCode(e.fetch(`http://api.test:${plain.port}/redirect?to=%2Fagain&status=307`, { method: "POST", body: stream, duplex: "half" } as never), "EGRESS_REDIRECT_DENIED");
      // A 303 turns the POST into a GET without a body, which can go on.
      const seeOther = await e.fetch(`http://api.test:${plain.port}/redirect?to=%2Fdone&status=303`, { method: "POST", body: "x=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
      assert.equal(seeOther.status, 200);
      await seeOther.text();
      assert.equal(plain.seen.at(-1)!.headers["content-type"], undefined);
    } finally {
      await e.close();
    }
  });

  test("responses are capped in size (declared or streamed), media type and time", async () => {
    const e = egress({ maxResponseBytes: 16 * 1024, timeoutMs: 500 });
    const json = egress({ contentTypes: ["application/json", "image/*"] });
    try {
      await assertCode(e.fetch(`http://api.test:${plain.port}/big`), "EGRESS_RESPONSE_TOO_LARGE");
      const chunked = await e.fetch(`http://api.test:${plain.port}/big-chunked`);
      assert.equal(chunked.status, 200);
      await assertCode(chunked.arrayBuffer(), "EGRESS_RESPONSE_TOO_LARGE");
      await assertCode(json.fetch(`http://api.test:${plain.port}/html`), "EGRESS_CONTENT_TYPE_DENIED");
      const allowed = await json.fetch(`http://api.test:${plain.port}/fine`);
      assert.equal(allowed.status, 200);
      await allowed.text();
      await assertCode(e.fetch(`http://api.test:${plain.port}/hang`), "EGRESS_TIMEOUT");
      const slow = await e.fetch(`http://api.test:${plain.port}/slow-body`);
      await assertCode(slow.text(), "EGRESS_TIMEOUT");
    } finally {
      await Promise.all([e.close(), json.close()]);
    }
  });

  test("fetch decodes gzip as fetch does, and the cap counts decoded bytes: a gzip bomb is stopped; request() gives the bytes as received", async () => {
    const e = egress({ maxResponseBytes: 64 * 1024 });
    try {
      assert.deepEqual(await (await e.fetch(`http://api.test:${plain.port}/gzip-json`)).json(), { decoded: true });
      const bomb = await e.fetch(`http://api.test:${plain.port}/gzip-bomb`);
      await assertCode(bomb.arrayBuffer(), "EGRESS_RESPONSE_TOO_LARGE");
      const raw = await e.request(`http://api.test:${plain.port}/gzip-bomb`);
      assert.equal(raw.headers["content-encoding"], "gzip");
      assert.ok((await raw.body.arrayBuffer()).byteLength < 64 * 1024, "the compressed bytes, under the cap");
      const raw404 = await e.request(`http://api.test:${plain.port}/big`, { method: "HEAD" });
      assert.equal(raw404.statusCode, 200);
      await raw404.body.dump();
    } finally {
      await e.close();
    }
  });

  test("a caller's own abort comes back as the caller's reason, not as an egress error", async () => {
    const e = egress();
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    try {
      const pending = e.fetch(`http://api.test:${plain.port}/hang`, { signal: controller.signal });
      setTimeout(() => controller.abort(reason), 50);
      await assert.rejects(pending, (error) => error === reason);
    } finally {
      await e.close();
    }
  });

  test("a tenant's lists replace the defaults for that tenant only", async () => {
    const e = egress({ tenants: { acme: { hosts: { allow: ["other.test"] } } } });
    try {
      await assertCode(e.fetch(`http://api.test:${plain.port}/t`, { tenant: "acme" }), "EGRESS_HOST_DENIED");
      const theirs = await e.fetch(`http://other.test:${other.port}/t`, { tenant: "acme" });
      assert.equal(theirs.status, 200);
      await theirs.text();
      const defaults = await e.fetch(`http://api.test:${plain.port}/t`, { tenant: "globex" });
      assert.equal(defaults.status, 200);
      await defaults.text();
    } finally {
      await e.close();
    }
  });

  test("every refusal is a security event naming the code, the host and the reason, for the tenant", async () => {
    events.length = 0;
    const e = egress();
    try {
      await refusal(e.fetch("http://169.254.169.254/", { tenant: "acme" }));
      await refusal(e.fetch(`http://api.test:${plain.port}/hang`, { tenant: "acme", signal: AbortSignal.timeout(10) }).catch((error: unknown) => {
        throw error instanceof EgressError ? error : new EgressError("EGRESS_TIMEOUT", "caller");
      }));
    } finally {
      await e.close();
    }
    assert.deepEqual(events[0], { type: "egress_refused", severity: "warning", tenant_id: "acme", detail: { code: "EGRESS_ADDRESS_DENIED", host: "169.254.169.254", reason: "metadata" } });
    assert.equal(events.length, 1, "a caller's abort is not a refusal");
  });

  test("bad options are refused when the egress is made", () => {
    assert.throws(() => createEgress({ hosts: { allow: ["http://x/"] } }));
    assert.throws(() => createEgress({ hosts: { allow: ["a.*.com"] } }));
    assert.throws(() => createEgress({ allowAddresses: ["10.0.0.0/33"] }));
    assert.throws(() => createEgress({ ports: { allow: [0] } }));
    assert.throws(() => createEgress({ timeoutMs: Number.NaN }));
    assert.throws(() => createEgress({ contentTypes: ["json"] }));
  });
});

describe("egress resilience", () => {
  let upstream: Awaited<ReturnType<typeof startFlakyUpstream>>;
  before(async () => {
    upstream = await startFlakyUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  const egress = (options: EgressOptionsInput) =>
    createEgress({ schemes: ["http"], ports: { allow: [upstream.port] }, allowAddresses: ["127.0.0.1"], ...options }, { resolve: fixed({ "flaky.test": ["127.0.0.1"] }) });

  test("a connection cut before the answer is retried for GET, never for a POST (keyed or not) or a streamed body", async () => {
    const e = egress({ retries: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }, circuitBreaker: { enabled: false } });
    try {
      upstream.mode = "reset-once";
      upstream.resetNext = true;
      upstream.received = 0;
      assert.equal((await e.fetch(`http://flaky.test:${upstream.port}/a`)).status, 200);
      assert.equal(upstream.received, 2);
      upstream.resetNext = true;
      await assertCode(e.fetch(`http://flaky.test:${upstream.port}/a`, { method: "POST", body: "x" }), "EGRESS_UNAVAILABLE");
      assert.equal(upstream.received, 3);
      upstream.resetNext = true;
      // The destination received it: an Idempotency-Key promises nothing about what it did with it.
      await assertCode(e.fetch(`http://flaky.test:${upstream.port}/a`, { method: "POST", body: "x", headers: { "Idempotency-Key": "k1" } }), "EGRESS_UNAVAILABLE");
      assert.equal(upstream.received, 4);
      upstream.resetNext = true;
      const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("payload")), c.close()) });
      await assertCode(e.fetch(`http://flaky.test:${upstream.port}/a`, { method: "PUT", body: stream, duplex: "half" } as never), "EGRESS_UNAVAILABLE");
      assert.equal(upstream.received, 5);
    } finally {
      await e.close();
    }
  });

  test("a failing destination's circuit opens: EGRESS_CIRCUIT_OPEN with a retry time, no connection made; a refusal of ours never counts", async () => {
    // The name first resolves to a private address (refused at connect), then to the destination.
    let lookups = 0;
    const flipping: Resolver = async () => [{ address: lookups++ < 5 ? "10.0.0.1" : "127.0.0.1", family: 4 }];
    const e = createEgress({ schemes: ["http"], ports: { allow: [upstream.port] }, allowAddresses: ["127.0.0.1"], retries: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 2, halfOpenAfterMs: 5_000 } }, { resolve: flipping });
    try {
      for (let i = 0; i < 5; i++) await assertCode(e.fetch(`http://flaky.test:${upstream.port}/a`), "EGRESS_ADDRESS_DENIED", "private");
      upstream.mode = "reset";
      upstream.received = 0;
      await assertCode(e.fetch(`http://flaky.test:${upstream.port}/a`), "EGRESS_UNAVAILABLE");
      await assertCode(e.fetch(`http://flaky.test:${upstream.port}/a`), "EGRESS_UNAVAILABLE");
      const open = await refusal(e.fetch(`http://flaky.test:${upstream.port}/a`));
      assert.equal(open.code, "EGRESS_CIRCUIT_OPEN");
      assert.ok(open.retryAfterSeconds! >= 1 && open.retryAfterSeconds! <= 5);
      assert.equal(upstream.received, 2);
    } finally {
      upstream.mode = "ok";
      await e.close();
    }
  });
});
