import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Counter, Gauge, type Registry } from "prom-client";
import type { SecurityEvents } from "../events/security-events.js";
import { connectionScopedHeaders } from "../forward/hop-by-hop.js";
import type { Principal } from "../identity/principal.js";
import type { Logger } from "../observability/logger.js";
import { Problem, problemBody, type ProblemCode } from "../problem/index.js";
import type { Egress } from "./egress.js";
import { EgressError } from "./errors.js";

/** The scope a key needs to use the egress proxy. */
export const EGRESS_PROXY_SCOPE = "egress:proxy";

export interface EgressProxyOptions {
  egress: Egress;
  /** A Portcullis API key, as the gateway verifies it. */
  authenticate(key: string): Principal | Promise<Principal>;
  /** Requests and tunnels one key may have open at once. */
  maxConcurrentPerClient: number;
  logger: Logger;
  events?: Pick<SecurityEvents, "emit"> | undefined;
  /** Where the proxy's metrics are registered. */
  registry?: Registry | undefined;
}

const PROXY_AUTHENTICATE = 'Basic realm="portcullis-egress", charset="UTF-8"';

/**
 * An HTTP forward proxy with the egress's checks, for upstreams in any language: CONNECT for
 * https (a tunnel to the checked address), absolute-form for http. The client authenticates with
 * `Proxy-Authorization` carrying a Portcullis key (Basic, the key as the password, which is how
 * `HTTPS_PROXY=http://x:KEY@host:port` reaches it; or Bearer), and the key's tenant picks the
 * allow-lists. Each key has a cap on what it may have open at once.
 */
export function createEgressProxy(options: EgressProxyOptions): Server {
  const { egress, logger } = options;
  const open = new Map<string, number>();
  const metrics = proxyMetrics(options.registry);

  /** The caller, with a slot held; or the refusal to send. */
  const admit = async (req: IncomingMessage): Promise<{ principal: Principal; release(): void } | Problem> => {
    let principal: Principal;
    try {
      const key = proxyCredential(req.headers["proxy-authorization"]);
      if (key === undefined) return new Problem("PROXY_AUTH_REQUIRED", "Send a Portcullis key in Proxy-Authorization.");
      principal = await options.authenticate(key);
    } catch (error) {
      if (error instanceof Problem && error.code === "STORE_UNAVAILABLE") return error;
      options.events?.emit({ type: "proxy_auth_failed", severity: "warning", client: req.socket.remoteAddress });
      return new Problem("PROXY_AUTH_REQUIRED", "The key in Proxy-Authorization is not valid.");
    }
    if (!principal.scopes.has(EGRESS_PROXY_SCOPE)) return new Problem("FORBIDDEN", `The key lacks the ${EGRESS_PROXY_SCOPE} scope.`);
    const held = open.get(principal.id) ?? 0;
    if (held >= options.maxConcurrentPerClient) return new Problem("RATE_LIMITED", `At most ${options.maxConcurrentPerClient} requests and tunnels at once per key.`);
    open.set(principal.id, held + 1);
    let released = false;
    return {
      principal,
      release: () => {
        if (released) return;
        released = true;
        const left = (open.get(principal.id) ?? 1) - 1;
        if (left === 0) open.delete(principal.id);
        else open.set(principal.id, left);
      },
    };
  };

  const server = createServer((req, res) => {
    void forwardPlain(req, res).catch((error: unknown) => {
      logger.warn({ error: (error as Error).name }, "egress proxy: request failed");
      res.destroy();
    });
  });

  const forwardPlain = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    if (!/^https?:\/\//i.test(req.url ?? "")) return answer(res, new Problem("BAD_REQUEST", "This is a forward proxy: send absolute-form requests (http://host/path) or CONNECT."), requestId, "http");
    const admitted = await admit(req);
    if (admitted instanceof Problem) return answer(res, admitted, requestId, "http");
    try {
      const hasBody = req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");
      const answered = await egress.request(req.url!, { method: req.method, headers: passedOn(req.headers), body: hasBody ? req : null, tenant: admitted.principal.tenantId });
      const dropped = connectionScopedHeaders(answered.headers.connection);
      const head: Record<string, string | string[]> = {};
      for (const name in answered.headers) if (!dropped.has(name) && answered.headers[name] !== undefined) head[name] = answered.headers[name]!;
      res.writeHead(answered.statusCode, head);
      metrics.requests.inc({ kind: "http", outcome: "forwarded" });
      await pipeline(answered.body, res);
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      answer(res, asProblem(error), requestId, "http");
    } finally {
      admitted.release();
    }
  };

  server.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) => {
    void tunnel(req, client, head).catch(() => client.destroy());
  });

  const tunnel = async (req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> => {
    const requestId = randomUUID();
    client.on("error", () => client.destroy());
    const admitted = await admit(req);
    if (admitted instanceof Problem) return refuseTunnel(client, admitted, requestId);
    let upstream;
    try {
      upstream = await egress.connect(req.url ?? "", { tenant: admitted.principal.tenantId });
    } catch (error) {
      admitted.release();
      return refuseTunnel(client, asProblem(error), requestId);
    }
    metrics.requests.inc({ kind: "connect", outcome: "tunnelled" });
    metrics.tunnels.inc();
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      metrics.tunnels.dec();
      admitted.release();
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", close).on("close", close);
    client.on("close", close);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const refuseTunnel = (client: Duplex, problem: Problem, requestId: string): void => {
    metrics.requests.inc({ kind: "connect", outcome: problem.code });
    const body = problemBody(problem, requestId);
    const extra = [
      ...(problem.code === "PROXY_AUTH_REQUIRED" ? [`proxy-authenticate: ${PROXY_AUTHENTICATE}`] : []),
      ...(retryAfter(problem) === undefined ? [] : [`retry-after: ${retryAfter(problem)}`]),
    ];
    client.end(
      [`HTTP/1.1 ${problem.status} ${problem.title}`, "content-type: application/problem+json", `content-length: ${Buffer.byteLength(body)}`, `x-request-id: ${requestId}`, ...extra, "connection: close", "", body].join("\r\n"),
    );
  };

  const answer = (res: ServerResponse, problem: Problem, requestId: string, kind: string): void => {
    metrics.requests.inc({ kind, outcome: problem.code });
    const headers: Record<string, string> = { "content-type": "application/problem+json", "x-request-id": requestId, "cache-control": "no-store" };
    if (problem.code === "PROXY_AUTH_REQUIRED") headers["proxy-authenticate"] = PROXY_AUTHENTICATE;
    if (retryAfter(problem) !== undefined) headers["retry-after"] = String(retryAfter(problem));
    res.writeHead(problem.status, headers).end(problemBody(problem, requestId));
  };

  return server;
}

/** `Basic base64(anything:KEY)` (or `KEY:` with no password), or `Bearer KEY`. */
export function proxyCredential(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (value === undefined) return undefined;
  if (scheme!.toLowerCase() === "bearer") return value;
  if (scheme!.toLowerCase() !== "basic") return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  const password = decoded.slice(colon + 1);
  return password !== "" ? password : decoded.slice(0, colon) || undefined;
}

/** The client's headers less the hop's own, its proxy credential and Host (set from the URL). */
function passedOn(headers: IncomingHttpHeaders): Record<string, string> {
  const dropped = connectionScopedHeaders(headers.connection);
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (dropped.has(name) || name === "host" || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** The egress's refusals are 403 with the egress code beside; its failures the gateway's upstream codes. */
const FAILURE_PROBLEMS: Partial<Record<string, ProblemCode>> = {
  EGRESS_DNS_FAILED: "UPSTREAM_UNAVAILABLE",
  EGRESS_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  EGRESS_TIMEOUT: "UPSTREAM_TIMEOUT",
  EGRESS_CIRCUIT_OPEN: "UPSTREAM_CIRCUIT_OPEN",
};

function asProblem(error: unknown): Problem {
  if (!(error instanceof EgressError)) return new Problem("INTERNAL");
  const code = FAILURE_PROBLEMS[error.code] ?? "EGRESS_DENIED";
  return new Problem(code, error.message, {
    egress_code: error.code,
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    ...(error.retryAfterSeconds === undefined ? {} : { retry_after: error.retryAfterSeconds }),
  });
}

function retryAfter(problem: Problem): number | undefined {
  return problem.extra?.retry_after as number | undefined;
}

function proxyMetrics(registry: Registry | undefined) {
  const registers = registry === undefined ? [] : [registry];
  return {
    requests: new Counter({ name: "portcullis_egress_proxy_requests_total", help: "Egress proxy requests (http) and tunnels (connect), by outcome: forwarded, tunnelled, or the problem code.", labelNames: ["kind", "outcome"] as const, registers }),
    tunnels: new Gauge({ name: "portcullis_egress_proxy_open_tunnels", help: "CONNECT tunnels open now.", registers }),
  };
}
