import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { CLI, run, startCli, stop } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

/** The egress proxy through the real command line: inside `portcullis start`, and on its own beside it on one Postgres. */
describe("CLI: the egress proxy", () => {
  let dataDir: string;
  let gateway: ChildProcess;
  let destination: Awaited<ReturnType<typeof startEchoUpstream>>;
  let adminUrl: string;
  let egressUrl: string;
  let policyFile: string;
  let database: TestDatabase;

  before(async () => {
    const db = await createTestDatabase();
    if (typeof db === "string") throw new Error(db);
    database = db;
    dataDir = await mkdtemp(join(tmpdir(), "portcullis-egress-e2e-"));
    destination = await startEchoUpstream();
    const port = new URL(destination.url).port;
    policyFile = join(dataDir, "policy.yaml");
    await writeFile(policyFile, `version: 1\negress:\n  schemes: [http]\n  ports: { allow: [${port}] }\n  allowAddresses: [127.0.0.1]\nroutes:\n  - name: api\n    match: { path: /** }\n`);
    const started = await startCli(["--upstream", destination.url, "--data-dir", dataDir, "--policy", policyFile, "--egress-port", "0"], { DATABASE_URL: database.url });
    gateway = started.child;
    adminUrl = /admin API listening on (\S+)/.exec(started.banner)![1]!;
    egressUrl = /egress proxy listening on (\S+)/.exec(started.banner)![1]!;
  });
  after(async () => {
    await stop(gateway);
    destination.server.closeAllConnections();
    destination.server.close();
    await database.drop();
  });

  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, "--data-dir", dataDir], { env: { ...process.env, PORTCULLIS_ADMIN_URL: adminUrl, PORTCULLIS_ADMIN_TOKEN: "" } });
  const curlThrough = async (proxy: string, key: string, url: string) =>
    (await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", `http://svc:${key}@${new URL(proxy).host}`, url])).stdout;

  test("portcullis start --egress-port: a key with egress:proxy reaches what the policy allows, and nothing else", async () => {
    const tenant = JSON.parse((await cli("tenants", "create", "--name", "acme", "--json")).stdout) as { id: string };
    const { key } = JSON.parse((await cli("keys", "create", "--tenant", tenant.id, "--env", "live", "--scopes", "egress:proxy", "--json")).stdout) as { key: string };
    assert.equal(await curlThrough(egressUrl, key, `${destination.url}/hello`), "200");
    assert.equal(await curlThrough(egressUrl, key, "http://169.254.169.254/latest/meta-data/"), "403");
    assert.equal(await curlThrough(egressUrl, key, "http://10.0.0.1/"), "403");
    assert.equal(await curlThrough(egressUrl, "pk_live_wrong", `${destination.url}/hello`), "407");
  });

  test("portcullis egress on its own, on the gateway's Postgres, takes the same keys; without DATABASE_URL it refuses to start", async () => {
    const refused = await run(process.execPath, [CLI, "egress", "--port", "0"], { env: { ...process.env, DATABASE_URL: "" } }).catch((error: { code: number; stderr: string }) => error);
    assert.equal((refused as { code: number }).code, 2);
    assert.match((refused as { stderr: string }).stderr, /needs|DATABASE_URL/);

    const tenant = JSON.parse((await cli("tenants", "create", "--name", "globex", "--json")).stdout) as { id: string };
    const { key } = JSON.parse((await cli("keys", "create", "--tenant", tenant.id, "--env", "live", "--scopes", "egress:proxy", "--json")).stdout) as { key: string };
    const standalone = spawn(process.execPath, [CLI, "egress", "--port", "0", "--admin-port", "0", "--policy", policyFile], { env: { ...process.env, DATABASE_URL: database.url }, stdio: ["ignore", "pipe", "pipe"] });
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let text = "";
        standalone.stderr!.on("data", (c: Buffer) => {
          text += c.toString();
          if (/health and metrics on/.test(text)) resolve(text);
        });
        standalone.once("exit", (code) => reject(new Error(`exited ${code}: ${text}`)));
      });
      const proxyUrl = /egress proxy listening on (\S+)/.exec(banner)![1]!;
      const healthUrl = /health and metrics on (\S+)/.exec(banner)![1]!;
      assert.equal(await curlThrough(proxyUrl, key, `${destination.url}/standalone`), "200");
      assert.equal(await curlThrough(proxyUrl, key, "http://[::1]/"), "403");
      const metrics = await (await fetch(`${healthUrl}/health/metrics`)).text();
      assert.match(metrics, /portcullis_egress_proxy_requests_total\{kind="http",outcome="forwarded"\} 1/);
    } finally {
      await stop(standalone);
    }
  });
});
