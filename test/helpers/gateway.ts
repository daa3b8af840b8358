import { Writable } from "node:stream";
import type { Server } from "node:http";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { Gateway, parsePolicy, type Policy } from "../../src/gateway/index.js";
import { randomBytes } from "node:crypto";
import { createLogger } from "../../src/observability/logger.js";
import { logRedactor } from "../../src/observability/log-redaction.js";
import { LocalKeyProvider } from "../../src/vault/providers/local.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdefghijklmnop";

export interface TestGateway {
  gateway: Gateway;
  url: string;
  adminUrl: string;
  upstreamUrl: string;
  /** The decision API, when started with `decision: true`. */
  decisionUrl: string | undefined;
  /** Every log line the gateway wrote, raw. */
  logs: string[];
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * A whole gateway on PGlite in memory, in front of the echo upstream, on free ports. Automatic
 * blocking is off unless the policy sets it: suites that send many bad requests from 127.0.0.1 on
 * purpose would otherwise block themselves (the blocking suite turns it on).
 */
export async function startTestGateway(
  policyDocument: unknown = { version: 1, routes: [{ name: "default", match: { path: "/**" } }] },
  options: { upstreamUrl?: string; keyStalenessMs?: number; production?: boolean; databaseUrl?: string; redisUrl?: string; redisPrefix?: string; decision?: boolean; kek?: Buffer } = {},
): Promise<TestGateway> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  const document = policyDocument as Record<string, unknown>;
  const policy: Policy = parsePolicy("blocking" in document ? document : { ...document, blocking: { enabled: false } }, "test-policy");
  let echo: { url: string; server: Server } | undefined;
  if (options.upstreamUrl === undefined) echo = await startEchoUpstream();
  let gateway: Gateway;
  try {
    gateway = await Gateway.create({
      policy,
      upstream: options.upstreamUrl ?? echo!.url,
      adminToken: ADMIN_TOKEN,
      production: options.production ?? false,
      databaseUrl: options.databaseUrl,
      redisUrl: options.redisUrl,
      redisPrefix: options.redisPrefix,
      logger: createLogger({ level: "info", destination, redactor: logRedactor(policy.logs.redact) }),
      keyStalenessMs: options.keyStalenessMs,
      // Nodes of one deployment share their key provider: tests of several nodes pass one KEK.
      keyProvider: LocalKeyProvider.fromKeys(options.kek ?? randomBytes(32)),
      decision: options.decision,
    });
  } catch (error) {
    // A gateway that refuses to start leaves no echo server behind to keep the test process alive.
    echo?.server.close();
    throw error;
  }
  const listening = await gateway.listen({ port: 0, host: "127.0.0.1", adminPort: 0, adminHost: "127.0.0.1" });
  return {
    gateway,
    url: listening.url!,
    adminUrl: listening.adminUrl,
    decisionUrl: listening.decisionUrl,
    upstreamUrl: options.upstreamUrl ?? echo!.url,
    logs,
    async admin(method, path, body) {
      const response = await fetch(listening.adminUrl + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    },
    async close() {
      try {
        await gateway.close();
      } finally {
        echo?.server.closeAllConnections();
        await new Promise((resolve) => echo?.server.close(resolve) ?? resolve(undefined));
      }
    },
  };
}

/** Creates a tenant and a key through the admin API, as an operator would. */
export async function tenantWithKey(
  gw: TestGateway,
  key: { env?: "live" | "test"; scopes?: string[]; expires_in?: number } = {},
): Promise<{ tenantId: string; keyId: string; key: string }> {
  const tenant = await gw.admin("POST", "/admin/v1/tenants", { name: "t" });
  const issued = await gw.admin("POST", `/admin/v1/tenants/${String(tenant.json.id)}/keys`, { env: "test", scopes: [], ...key });
  return { tenantId: String(tenant.json.id), keyId: String(issued.json.id), key: String(issued.json.key) };
}
