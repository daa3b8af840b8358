/**
 * What redacting the gateway's log lines costs a request: two gateways on one policy but
 * `logs.redact.enabled`, API key and forward, measured in the same interleaved rounds (CPU per
 * request is the primary figure). The path holds an email, redacted on every request, unless
 * BENCH_PATH names another.
 */
import { openSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, launch, measureAll, ROOT, startWrkBenchmark, type Target } from "./harness.js";

const upstreamPort = await startWrkBenchmark("log redaction");
const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-logs-"));
const PATH = process.env.BENCH_PATH ?? "/users/alice%40example.com/orders";
const targets: Target[] = [];
for (const enabled of [true, false]) {
  const label = enabled ? "redacted" : "plain";
  const policyFile = join(dir, `${label}.json`);
  await writeFile(policyFile, JSON.stringify({ version: 1, logs: { redact: { enabled } }, routes: [{ name: "default", match: { path: "/**" } }] }));
  const { child, output } = await launch(
    process.execPath,
    [join(ROOT, "dist/src/cli/main.js"), "start", "--upstream", `http://127.0.0.1:${upstreamPort}`, "--policy", policyFile, "--port", "0", "--admin-port", "0", "--data-dir", join(dir, label)],
    /admin API listening on \S+/,
    { PORTCULLIS_ADMIN_TOKEN: ADMIN_TOKEN, DATABASE_URL: "", NODE_ENV: "" },
    openSync(join(dir, `${label}.log`), "w"),
  );
  const url = /gateway listening on (\S+)/.exec(output)![1]!;
  const adminUrl = /admin API listening on (\S+)/.exec(output)![1]!;
  const post = async (path: string, body: unknown) => (await (await fetch(adminUrl + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(body) })).json()) as Record<string, string>;
  const tenant = await post("/admin/v1/tenants", { name: "bench" });
  const { key } = await post(`/admin/v1/tenants/${tenant.id}/keys`, { env: "live" });
  targets.push({ name: `logs ${label}: key + forward, ${PATH}`, url: `${url}${PATH}`, headers: [`Authorization: Bearer ${key}`], pid: child.pid });
}
const results = measureAll(targets);
const [redacted, plain] = results.map((r) => r.cpuUsPerRequest);
console.log(`\n  redacted / plain, CPU per request   ${(redacted! / plain!).toFixed(3)}×   (+${(redacted! - plain!).toFixed(1)} µs a request)`);
process.exit(0);
