import { readFile, writeFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { resolveAdminToken } from "../admin/token.js";
import { allowsAnyOriginWithCredentials, productionProblems } from "../config/production.js";
import { startEchoUpstream } from "../echo/echo-upstream.js";
import { Gateway } from "../gateway/index.js";
import { logRedactor } from "../observability/log-redaction.js";
import { createLogger } from "../observability/logger.js";
import { defaultPolicy, loadPolicyFile } from "../policy/load.js";
import { keyProviderFromEnv } from "../vault/providers/from-env.js";
import type { KeyProvider } from "../vault/providers/key-provider.js";
import { isProblem } from "../problem/index.js";
import { CliError, intOption } from "./errors.js";

const SHUTDOWN_DEADLINE_MS = 10_000;

export const START_HELP = `Usage: portcullis start (--upstream URL | --echo | --decision-port N) [options]

Starts the gateway in front of an HTTP API. With no --policy, every route requires a valid key.

Options:
  --upstream URL      the API to protect (a route's forward.upstream overrides it)
  --echo              put a built-in echo API behind the gateway and print a working curl line
  --decision-port N   also answer nginx auth_request / Caddy forward_auth / Traefik forwardAuth
                      on this port (any path); without an upstream, only this is served
  --decision-host H   decision API address (default: --host)
  --egress-port N     also serve the egress proxy (set HTTPS_PROXY / HTTP_PROXY of your services
                      to http://x:KEY@host:N; keys need the egress:proxy scope)
  --egress-host H     egress proxy address (default: --host)
  --egress-max-per-client N   requests and tunnels one key may hold open (default 64)
  --policy FILE       policy file, YAML or JSON (see README "Policy reference")
  --port N            gateway port (default 8080; 0 picks a free one)
  --host H            gateway address (default 127.0.0.1)
  --admin-port N      admin API port (default 8081)
  --admin-host H      admin API address (default 127.0.0.1)
  --data-dir DIR      embedded database and generated keys (default .portcullis)
  -h, --help          this text

Environment: DATABASE_URL (Postgres server instead of embedded PGlite), PORTCULLIS_ADMIN_TOKEN,
PORTCULLIS_IDENTITY_KEY, PORTCULLIS_ALLOW_INSECURE_DB, PORTCULLIS_LOG_LEVEL, NODE_ENV=production.`;

export async function start(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      upstream: { type: "string" },
      echo: { type: "boolean", default: false },
      policy: { type: "string" },
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      "admin-port": { type: "string", default: "8081" },
      "admin-host": { type: "string", default: "127.0.0.1" },
      "data-dir": { type: "string", default: ".portcullis" },
      "decision-port": { type: "string" },
      "decision-host": { type: "string" },
      "egress-port": { type: "string" },
      "egress-host": { type: "string" },
      "egress-max-per-client": { type: "string", default: "64" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(START_HELP);
    return;
  }
  const production = process.env.NODE_ENV === "production";
  const dataDir = resolve(values["data-dir"]);
  const policy = values.policy === undefined ? defaultPolicy() : await loadPolicyFile(values.policy);
  if (values.echo && values.upstream !== undefined) throw new CliError("use either --upstream or --echo, not both");
  const decisionPort = values["decision-port"] === undefined ? undefined : intOption(values["decision-port"], "--decision-port");
  if (!values.echo && values.upstream === undefined && policy.upstream === undefined && decisionPort === undefined) {
    throw new CliError("an upstream is required: pass --upstream URL (or --echo to try it out, or --decision-port N to serve only the decision API)");
  }
  if (values.upstream !== undefined && !/^https?:\/\/[^/]/.test(values.upstream)) throw new CliError("--upstream must be an http(s) URL");
  const port = intOption(values.port, "--port");
  const adminPort = intOption(values["admin-port"], "--admin-port");

  const logger = createLogger({ redactor: logRedactor(policy.logs.redact) });
  if (production) {
    const problems = productionProblems({
      policy,
      adminTokenFromEnv: process.env.PORTCULLIS_ADMIN_TOKEN,
      databaseUrl: process.env.DATABASE_URL,
      allowInsecureDatabase: process.env.PORTCULLIS_ALLOW_INSECURE_DB === "true",
      redisUrl: process.env.REDIS_URL || undefined,
      allowInsecureRedis: process.env.PORTCULLIS_ALLOW_INSECURE_REDIS === "true",
    });
    if (problems.length > 0) throw new CliError(`refusing to start in production:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    if (!process.env.PORTCULLIS_IDENTITY_KEY) {
      logger.warn("PORTCULLIS_IDENTITY_KEY is not set: this node signs identities with a key of its own; give all nodes one key");
    }
  } else if (allowsAnyOriginWithCredentials(policy)) {
    logger.warn('cors allows any origin with credentials: production mode will refuse this policy');
  }

  const admin = await resolveAdminToken(dataDir);
  const keyProvider = await openKeyProvider(dataDir, production);
  if (keyProvider === undefined) logger.info("vault disabled: no key provider is configured (PORTCULLIS_KEY_PROVIDER)");
  else if (keyProvider.insecure) logger.warn("vault uses the LOCAL key provider: INSECURE, its key sits beside the data; development only");
  else logger.info({ provider: keyProvider.name, kek: keyProvider.currentKekId }, "vault key provider ready");
  const echo = values.echo ? await startEchoUpstream() : undefined;
  const gateway = await Gateway.create({
    policy,
    upstream: echo?.url ?? values.upstream,
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    redisPrefix: process.env.PORTCULLIS_REDIS_PREFIX || undefined,
    dataDir,
    adminToken: admin.token,
    production,
    logger,
    keyProvider,
    decision: decisionPort !== undefined,
  });
  const listening = await gateway.listen({
    port,
    host: values.host,
    adminPort,
    adminHost: values["admin-host"],
    decisionPort,
    decisionHost: values["decision-host"],
    egressPort: values["egress-port"] === undefined ? undefined : intOption(values["egress-port"], "--egress-port"),
    egressHost: values["egress-host"],
    egressMaxPerClient: intOption(values["egress-max-per-client"], "--egress-max-per-client", 1, 100_000),
  });

  const banner = [
    ...(listening.url === undefined ? [] : [`portcullis gateway listening on ${listening.url}`]),
    ...(listening.decisionUrl === undefined ? [] : [`portcullis decision API listening on ${listening.decisionUrl}`]),
    ...(listening.egressUrl === undefined ? [] : [`portcullis egress proxy listening on ${listening.egressUrl}`]),
    `portcullis admin API listening on ${listening.adminUrl}`,
    `store: ${gateway.db.kind}${gateway.db.kind === "pglite" ? ` (${dataDir})` : ""}`,
  ];
  // Secrets go to a person at a terminal, never into a stream a log collector keeps.
  const toPerson = process.stderr.isTTY === true && !production;
  if (admin.generatedAt !== undefined) {
    banner.push(
      toPerson
        ? `admin token (shown once; also in ${admin.generatedAt}, mode 0600): ${admin.token}`
        : `admin token (shown once on a terminal, never in a log; read it from ${admin.generatedAt}, mode 0600)`,
    );
  }
  if (echo !== undefined) {
    const tenantId = await demoTenant(gateway, dataDir);
    const issued = await gateway.keys.create(tenantId, { env: "test", scopes: ["demo"] });
    const keyFile = join(dataDir, "demo-key");
    await writeFile(keyFile, issued.key, { mode: 0o600 });
    const credential = toPerson ? issued.key : `$(cat ${keyFile})`;
    banner.push(`echo upstream at ${echo.url}; demo tenant ${tenantId}`, `try: curl -s -H "Authorization: Bearer ${credential}" ${listening.url}/hello`);
  }
  console.error(banner.join("\n"));

  let stopping = false;
  const stop = async () => {
    // A second signal, or a graceful close that hangs (a client that never lets go), ends the
    // process anyway: an orchestrator's stop must never wait forever.
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    await gateway.close();
    await keyProvider?.close();
    echo?.server.close();
    logger.flush();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

/** The quick start reuses one demo tenant per data directory instead of creating one per start. */
async function demoTenant(gateway: Gateway, dataDir: string): Promise<string> {
  const file = join(dataDir, "demo-tenant");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const tenant = await gateway.tenants.create("demo");
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, tenant.id);
    return tenant.id;
  }
}

/** A provider that cannot start stops the gateway: running with the vault silently off would hide it. */
async function openKeyProvider(dataDir: string, production: boolean): Promise<KeyProvider | undefined> {
  try {
    return await keyProviderFromEnv({ env: process.env, dataDir, production });
  } catch (error) {
    const reason = isProblem(error) ? `${error.code}${error.detail === undefined ? "" : `: ${error.detail}`}` : (error as Error).message;
    throw new CliError(`the key provider could not start: ${reason}`);
  }
}
