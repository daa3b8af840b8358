import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Pool } from "undici";
import type { RequestContext } from "../pipeline/context.js";
import type { ForwardPolicy } from "../policy/schema.js";
import { Problem } from "../problem/index.js";
import { connectionScopedHeaders } from "./hop-by-hop.js";
import { IDENTITY_HEADER, type IdentitySigner } from "./identity-assertion.js";

/** Headers only the gateway may set: a client that sends them is trying to speak for it. */
const GATEWAY_OWNED = new Set(["host", "forwarded", "x-real-ip", "x-request-id"]);
const CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key"]);
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT"]);

export interface Upstream {
  url: URL;
  /** Identifies this upstream as the audience of the identity assertion. */
  audience: string;
}

/**
 * Streams a request to its upstream and the answer back. Bodies are never buffered; connection
 * pools are kept per upstream origin and connect timeout.
 */
export class Forwarder {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly signer: IdentitySigner) {}

  /** `own` are the route's security headers: they replace whatever the upstream says for the same names. */
  async forward(ctx: RequestContext, upstream: Upstream, policy: ForwardPolicy, own: Readonly<OutgoingHttpHeaders>): Promise<void> {
    const { req, res } = ctx;
    const headers = await this.requestHeaders(ctx, upstream, policy);
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    let started = false;
    try {
      // stream() hands undici the response to write into: no intermediate body stream, no
      // pipeline() (which allocates an AbortController per call and aborts it on finish).
      await this.pool(upstream.url, policy.connectTimeoutMs).stream(
        {
          method: req.method as "GET",
          path: joinPath(upstream.url.pathname, ctx.target.rawPath) + (ctx.target.query === "" ? "" : `?${ctx.target.query}`),
          headers,
          body: ctx.forwardBody ?? (hasBody ? req : null),
          headersTimeout: policy.headersTimeoutMs,
          bodyTimeout: policy.bodyTimeoutMs,
        },
        ({ statusCode, headers: upstreamHeaders }) => {
          started = true;
          ctx.onUpstreamHead?.(statusCode, upstreamHeaders);
          const head = responseHeaders(upstreamHeaders, own, res);
          head["x-request-id"] = ctx.requestId;
          res.writeHead(statusCode, head);
          return res;
        },
      );
    } catch (error) {
      // Once headers are gone, the only honest signal left for a broken body is a cut connection.
      if (started) return void res.destroy();
      const code = (error as { code?: string }).code ?? "";
      throw TIMEOUT_CODES.has(code) ? new Problem("UPSTREAM_TIMEOUT") : new Problem("UPSTREAM_UNAVAILABLE");
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }

  private pool(url: URL, connectTimeoutMs: number): Pool {
    const key = `${url.origin} ${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(url.origin, { connections: 256, connect: { timeout: connectTimeoutMs } });
      this.pools.set(key, pool);
    }
    return pool;
  }

  private async requestHeaders(ctx: RequestContext, upstream: Upstream, policy: ForwardPolicy): Promise<string[]> {
    const { req } = ctx;
    const dropped = connectionScopedHeaders(req.headers.connection);
    const out: string[] = [];
    const raw = req.rawHeaders;
    // A body read whole by a control goes on with its own length, not the client's framing.
    const buffered = Buffer.isBuffer(ctx.forwardBody);
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (dropped.has(name) || GATEWAY_OWNED.has(name) || name.startsWith("x-forwarded-") || name.startsWith("x-portcullis-")) continue;
      if (buffered && (name === "content-length" || name === "transfer-encoding")) continue;
      if (!policy.passCredentials && CREDENTIAL_HEADERS.has(name)) continue;
      out.push(name, raw[i + 1]!);
    }
    if (buffered) out.push("content-length", String((ctx.forwardBody as Buffer).length));
    out.push("x-forwarded-for", ctx.clientIp, "x-forwarded-proto", "encrypted" in req.socket ? "https" : "http", "x-request-id", ctx.requestId);
    if (req.headers.host !== undefined) out.push("x-forwarded-host", req.headers.host);
    if (ctx.principal !== undefined) out.push(IDENTITY_HEADER, await this.signer.assertionFor(ctx.principal, upstream.audience));
    return out;
  }
}

/**
 * The upstream's response headers less hop-by-hop ones, with the gateway's own (`own`, and any
 * already set on `res`, such as CORS) taking the place of the upstream's for the same names.
 */
export function responseHeaders(
  headers: IncomingHttpHeaders,
  own: Readonly<OutgoingHttpHeaders>,
  res?: ServerResponse,
): OutgoingHttpHeaders {
  const dropped = connectionScopedHeaders(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (dropped.has(name) || name in own || name === "x-request-id" || res?.hasHeader(name)) continue;
    out[name] = headers[name];
  }
  return Object.assign(out, own);
}

function joinPath(base: string, path: string): string {
  return base === "/" ? path : base.replace(/\/$/, "") + path;
}
