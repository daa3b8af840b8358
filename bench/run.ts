/**
 * `npm run bench`: each server in its own process, load from wrk on loopback, figures as ratios
 * to baselines measured in the same run (this machine is shared, so absolute numbers drift; the
 * ratios are what the goals are stated in). Results go to bench/results/.
 */
import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ADMIN_TOKEN, children, CONNECTIONS, DURATION, has, freePort, launch, measureAll, ROOT, ROUNDS, type Target } from "./harness.js";

async function startNginx(upstreamPort: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-nginx-"));
  const port = await freePort();
  await writeFile(
    join(dir, "nginx.conf"),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream api { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const child = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], { stdio: "ignore" });
  children.push(child);
  for (let i = 0; i < 50; i++) {
    if (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return `http://127.0.0.1:${port}`;
}

const KEY_FORWARD = "portcullis: api key + forward";
const LIMITED = "portcullis: key + limits + shield + forward";
const PEERS = {
  nginxDecisionKey: "nginx + decision API: key (decision's cpu)",
  nginxDecisionFull: "nginx + decision API: full chain (decision's cpu)",
  caddy: "caddy reverse_proxy",
  fastifyPlain: "fastify route (plain)",
  fastifyAdapterKey: "fastify route + portcullis adapter: key",
  fastifyAdapterFull: "fastify route + portcullis adapter: full chain",
  expressStack: "express + helmet + rate limit + key + proxy",
  fastifyStack: "fastify + helmet + rate limit + key + proxy",
} as const;

/**
 * What a user would pick instead, each doing the gateway's work: nginx in front with the decision
 * API (the shipped examples/nginx configuration), Caddy's reverse_proxy, the stacks written by
 * hand on Express and Fastify, and a Fastify route with and without the in-process adapter.
 */
async function peers(upstream: string, upstreamPort: number, decisionUrl: string, key: string, gatewayPid: number | undefined, policy: object): Promise<Target[]> {
  const out: Target[] = [];
  const auth = [`Authorization: Bearer ${key}`];
  if (has("nginx")) {
    const url = await startExampleNginx(decisionUrl, upstream);
    out.push({ name: PEERS.nginxDecisionKey, url: `${url}/items`, headers: auth, pid: gatewayPid }, { name: PEERS.nginxDecisionFull, url: `${url}/limited/items`, headers: auth, pid: gatewayPid });
  }
  if (has("caddy")) out.push({ name: PEERS.caddy, ...(await startCaddy(upstreamPort)), headers: [] });
  else console.log("  caddy not installed: skipping Caddy reverse_proxy (apt-get install caddy)");
  const plainPort = await freePort();
  const plain = await launch(process.execPath, [join(ROOT, "dist/bench/servers/fastify-app.js"), "plain", String(plainPort)], /ready/);
  out.push({ name: PEERS.fastifyPlain, url: `http://127.0.0.1:${plainPort}/items`, headers: [], pid: plain.child.pid });
  const adapterPort = await freePort();
  const adapter = await launch(process.execPath, [join(ROOT, "dist/bench/servers/fastify-app.js"), "portcullis", String(adapterPort), JSON.stringify(policy)], /ready \S+/);
  const adapterAuth = [`Authorization: Bearer ${/ready (\S+)/.exec(adapter.output)![1]!}`];
  out.push(
    { name: PEERS.fastifyAdapterKey, url: `http://127.0.0.1:${adapterPort}/items`, headers: adapterAuth, pid: adapter.child.pid },
    { name: PEERS.fastifyAdapterFull, url: `http://127.0.0.1:${adapterPort}/limited/items`, headers: adapterAuth, pid: adapter.child.pid },
  );
  for (const [kind, name] of [["express", PEERS.expressStack], ["fastify", PEERS.fastifyStack]] as const) {
    const port = await freePort();
    const stack = await launch(process.execPath, [join(ROOT, "dist/bench/servers/hand-written-stacks.js"), kind, String(port), upstream, key], /ready/);
    out.push({ name, url: `http://127.0.0.1:${port}/items`, headers: auth, pid: stack.child.pid });
  }
  return out;
}

/** nginx with the configuration shipped in examples/nginx, pointed at this run's decision API and upstream. */
async function startExampleNginx(decisionUrl: string, upstream: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-nginx-auth-"));
  await mkdir(join(dir, "tmp"));
  const port = await freePort();
  const config = readFileSync(join(ROOT, "examples/nginx/nginx.conf"), "utf8")
    .replaceAll("127.0.0.1:9000", new URL(decisionUrl).host)
    .replaceAll("127.0.0.1:3000", new URL(upstream).host)
    .replaceAll("127.0.0.1:8000", `127.0.0.1:${port}`);
  await writeFile(join(dir, "nginx.conf"), process.getuid?.() === 0 ? `user root;\n${config}` : config);
  const child = spawn("nginx", ["-p", dir, "-c", "nginx.conf"], { stdio: "ignore" });
  children.push(child);
  await waitFor(`http://127.0.0.1:${port}/health-of-nothing`);
  return `http://127.0.0.1:${port}`;
}

async function startCaddy(upstreamPort: number): Promise<{ url: string; pid: number | undefined }> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-caddy-"));
  const port = await freePort();
  await writeFile(join(dir, "Caddyfile"), `{\n\tadmin off\n\tauto_https off\n}\nhttp://127.0.0.1:${port} {\n\treverse_proxy 127.0.0.1:${upstreamPort}\n}\n`);
  const child = spawn("caddy", ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], { stdio: "ignore", env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
  children.push(child);
  await waitFor(`http://127.0.0.1:${port}/items`);
  return { url: `http://127.0.0.1:${port}/items`, pid: child.pid };
}

/** Until the server answers at all (any status). */
async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function main(): Promise<void> {
  if (!has("wrk")) {
    console.error("npm run bench needs wrk (and, for the nginx reference, nginx): apt-get install wrk nginx");
    process.exit(1);
  }
  console.log(`gateway benchmark: wrk, 1 thread, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION} per target, loopback`);

  const upstreamPort = await freePort();
  const upstreamProcess = await launch(process.execPath, [join(ROOT, "dist/bench/servers/upstream.js"), String(upstreamPort)], /ready/);
  const upstream = `http://127.0.0.1:${upstreamPort}`;

  const barePort = await freePort();
  const bareProcess = await launch(process.execPath, [join(ROOT, "dist/bench/servers/bare-proxy.js"), String(barePort), upstream], /ready/);

  const dataDir = await mkdtemp(join(tmpdir(), "portcullis-bench-"));
  // The full chain as far as it is built: key, rate limits (per key and per tenant, in memory,
  // never refusing at this load), blocking checks, the shield on path, query and headers,
  // security headers, forward.
  const policy = {
    version: 1,
    routes: [
      {
        name: "limited",
        match: { path: "/limited/**" },
        limits: [
          { name: "per-key", by: ["key"], rate: 1_000_000, per: "second" },
          { name: "per-tenant", by: ["tenant"], rate: 1_000_000, per: "second" },
        ],
        // GET requests carry no body, so this is the shield's whole work here; inspectBody: false
        // lets the decision API serve the same policy.
        shield: { inspectBody: false },
      },
      { name: "default", match: { path: "/**" } },
    ],
  };
  const policyFile = join(dataDir, "policy.json");
  await writeFile(policyFile, JSON.stringify(policy));
  const { child: gatewayProcess, output } = await launch(
    process.execPath,
    [join(ROOT, "dist/src/cli/main.js"), "start", "--upstream", upstream, "--policy", policyFile, "--port", "0", "--admin-port", "0", "--decision-port", "0", "--data-dir", dataDir],
    /admin API listening on \S+/,
    { PORTCULLIS_ADMIN_TOKEN: ADMIN_TOKEN, DATABASE_URL: "", NODE_ENV: "" },
    openSync(join(dataDir, "gateway.log"), "w"),
  );
  const gatewayUrl = /gateway listening on (\S+)/.exec(output)![1]!;
  const decisionUrl = /decision API listening on (\S+)/.exec(output)![1]!;
  const adminUrl = /admin API listening on (\S+)/.exec(output)![1]!;
  const admin = async (path: string, body: unknown) =>
    (await (
      await fetch(adminUrl + path, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, string>;
  const tenant = await admin("/admin/v1/tenants", { name: "bench" });
  const key = (await admin(`/admin/v1/tenants/${tenant.id}/keys`, { env: "live", scopes: ["read"] })).key;

  const targets: Target[] = [
    { name: "upstream (direct)", url: `${upstream}/items`, headers: [], pid: upstreamProcess.child.pid },
    { name: "bare Node proxy (undici)", url: `http://127.0.0.1:${barePort}/items`, headers: [], pid: bareProcess.child.pid },
    { name: KEY_FORWARD, url: `${gatewayUrl}/items`, headers: [`Authorization: Bearer ${key}`], pid: gatewayProcess.pid },
    { name: LIMITED, url: `${gatewayUrl}/limited/items`, headers: [`Authorization: Bearer ${key}`], pid: gatewayProcess.pid },
  ];
  if (has("nginx")) targets.push({ name: "nginx proxy_pass", url: `${await startNginx(upstreamPort)}/items`, headers: [] });
  else console.log("  nginx not installed: skipping the reference ceiling (apt-get install nginx)");
  const unloadedTargets = [...targets];
  const compared = await peers(upstream, upstreamPort, decisionUrl, key!, gatewayProcess.pid, policy);
  targets.push(...compared);
  console.log(`\nthroughput, ${CONNECTIONS} connections (saturated):`);
  const results = measureAll(targets);
  console.log("\nlatency, 1 connection (unloaded):");
  const unloaded = measureAll(unloadedTargets, "1");
  const byName = (name: string) => results.find((r) => r.name === name);

  const bare = results[1]!;
  const gateway = byName(KEY_FORWARD)!;
  const limited = byName(LIMITED)!;
  const nginx = byName("nginx proxy_pass");
  const ratios = {
    gatewayToBareThroughput: gateway.requestsPerSecond / bare.requestsPerSecond,
    gatewayToBareCpuPerRequest: gateway.cpuUsPerRequest / bare.cpuUsPerRequest,
    limitedToBareCpuPerRequest: limited.cpuUsPerRequest / bare.cpuUsPerRequest,
    limitedToBareThroughput: limited.requestsPerSecond / bare.requestsPerSecond,
    limitedAddedP99MsUnloaded: unloaded[3]!.p99Ms - unloaded[1]!.p99Ms,
    gatewayAddedP50MsUnloaded: unloaded[2]!.p50Ms - unloaded[1]!.p50Ms,
    gatewayAddedP99MsUnloaded: unloaded[2]!.p99Ms - unloaded[1]!.p99Ms,
    gatewayAddedP99MsSaturated: gateway.p99Ms - bare.p99Ms,
    ...(nginx === undefined ? {} : { gatewayToNginxThroughput: gateway.requestsPerSecond / nginx.requestsPerSecond }),
  };
  console.log("\nratios (goal: ≥ 0.85 of the bare proxy, ≤ 1 ms added at p99)");
  console.log(`  portcullis / bare proxy throughput  ${ratios.gatewayToBareThroughput.toFixed(3)}`);
  console.log(`  with limits / bare proxy throughput ${ratios.limitedToBareThroughput.toFixed(3)}   (added p99 unloaded ${ratios.limitedAddedP99MsUnloaded.toFixed(3)} ms)`);
  console.log(`  CPU per request / bare proxy's      ${ratios.gatewayToBareCpuPerRequest.toFixed(2)}× key + forward, ${ratios.limitedToBareCpuPerRequest.toFixed(2)}× full chain`);
  console.log(`  added latency, unloaded p50 / p99    ${ratios.gatewayAddedP50MsUnloaded.toFixed(3)} ms / ${ratios.gatewayAddedP99MsUnloaded.toFixed(3)} ms`);
  console.log(`  added p99 latency, saturated         ${ratios.gatewayAddedP99MsSaturated.toFixed(2)} ms (queueing: follows the throughput gap)`);
  if (ratios.gatewayToNginxThroughput !== undefined) console.log(`  portcullis / nginx throughput       ${ratios.gatewayToNginxThroughput.toFixed(3)}`);

  // The goals of the "one pipeline, three front ends" issue, each against a peer measured above.
  const goal = (label: string, value: number | undefined, target: string, digits = 2) =>
    console.log(`  ${label.padEnd(58)} ${value === undefined || Number.isNaN(value) ? "n/a" : value.toFixed(digits)}   (goal ${target})`);
  const ratioOf = (a: string, b: string, field: "requestsPerSecond" | "cpuUsPerRequest") => {
    const x = byName(a)?.[field];
    const y = byName(b)?.[field];
    return x === undefined || y === undefined ? undefined : x / y;
  };
  const peerRatios = {
    fullChainToCaddyThroughput: ratioOf(LIMITED, PEERS.caddy, "requestsPerSecond"),
    fullChainToFastifyStackThroughput: ratioOf(LIMITED, PEERS.fastifyStack, "requestsPerSecond"),
    fullChainToExpressStackThroughput: ratioOf(LIMITED, PEERS.expressStack, "requestsPerSecond"),
    keyForwardToFastifyStackThroughput: ratioOf(KEY_FORWARD, PEERS.fastifyStack, "requestsPerSecond"),
    keyForwardToExpressStackThroughput: ratioOf(KEY_FORWARD, PEERS.expressStack, "requestsPerSecond"),
    keyForwardToCaddyThroughput: ratioOf(KEY_FORWARD, PEERS.caddy, "requestsPerSecond"),
    nginxDecisionFullToGatewayFullThroughput: ratioOf(PEERS.nginxDecisionFull, LIMITED, "requestsPerSecond"),
    nginxDecisionKeyToGatewayKeyThroughput: ratioOf(PEERS.nginxDecisionKey, KEY_FORWARD, "requestsPerSecond"),
    fastifyAdapterKeyCpuToPlain: ratioOf(PEERS.fastifyAdapterKey, PEERS.fastifyPlain, "cpuUsPerRequest"),
    fastifyAdapterFullCpuToPlain: ratioOf(PEERS.fastifyAdapterFull, PEERS.fastifyPlain, "cpuUsPerRequest"),
  };
  console.log("\ngoals");
  goal("CPU per request, key + forward / bare proxy", ratios.gatewayToBareCpuPerRequest, "≤ 1.30×");
  goal("CPU per request, full chain / bare proxy", ratios.limitedToBareCpuPerRequest, "≤ 1.45×");
  goal("throughput, full chain / Caddy reverse_proxy", peerRatios.fullChainToCaddyThroughput, "≥ 1");
  goal("throughput, full chain / Fastify stack", peerRatios.fullChainToFastifyStackThroughput, "≥ 2");
  goal("throughput, full chain / Express stack", peerRatios.fullChainToExpressStackThroughput, "≥ 3");
  goal("throughput, nginx + decision (full chain) / gateway full chain", peerRatios.nginxDecisionFullToGatewayFullThroughput, "≥ 1.5");
  goal("CPU per request, Fastify + adapter (key) / plain Fastify route", peerRatios.fastifyAdapterKeyCpuToPlain, "≤ 1.15×");
  goal("CPU per request, Fastify + adapter (full chain) / plain route", peerRatios.fastifyAdapterFullCpuToPlain, "reported");

  await mkdir(join(ROOT, "bench/results"), { recursive: true });
  const file = join(ROOT, "bench/results/gateway.json");
  await writeFile(
    file,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, connections: Number(CONNECTIONS), duration: DURATION, rounds: ROUNDS, saturated: results, unloaded, ratios, peerRatios }, null, 2) + "\n",
  );
  console.log(`\nfigures written to ${file}`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
