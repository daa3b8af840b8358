/**
 * The safe fetch against plain undici `fetch` to a local server, with connection reuse: requests
 * per second and the client's CPU per request, 32 in flight, interleaved rounds, medians. The
 * server runs in another process so the CPU read here is the client's alone.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Agent, fetch } from "undici";
import { createEgress } from "../src/egress/index.js";

const ROUNDS = 5;
const ROUND_MS = 2_000;
const IN_FLIGHT = 32;

if (process.argv[2] === "serve") {
  const { createServer } = await import("node:http");
  const body = JSON.stringify({ ok: true, items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` })) });
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body));
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as { port: number }).port));
} else {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["serve"]);
  const [port] = (await once(child, "message")) as [number];
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
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const compare = async (label: string, baseline: () => Promise<unknown>, ours: () => Promise<unknown>) => {
    await measure(baseline);
    await measure(ours);
    const a: { rps: number; cpuUs: number }[] = [];
    const b: { rps: number; cpuUs: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      b.push(await measure(baseline));
      a.push(await measure(ours));
    }
    const [safeRps, plainRps] = [median(a.map((r) => r.rps)), median(b.map((r) => r.rps))];
    const [safeCpu, plainCpu] = [median(a.map((r) => r.cpuUs)), median(b.map((r) => r.cpuUs))];
    console.log("  %s   undici %d req/s %s µs CPU/req   egress %d req/s %s µs CPU/req   throughput ratio %s, CPU ratio %s", label, Math.round(plainRps), plainCpu.toFixed(1), Math.round(safeRps), safeCpu.toFixed(1), (safeRps / plainRps).toFixed(2), (safeCpu / plainCpu).toFixed(2));
  };
  console.log("egress against plain undici to a local server, %d in flight, reused connections (median of %d rounds):", IN_FLIGHT, ROUNDS);
  await compare("fetch()  ", plain, safe);
  await compare("request()", plainRequest, safeRequest);
  await Promise.all([plainAgent.close(), egress.close()]);
  child.kill();
}
