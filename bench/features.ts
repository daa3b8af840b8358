/**
 * The costs of the per-route features of the sessions issue, each against the same route without
 * it, in one gateway process, measured in the same interleaved rounds (CPU per request is the
 * primary figure): a session access token against an API key; an idempotent POST's first call
 * (a fresh key each request: a claim and a completion in the durable store, PGlite here) and its
 * replay (one fixed key: answered from the store, the upstream never reached) against a plain POST;
 * and a POST on a route with `audit` (a chained record committed before forwarding) against the
 * same POST on a route without it.
 * Once on embedded PGlite, whose work is done inside the gateway's process (so its CPU counts),
 * and once on the local Postgres server when it can be reached.
 */
import { openSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { ADMIN_TOKEN, launch, measureAll, ROOT, startWrkBenchmark, type Target } from "./harness.js";

const upstreamPort = await startWrkBenchmark("feature benchmark");
const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-features-"));
const PG_URL = process.env.PORTCULLIS_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const policyFile = join(dir, "policy.json");
await writeFile(
  policyFile,
  JSON.stringify({
    version: 1,
    sessions: { accessTokenSeconds: 3600 },
    routes: [
      { name: "idempotent", match: { path: "/idem/**" }, idempotency: {} },
      { name: "audited", match: { path: "/audited/**" }, audit: true },
      { name: "default", match: { path: "/**" } },
    ],
  }),
);
/** One gateway on the given store (PGlite when `databaseUrl` is empty), its five targets measured together. */
async function measureOn(label: string, databaseUrl: string): Promise<void> {
  console.log(`\n${label}`);
  const { child: gateway, output } = await launch(
    process.execPath,
    [join(ROOT, "dist/src/cli/main.js"), "start", "--upstream", `http://127.0.0.1:${upstreamPort}`, "--policy", policyFile, "--port", "0", "--admin-port", "0", "--data-dir", join(dir, label.replace(/\W+/g, "-"))],
    /admin API listening on \S+/,
    { PORTCULLIS_ADMIN_TOKEN: ADMIN_TOKEN, DATABASE_URL: databaseUrl, NODE_ENV: "" },
    openSync(join(dir, `${label.replace(/\W+/g, "-")}.log`), "w"),
  );
  const url = /gateway listening on (\S+)/.exec(output)![1]!;
  const adminUrl = /admin API listening on (\S+)/.exec(output)![1]!;
  const post = async (target: string, body: unknown, headers: Record<string, string>) =>
    (await (await fetch(target, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })).json()) as Record<string, string>;
  const tenant = await post(`${adminUrl}/admin/v1/tenants`, { name: "bench" }, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const key = (await post(`${adminUrl}/admin/v1/tenants/${tenant.id}/keys`, { env: "live", scopes: ["sessions:write"] }, { authorization: `Bearer ${ADMIN_TOKEN}` })).key!;
  const session = (await post(`${url}/portcullis/v1/sessions`, { subject: "bench-user" }, { authorization: `Bearer ${key}` })).access_token!;

  const script = async (name: string, lua: string) => {
    const file = join(dir, `${name}.lua`);
    await writeFile(file, lua);
    return file;
  };
  const plainPost = await script("post", 'wrk.method = "POST"\nwrk.body = "{\\"amount\\":1}"\nwrk.headers["Content-Type"] = "application/json"\n');
  // wrk.format replaces wrk.headers with the table it is given: the -H headers (the key) are copied in.
  const freshKeys = await script(
    "fresh",
    [
      "local n = 0",
      // Lua's generator starts alike in every process: unseeded, each wrk run would send the last one's keys again (replays).
      "math.randomseed(os.time())",
      "local prefix = tostring(os.time()) .. '-' .. tostring(math.random(1, 1e9))",
      "request = function()",
      "  n = n + 1",
      "  local headers = {}",
      "  for name, value in pairs(wrk.headers) do headers[name] = value end",
      '  headers["Content-Type"] = "application/json"',
      '  headers["Idempotency-Key"] = prefix .. "-" .. n',
      '  return wrk.format("POST", nil, headers, "{\\"amount\\":1}")',
      "end",
      "",
    ].join("\n"),
  );
  const fixedKey = await script("replay", 'wrk.method = "POST"\nwrk.body = "{\\"amount\\":1}"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Idempotency-Key"] = "the-one-key"\n');

  const NAMES = {
    key: "GET, API key",
    session: "GET, session access token",
    post: "POST, API key, no idempotency",
    first: "POST, idempotent, first call (fresh key)",
    replay: "POST, idempotent, replay (same key)",
    audited: "POST, route with audit",
  };
  const auth = [`Authorization: Bearer ${key}`];
  const targets: Target[] = [
    { name: NAMES.key, url: `${url}/items`, headers: auth, pid: gateway.pid },
    { name: NAMES.session, url: `${url}/items`, headers: [`Authorization: Bearer ${session}`], pid: gateway.pid },
    { name: NAMES.post, url: `${url}/items`, headers: auth, pid: gateway.pid, script: plainPost },
    { name: NAMES.first, url: `${url}/idem/items`, headers: auth, pid: gateway.pid, script: freshKeys },
    { name: NAMES.replay, url: `${url}/idem/items`, headers: auth, pid: gateway.pid, script: fixedKey },
    { name: NAMES.audited, url: `${url}/audited/items`, headers: auth, pid: gateway.pid, script: plainPost },
  ];
  const results = measureAll(targets);
  const cpu = (name: string) => results.find((r) => r.name === name)!.cpuUsPerRequest;
  console.log("\nratios, CPU per request");
  console.log(`  session / API key on the same route              ${(cpu(NAMES.session) / cpu(NAMES.key)).toFixed(2)}×   (goal ≤ 1.1×)`);
  console.log(`  idempotent first call / plain POST               ${(cpu(NAMES.first) / cpu(NAMES.post)).toFixed(2)}×   (reported)`);
  console.log(`  idempotent replay / plain POST                   ${(cpu(NAMES.replay) / cpu(NAMES.post)).toFixed(2)}×   (reported; the upstream is not reached)`);
  console.log(`  audited POST / plain POST                        ${(cpu(NAMES.audited) / cpu(NAMES.post)).toFixed(2)}×   (goal ≤ 1.15×)`);
  gateway.kill("SIGTERM");
}

await measureOn("embedded PGlite (the default)", "");
const server = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
try {
  await server.connect();
  const name = `portcullis_bench_${process.pid}`;
  await server.query(`create database ${name}`);
  try {
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    await measureOn("Postgres server", url.toString());
  } finally {
    await new Promise((r) => setTimeout(r, 500));
    await server.query(`drop database if exists ${name} with (force)`);
  }
} catch (error) {
  console.log(`\nPostgres at ${PG_URL} not measured: ${(error as Error).message}`);
} finally {
  await server.end().catch(() => undefined);
}
process.exit(0);
