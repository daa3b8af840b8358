/**
 * The safe fetch against plain undici `fetch` to a local server, with connection reuse: requests
 * per second and the client's CPU per request, 32 in flight, interleaved rounds, medians. The
 * server runs in another process so the CPU read here is the client's alone.
 *
 * Then the egress proxy's CONNECT: a new tunnel per request (connect, CONNECT, one HTTP exchange,
 * close) against the same exchange on a direct connection, and bulk bytes through one tunnel
 * against one direct connection. The proxy and the destination share the child process, so its
 * CPU per exchange, tunnelled less direct, is what the proxy costs.
 */
import { fork, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Agent, fetch } from "undici";
import { createEgress } from "../src/egress/index.js";
import { median } from "./harness.js";

const ROUNDS = 5;
const ROUND_MS = 2_000;
const IN_FLIGHT = 32;

if (process.argv[2] === "serve") {
  const { createServer } = await import("node:http");
  const { createEgressProxy } = await import("../src/egress/proxy.js");
  const { createLogger } = await import("../src/observability/logger.js");
  const body = JSON.stringify({ ok: true, items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` })) });
  const bulk = Buffer.alloc(64 * 1024 * 1024);
  const server = createServer((req, res) => {
    if (req.url === "/bulk") return void res.writeHead(200, { "content-length": bulk.length }).end(bulk);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const egress = createEgress({ schemes: ["https", "http"], ports: { allow: [port] }, allowAddresses: ["127.0.0.1"] }, { resolve: async () => [{ address: "127.0.0.1", family: 4 }] });
  const principal = { kind: "api_key" as const, tenantId: "t", id: "k", scopes: new Set(["egress:proxy"]) };
  const proxy = createEgressProxy({ egress, authenticate: () => principal, maxConcurrentPerClient: 1_000, logger: createLogger({ level: "silent" }) });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  process.on("message", () => {
    const used = process.cpuUsage();
    process.send!({ cpuUs: used.user + used.system });
  });
  process.send!({ port, proxyPort: (proxy.address() as { port: number }).port });
} else {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["serve"]);
  const [{ port, proxyPort }] = (await once(child, "message")) as [{ port: number; proxyPort: number }];
  const childCpu = async () => {
    child.send("cpu");
    return ((await once(child, "message")) as [{ cpuUs: number }])[0].cpuUs;
  };
  const plainAgent = new Agent({ connections: IN_FLIGHT });
  const egress = createEgress({ schemes: ["http"], ports: { allow: [port] }, allowAddresses: ["127.0.0.1"], contentTypes: ["application/json"] }, { resolve: async () => [{ address: "127.0.0.1", family: 4 }] });

  const plain = async () => (await fetch(`http://127.0.0.1:${port}/items`, { dispatcher: plainAgent })).arrayBuffer();
  const safe = async () => (await egress.fetch(`http://service.internal:${port}/items`)).arrayBuffer();
  const plainRequest = async () => (await plainAgent.request({ origin: `http://127.0.0.1:${port}`, path: "/items", method: "GET" })).body.arrayBuffer();
  const safeRequest = async () => (await egress.request(`http://service.internal:${port}/items`)).body.arrayBuffer();

  const measure = async (once: () => Promise<unknown>): Promise<{ rps: number; cpuUs: number }> => {
    let n = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const end = started + ROUND_MS;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < end) {
          await once();
          n++;
        }
      }),
    );
    const used = process.cpuUsage(cpu);
    return { rps: n / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / n };
  };
  /** A warm-up of each, then ROUNDS interleaved rounds: the machine's drift falls on both alike. */
  const interleaved = async <T>(baseline: () => Promise<T>, ours: () => Promise<T>): Promise<[T[], T[]]> => {
    await baseline();
    await ours();
    const b: T[] = [];
    const a: T[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      b.push(await baseline());
      a.push(await ours());
    }
    return [b, a];
  };
  const compare = async (label: string, baseline: () => Promise<unknown>, ours: () => Promise<unknown>) => {
    const [b, a] = await interleaved(() => measure(baseline), () => measure(ours));
    const [safeRps, plainRps] = [median(a.map((r) => r.rps)), median(b.map((r) => r.rps))];
    const [safeCpu, plainCpu] = [median(a.map((r) => r.cpuUs)), median(b.map((r) => r.cpuUs))];
    console.log("  %s   undici %d req/s %s µs CPU/req   egress %d req/s %s µs CPU/req   throughput ratio %s, CPU ratio %s", label, Math.round(plainRps), plainCpu.toFixed(1), Math.round(safeRps), safeCpu.toFixed(1), (safeRps / plainRps).toFixed(2), (safeCpu / plainCpu).toFixed(2));
  };
  console.log("egress against plain undici to a local server, %d in flight, reused connections (median of %d rounds):", IN_FLIGHT, ROUNDS);
  await compare("fetch()  ", plain, safe);
  await compare("request()", plainRequest, safeRequest);

  // One HTTP exchange on a fresh connection, direct or through a fresh tunnel.
  const authorization = `Proxy-Authorization: Basic ${Buffer.from("svc:key").toString("base64")}\r\n`;
  const exchange = (tunnel: boolean, path = "/items") =>
    new Promise<number>((resolve, reject) => {
      const socket = connect(tunnel ? proxyPort : port, "127.0.0.1");
      let received = 0;
      let connected = !tunnel;
      const request = `GET ${path} HTTP/1.1\r\nHost: service.internal:${port}\r\nConnection: close\r\n\r\n`;
      socket.once("connect", () => socket.write(tunnel ? `CONNECT service.internal:${port} HTTP/1.1\r\nHost: service.internal:${port}\r\n${authorization}\r\n` : request));
      socket.on("data", (chunk: Buffer) => {
        if (!connected) {
          connected = true;
          if (!chunk.toString("latin1").startsWith("HTTP/1.1 200")) return reject(new Error("tunnel refused"));
          socket.write(request);
          return;
        }
        received += chunk.length;
      });
      socket.on("end", () => resolve(received));
      socket.on("error", reject);
    });
  const perExchange = async (tunnel: boolean): Promise<{ rate: number; childCpuUs: number }> => {
    let n = 0;
    const cpu = await childCpu();
    const started = performance.now();
    const end = started + ROUND_MS;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        await exchange(tunnel);
        n++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    return { rate: n / seconds, childCpuUs: ((await childCpu()) - cpu) / n };
  };
  const [direct, tunnelled] = await interleaved(() => perExchange(false), () => perExchange(true));
  const [directRate, tunnelRate] = [median(direct.map((r) => r.rate)), median(tunnelled.map((r) => r.rate))];
  const proxyCpu = median(tunnelled.map((r) => r.childCpuUs)) - median(direct.map((r) => r.childCpuUs));
  console.log("egress proxy CONNECT, a new connection per exchange, 16 at once (median of %d rounds):", ROUNDS);
  console.log("  direct %d exchanges/s   through a tunnel %d tunnels/s   ratio %s   the proxy's CPU %s µs per tunnel", Math.round(directRate), Math.round(tunnelRate), (tunnelRate / directRate).toFixed(2), proxyCpu.toFixed(1));
  const bulkRate = async (tunnel: boolean) => {
    const started = performance.now();
    const bytes = await exchange(tunnel, "/bulk");
    return bytes / 1e6 / ((performance.now() - started) / 1000);
  };
  const [bulkDirect, bulkTunnel] = await interleaved(() => bulkRate(false), () => bulkRate(true));
  console.log("  64 MB on one connection: direct %d MB/s, through a tunnel %d MB/s, ratio %s", Math.round(median(bulkDirect)), Math.round(median(bulkTunnel)), (median(bulkTunnel) / median(bulkDirect)).toFixed(2));
  await Promise.all([plainAgent.close(), egress.close()]);
  child.kill();
}
