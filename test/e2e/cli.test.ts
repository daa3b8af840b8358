import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { CLI, run, startCli, stop } from "../helpers/cli.js";

describe("CLI end to end", () => {
  let dataDir: string;
  let child: ChildProcess;
  let banner: string;
  let gatewayUrl: string;
  let adminUrl: string;
  let echo: Awaited<ReturnType<typeof startEchoUpstream>>;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "portcullis-e2e-"));
    echo = await startEchoUpstream();
    const started = await startCli(["--upstream", echo.url, "--data-dir", dataDir]);
    child = started.child;
    banner = started.banner;
    gatewayUrl = /gateway listening on (\S+)/.exec(started.banner)![1]!;
    adminUrl = /admin API listening on (\S+)/.exec(started.banner)![1]!;
    assert.match(started.banner, /admin token \(shown once/);
  });
  after(async () => {
    await stop(child);
    echo.server.closeAllConnections();
    echo.server.close();
  });

  test("the banner never carries a secret into a stream that is not a terminal (a log collector keeps it)", async () => {
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    assert.ok(token.length >= 32);
    assert.ok(!banner.includes(token), "the admin token is named by its file, not printed");
    assert.match(banner, new RegExp(`read it from ${join(dataDir, "admin-token").replaceAll("/", "\\/")}`));
  });

  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, ...args, "--data-dir", dataDir], { env: { ...process.env, PORTCULLIS_ADMIN_URL: adminUrl, PORTCULLIS_ADMIN_TOKEN: "" } });

  test("tenants and keys made with the CLI let real HTTP through the gateway, and revocation stops it", async () => {
    const tenant = JSON.parse((await cli("tenants", "create", "--name", "acme", "--json")).stdout) as { id: string };
    const key = JSON.parse((await cli("keys", "create", "--tenant", tenant.id, "--env", "test", "--scopes", "read,write", "--json")).stdout) as {
      id: string;
      key: string;
    };
    const listed = (await cli("keys", "list", "--tenant", tenant.id)).stdout;
    assert.ok(listed.includes(key.id) && !listed.includes(key.key), "list shows the id, never the key");

    const response = await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${key.key}` } });
    assert.equal(response.status, 200);
    assert.ok(((await response.json()) as { headers: Record<string, string> }).headers["x-portcullis-identity"]);
    assert.equal((await fetch(`${gatewayUrl}/things`)).status, 401);

    const rotated = JSON.parse((await cli("keys", "rotate", key.id, "--grace", "0", "--json")).stdout) as { key: string; id: string };
    assert.equal((await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${key.key}` } })).status, 401);
    assert.equal((await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${rotated.key}` } })).status, 200);
    await cli("keys", "revoke", rotated.id);
    assert.equal((await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${rotated.key}` } })).status, 401);
  });

  test("a tenant is exported, deleted, restored and its trail listed with the CLI; the sweep runs on demand", async () => {
    const tenant = JSON.parse((await cli("tenants", "create", "--name", "leaving", "--json")).stdout) as { id: string };
    const key = JSON.parse((await cli("keys", "create", "--tenant", tenant.id, "--env", "test", "--json")).stdout) as { key: string };
    const out = join(dataDir, "bundle.json");
    assert.match((await cli("tenants", "export", tenant.id, "--out", out)).stdout, /export bundle is in/);
    const bundle = JSON.parse(await readFile(out, "utf8")) as { format: string; keys: unknown[] };
    assert.equal(bundle.format, "portcullis-tenant-export-v1");
    assert.ok(!JSON.stringify(bundle).includes(key.key));
    assert.match((await cli("tenants", "delete", tenant.id)).stdout, /status: deleting\n.*deletion: step=anonymised, /s);
    assert.equal((await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${key.key}` } })).status, 401);
    assert.match((await cli("tenants", "restore", tenant.id)).stdout, /status: active/);
    const listed = (await cli("audit", "list", "--tenant", tenant.id)).stdout;
    for (const action of ["admin.create_tenant", "admin.export_tenant", "tenant.deletion_requested", "tenant.vault_shredded", "tenant.restored"]) assert.ok(listed.includes(action), action);
    assert.match((await cli("retention", "run")).stdout, /tenants: \d+/);
  });

  test("sessions are listed and ended with the CLI; roles are shown and refused where the policy defines none", async () => {
    const tenant = JSON.parse((await cli("tenants", "create", "--name", "sessions", "--json")).stdout) as { id: string };
    const { key } = JSON.parse((await cli("keys", "create", "--tenant", tenant.id, "--env", "test", "--scopes", "sessions:write", "--json")).stdout) as { key: string };
    const issued = (await (
      await fetch(`${gatewayUrl}/portcullis/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ subject: "user-42" }) })
    ).json()) as { access_token: string };
    const listed = JSON.parse((await cli("sessions", "list", "--tenant", tenant.id, "--subject", "user-42", "--json")).stdout) as { sessions: { id: string }[] };
    assert.equal(listed.sessions.length, 1);
    assert.equal((await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${issued.access_token}` } })).status, 200);
    assert.match((await cli("sessions", "sign-out", "--tenant", tenant.id, "--subject", "user-42")).stdout, /1 session\(s\) ended/);
    assert.equal((await fetch(`${gatewayUrl}/things`, { headers: { authorization: `Bearer ${issued.access_token}` } })).status, 401);
    assert.match((await cli("roles", "get", "--tenant", tenant.id, "--user", "user-42")).stdout, /no roles/);
    await assert.rejects(cli("roles", "set", "--tenant", tenant.id, "--user", "user-42", "--roles", "admin"), /defines no role "admin"/);
    await assert.rejects(cli("roles", "get", "--tenant", tenant.id), /exactly one of --user/);
  });

  test("vault keys are rotated, rewrapped and retired with the CLI while secrets stay readable", async () => {
    const tenant = JSON.parse((await cli("tenants", "create", "--name", "vaulted", "--json")).stdout) as { id: string };
    const { key } = JSON.parse((await cli("keys", "create", "--tenant", tenant.id, "--env", "live", "--scopes", "vault:read,vault:write", "--json")).stdout) as {
      key: string;
    };
    const secret = (name: string, method = "GET", body?: string) =>
      fetch(`${gatewayUrl}/portcullis/v1/vault/secrets/${name}`, { method, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { body }) });
    for (const n of ["a", "b", "c"]) assert.equal((await secret(n, "PUT", `value-${n}`)).status, 200);

    assert.equal(JSON.parse((await cli("vault", "rotate", "--tenant", tenant.id, "--json")).stdout).version, 2);
    assert.equal(JSON.parse((await cli("vault", "rewrap", "--tenant", tenant.id, "--batch", "2", "--json")).stdout).rewrapped, 3);
    const status = JSON.parse((await cli("vault", "status", "--tenant", tenant.id, "--json")).stdout) as { keys: { version: number; secrets: number }[] };
    assert.deepEqual(status.keys.map((k) => [k.version, k.secrets]), [[1, 0], [2, 3]]);
    assert.equal(JSON.parse((await cli("vault", "retire", "--tenant", tenant.id, "--min-version", "2", "--json")).stdout).destroyed, 1);
    for (const n of ["a", "b", "c"]) assert.equal(await (await secret(n)).text(), `value-${n}`);
  });

  test("CLI mistakes are clear messages with a non-zero exit, never a stack trace", async () => {
    for (const args of [["keys", "create", "--env", "live"], ["tenants", "get", "00000000-0000-4000-8000-000000000000"], ["keys", "create", "--tenant", "x", "--env", "prod"], ["tenants", "nope"], ["bogus"], ["tenants", "create", "--nme", "x"]]) {
      const error = (await cli(...args).then(() => assert.fail(`${args.join(" ")} succeeded`), (e: unknown) => e)) as { code: number; stderr: string };
      assert.ok(error.code > 0, args.join(" "));
      assert.match(error.stderr, /^portcullis: /, args.join(" "));
      assert.ok(!/\n\s+at /.test(error.stderr), `stack trace for ${args.join(" ")}: ${error.stderr}`);
    }
  });

  test("a second gateway on the same data directory is refused, not allowed to corrupt it", async () => {
    const error = (await run(process.execPath, [CLI, "start", "--upstream", echo.url, "--port", "0", "--admin-port", "0", "--data-dir", dataDir], {
      env: { ...process.env, PORTCULLIS_ADMIN_TOKEN: "", DATABASE_URL: "" },
    }).catch((e: unknown) => e)) as { code: number; stderr: string };
    assert.equal(error.code, 2);
    assert.match(error.stderr, /in use by process \d+/);
    assert.equal((await fetch(`${gatewayUrl}/health/ready`)).status, 200, "the running gateway is unharmed");
  });

  test("every command has --help", async () => {
    for (const args of [["--help"], ["start", "--help"], ["tenants", "--help"], ["keys", "--help"], ["vault", "--help"]]) {
      assert.match((await run(process.execPath, [CLI, ...args])).stdout, /Usage/, args.join(" "));
    }
  });
});

describe("CLI start: quick start and refusals", () => {
  test("--echo prints a curl line whose key works", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "portcullis-echo-"));
    const { child, banner } = await startCli(["--echo", "--data-dir", dataDir]);
    try {
      // Not a terminal here, so the line names the key's file instead of printing the key.
      const [, keyFile, url] = /Authorization: Bearer \$\(cat (\S+)\)" (\S+)/.exec(banner)!;
      const key = (await readFile(keyFile!, "utf8")).trim();
      assert.ok(!banner.includes(key), "the demo key is not printed where a log collector would keep it");
      const response = await fetch(url!, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(response.status, 200);
    } finally {
      await stop(child);
    }
  });

  test("a malformed policy file is refused with the file and path named", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-policy-"));
    const file = join(dir, "policy.yaml");
    await writeFile(file, "version: 1\nroutes:\n  - name: r\n    match: { path: /x }\n    authenticate: { methods: [password] }\n");
    const error = (await run(process.execPath, [CLI, "start", "--upstream", "http://127.0.0.1:9", "--policy", file, "--data-dir", dir]).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    assert.equal(error.code, 2);
    assert.ok(error.stderr.includes(file));
    assert.match(error.stderr, /routes\[0\]\.authenticate/);
  });

  test("production mode refuses to start with a generated admin token or a plaintext database URL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-prod-"));
    const error = (await run(process.execPath, [CLI, "start", "--upstream", "http://127.0.0.1:9", "--data-dir", dir], {
      env: { ...process.env, NODE_ENV: "production", PORTCULLIS_ADMIN_TOKEN: "", DATABASE_URL: "postgres://db/app" },
    }).catch((e: unknown) => e)) as { code: number; stderr: string };
    assert.equal(error.code, 2);
    assert.match(error.stderr, /refusing to start in production/);
    assert.match(error.stderr, /PORTCULLIS_ADMIN_TOKEN/);
    assert.match(error.stderr, /sslmode=require/);
    await assert.rejects(readFile(join(dir, "admin-token")), "nothing was written");
  });
});
