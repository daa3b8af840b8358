import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { PortcullisCore } from "../gateway/core.js";
import { logRedactor } from "../observability/log-redaction.js";
import { createLogger } from "../observability/logger.js";
import { defaultPolicy, loadPolicyFile } from "../policy/load.js";
import { CliError, intOption } from "./errors.js";

export const EGRESS_HELP = `Usage: portcullis egress [options]

Runs the egress proxy on its own: an HTTP forward proxy (CONNECT for https, absolute form for
http) that lets your services reach only what the policy's egress rules allow. Set their
HTTPS_PROXY / HTTP_PROXY to http://x:KEY@host:port; KEY is a Portcullis API key with the
egress:proxy scope, and its tenant picks the allow-lists.

It reads the gateway's keys, so it needs the gateway's Postgres in DATABASE_URL. With the
embedded database, run the proxy inside the gateway instead: portcullis start --egress-port N.

Options:
  --policy FILE            policy file (its egress section; README "Egress")
  --port N                 proxy port (default 3128)
  --host H                 proxy address (default 127.0.0.1)
  --admin-port N           /health/live and /health/metrics (default 8082)
  --admin-host H           their address (default 127.0.0.1)
  --max-per-client N       requests and tunnels one key may hold open (default 64)
  -h, --help               this text

Environment: DATABASE_URL (required), REDIS_URL, PORTCULLIS_REDIS_PREFIX, PORTCULLIS_LOG_LEVEL.`;

export async function egress(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      policy: { type: "string" },
      port: { type: "string", default: "3128" },
      host: { type: "string", default: "127.0.0.1" },
      "admin-port": { type: "string", default: "8082" },
      "admin-host": { type: "string", default: "127.0.0.1" },
      "max-per-client": { type: "string", default: "64" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return void console.log(EGRESS_HELP);
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (databaseUrl === undefined) throw new CliError("the egress proxy checks the gateway's keys: set DATABASE_URL to the gateway's Postgres, or run it inside the gateway with portcullis start --egress-port N");
  const port = intOption(values.port, "--port");
  const adminPort = intOption(values["admin-port"], "--admin-port");
  const maxPerClient = intOption(values["max-per-client"], "--max-per-client", 1, 100_000);
  const policy = values.policy === undefined ? defaultPolicy() : await loadPolicyFile(values.policy);
  const logger = createLogger({ redactor: logRedactor(policy.logs.redact) });
  const core = await PortcullisCore.open({ policy, databaseUrl, redisUrl: process.env.REDIS_URL || undefined, redisPrefix: process.env.PORTCULLIS_REDIS_PREFIX || undefined, logger });
  const proxy = core.egressProxy(maxPerClient);
  const health = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health/live") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    if (req.method === "GET" && req.url === "/health/metrics") {
      return void core.metrics.registry.metrics().then((text) => res.writeHead(200, { "content-type": core.metrics.registry.contentType }).end(text));
    }
    res.writeHead(404, { "content-type": "application/problem+json" }).end('{"code":"NOT_FOUND","status":404,"title":"Not found"}');
  });
  const listen = (server: typeof proxy, p: number, host: string) =>
    new Promise<string>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
    });
  const proxyUrl = await listen(proxy, port, values.host);
  const adminUrl = await listen(health, adminPort, values["admin-host"]);
  console.error(`portcullis egress proxy listening on ${proxyUrl}\nportcullis egress health and metrics on ${adminUrl}`);
  const stop = async () => {
    setTimeout(() => process.exit(1), 10_000).unref();
    proxy.closeAllConnections();
    health.closeAllConnections();
    await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => health.close(r))]);
    await core.close();
    logger.flush();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}
