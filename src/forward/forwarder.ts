import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Pool } from "undici";
import { setResponseHeader, type RequestContext } from "../pipeline/context.js";
import type { BodyTap } from "../pipeline/control.js";
import type { ForwardPolicy } from "./schema.js";
import { Problem } from "../problem/index.js";
import { errorType } from "../util/error-type.js";
import { connectionScopedHeaders } from "./hop-by-hop.js";
import { IDENTITY_HEADER, type IdentitySigner } from "./identity-assertion.js";
import { relayResponse } from "./response-relay.js";
import { withoutSessionCookies } from "../sessions/cookies.js";
import { CircuitOpenError, FAILING_STATUSES, isCallerGone, isNeverSentCode, maySendAgain, UpstreamGuard, type GuardObserver } from "../resilience/guard.js";

/**
 * Headers only the gateway (the front proxy) may set: a client that sends them is trying to speak
 * for it. `X-Original-URL` and kin make some frameworks (Symfony, Zend, IIS rewrites) serve
 * another path than the one the gateway routed and checked. The client-address and scheme headers
 * are read before `X-Forwarded-For` by libraries such as request-ip and django-ipware, so a client
 * could pick the address an upstream limits, logs or allow-lists by; the gateway states both with
 * `X-Forwarded-For` and `X-Forwarded-Proto`.
 */
export const GATEWAY_OWNED_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "forwarded",
  "x-request-id",
  "x-original-url",
  "x-rewrite-url",
  "x-original-host",
  "x-host",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-cluster-client-ip",
  "x-forwarded",
  "forwarded-for",
  "x-original-forwarded-for",
  "x-envoy-external-address",
  "x-scheme",
  "x-url-scheme",
  "front-end-https",
]);
/**
 * The gateway drops every `X-Forwarded-*` and `X-Portcullis-*` header a client sends; a proxy in
 * front of the decision API cannot drop by prefix, so its configuration clears these by name (the
 * ones frameworks read: Rack believes `X-Forwarded-Ssl: on`, Rails `X-Forwarded-Scheme`). A test
 * holds the shipped configurations to this list and to GATEWAY_OWNED_HEADERS.
 */
export const PREFIXED_GATEWAY_HEADERS: readonly string[] = [
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-ssl",
  "x-forwarded-scheme",
  "x-forwarded-server",
  "x-forwarded-uri",
  "x-forwarded-method",
  "x-forwarded-path",
  "x-forwarded-client-cert",
  "x-portcullis-identity",
  "x-portcullis-problem",
  "x-portcullis-preflight",
];
const CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key"]);
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT"]);

/** Sees the upstream's head before it is passed on; returns whatever wants to see the body. */
export type UpstreamHeadHook = (statusCode: number, headers: IncomingHttpHeaders) => BodyTap[] | undefined;

/** Whether a forward that failed with `problem` could have reached the upstream: only a failure to connect rules it out. */
export function mayHaveReachedUpstream(problem: Problem): boolean {
  if (problem.code !== "UPSTREAM_UNAVAILABLE" && problem.code !== "UPSTREAM_TIMEOUT") return false;
  return !isNeverSentCode(String(problem.cause));
}

/** Where and how one route forwards, resolved once when the policy is compiled. */
export interface ForwardTarget {
  readonly pool: Pool;
  /** The upstream URL's path without its trailing slash: "" for the origin's root. */
  readonly basePath: string;
  /** Identifies this upstream as the audience of the identity assertion. */
  readonly audience: string;
  readonly policy: ForwardPolicy;
  /** The route's security headers: they replace whatever the upstream says for the same names. */
  readonly own: Readonly<OutgoingHttpHeaders>;
  /** The upstream's breaker and retries, shared by every route to the same origin with the same settings. */
  readonly guard: UpstreamGuard;
}

/**
 * Streams a request to its upstream and the answer back. Bodies are never buffered; connection
 * pools are kept per upstream origin and connect timeout.
 */
export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  private readonly guards = new Map<string, UpstreamGuard>();

  constructor(
    private readonly signer: IdentitySigner,
    private readonly observer: GuardObserver = {},
  ) {}

  target(upstream: string, policy: ForwardPolicy, own: Readonly<OutgoingHttpHeaders>): ForwardTarget {
    const url = new URL(upstream);
    const poolKey = `${url.origin} ${policy.connectTimeoutMs}`;
    let pool = this.pools.get(poolKey);
    if (pool === undefined) {
      pool = new Pool(url.origin, { connections: 256, connect: { timeout: policy.connectTimeoutMs } });
      this.pools.set(poolKey, pool);
    }
    const guardKey = `${url.origin} ${JSON.stringify([policy.retries, policy.circuitBreaker])}`;
    let guard = this.guards.get(guardKey);
    if (guard === undefined) {
      guard = new UpstreamGuard(url.origin, { retries: policy.retries, circuitBreaker: policy.circuitBreaker }, this.observer);
      this.guards.set(guardKey, guard);
    }
    return { pool, basePath: url.pathname.replace(/\/$/, ""), audience: url.origin, policy, own, guard };
  }

  /**
   * `onHead` sees the upstream's answer head before it is passed on (the pipeline's response
   * hooks). The request's facts come from `ctx`; `req` is the stream its body arrives on.
   */
  forward(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, target: ForwardTarget, onHead: UpstreamHeadHook): Promise<void> {
    const assertion = ctx.principal === undefined ? undefined : this.signer.assertionFor(ctx.principal, target.audience);
    return assertion instanceof Promise ? assertion.then((a) => this.send(ctx, req, res, target, a, onHead)) : this.send(ctx, req, res, target, assertion, onHead);
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }

  private async send(
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    target: ForwardTarget,
    assertion: string | undefined,
    onHead: UpstreamHeadHook,
  ): Promise<void> {
    const { policy } = target;
    const hasBody = ctx.headers["transfer-encoding"] !== undefined || (ctx.headers["content-length"] !== undefined && ctx.headers["content-length"] !== "0");
    let answering = false;
    let status = 0;
    const attempt = async () => {
      await relayResponse(
        target.pool,
        {
          method: ctx.method as "GET",
          path: target.basePath + ctx.target.rawPath + (ctx.target.query === "" ? "" : `?${ctx.target.query}`),
          headers: requestHeaders(ctx, "encrypted" in req.socket, policy, assertion),
          body: ctx.forwardBody ?? (hasBody ? req : null),
          headersTimeout: policy.headersTimeoutMs,
          bodyTimeout: policy.bodyTimeoutMs,
        },
        res,
        (statusCode, upstreamHeaders) => {
          answering = true;
          status = statusCode;
          const taps = onHead(statusCode, upstreamHeaders);
          const head = responseHeaders(upstreamHeaders, target.own);
          if (ctx.responseHeaders !== undefined) addControlHeaders(head, ctx.responseHeaders);
          head["x-request-id"] = ctx.requestId;
          res.writeHead(statusCode, head);
          return taps;
        },
      );
      return { value: undefined, failed: FAILING_STATUSES.has(status) };
    };
    // A streamed body is gone once sent; one read whole (by a control) can be sent again.
    const replayable = !hasBody || Buffer.isBuffer(ctx.forwardBody);
    const mayRetry = replayable ? (error: unknown) => !answering && !res.destroyed && maySendAgain(ctx.method, error) : undefined;
    // Gone while the request waited on the controls: neither sent nor a verdict on the upstream (a
    // half-open breaker would even take the abandoned probe for a success).
    if (res.destroyed) {
      res.statusCode = 499;
      return;
    }
    try {
      await target.guard.run(attempt, mayRetry);
    } catch (error) {
      // Nobody is left to answer; the relay has set the 499 the access log shows.
      if (isCallerGone(error)) return;
      if (error instanceof CircuitOpenError) {
        setResponseHeader(ctx, "retry-after", String(error.retryAfterSeconds));
        throw new Problem("UPSTREAM_CIRCUIT_OPEN", "The upstream has been failing; requests to it are paused for a while.");
      }
      const code = (error as { code?: string }).code ?? "";
      const problem = TIMEOUT_CODES.has(code) ? new Problem("UPSTREAM_TIMEOUT") : new Problem("UPSTREAM_UNAVAILABLE");
      // For the log, never the client: an error code names the failure without carrying data.
      problem.cause = code === "" ? errorType(error) : code;
      throw problem;
    }
  }
}

function requestHeaders(ctx: RequestContext, tls: boolean, policy: ForwardPolicy, assertion: string | undefined): string[] {
  const dropped = connectionScopedHeaders(ctx.headers.connection);
  const out: string[] = [];
  const raw = ctx.rawHeaders;
  // A body read whole by a control goes on with its own length, not the client's framing.
  const buffered = Buffer.isBuffer(ctx.forwardBody);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    // CGI-style stacks (PHP, Rack, WSGI) read `X_Forwarded_For` as `X-Forwarded-For` and
    // `X_HTTP_Method_Override` as the override header: every rule here could be dodged by
    // spelling a name with underscores, so such names are not passed on at all (as nginx does).
    if (name.includes("_")) continue;
    if (dropped.has(name) || GATEWAY_OWNED_HEADERS.has(name) || name.startsWith("x-forwarded-") || name.startsWith("x-portcullis-")) continue;
    // Node has already answered `Expect: 100-continue` (the body is on its way); undici refuses to send it.
    if (name === "expect") continue;
    if (buffered && (name === "content-length" || name === "transfer-encoding")) continue;
    if (!policy.passCredentials && CREDENTIAL_HEADERS.has(name)) continue;
    if (name === "cookie" && !policy.passCredentials) {
      // The gateway's session cookies are credentials like Authorization: the upstream gets the signed identity.
      const kept = withoutSessionCookies(raw[i + 1]!);
      if (kept !== undefined) out.push(name, kept);
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  if (buffered) out.push("content-length", String((ctx.forwardBody as Buffer).length));
  out.push("x-forwarded-for", ctx.clientAddress.text, "x-forwarded-proto", tls ? "https" : "http", "x-request-id", ctx.requestId);
  if (ctx.headers.host !== undefined) out.push("x-forwarded-host", ctx.headers.host);
  if (assertion !== undefined) out.push(IDENTITY_HEADER, assertion);
  return out;
}

/**
 * The upstream's response headers less hop-by-hop ones, `X-Powered-By` (it tells a scanner which
 * framework and version to try, and the client nothing) and CORS headers (the gateway's CORS
 * policy is the only one: an upstream that reflects any origin must not undo its allow-list),
 * with the gateway's own (`own`) taking the place of the upstream's for the same names.
 */
export function responseHeaders(headers: IncomingHttpHeaders, own: Readonly<OutgoingHttpHeaders>): OutgoingHttpHeaders {
  const dropped = connectionScopedHeaders(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (dropped.has(name) || name in own || name === "x-request-id" || name === "x-powered-by" || name.startsWith("access-control-")) continue;
    out[name] = headers[name];
  }
  return Object.assign(out, own);
}

/**
 * The controls' headers (rate-limit state, CORS) replace the upstream's of the same name, except
 * `Vary`, which is joined: dropping the upstream's `Vary: Accept-Encoding` would let a shared cache
 * serve one client's encoding to another.
 */
function addControlHeaders(head: OutgoingHttpHeaders, controls: Readonly<Record<string, string>>): void {
  for (const name in controls) {
    const upstream = head[name];
    head[name] = name === "vary" && upstream !== undefined ? `${String(upstream)}, ${controls[name]}` : controls[name];
  }
}
