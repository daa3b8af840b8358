import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { IDENTITY_HEADER } from "../forward/identity-assertion.js";
import type { PortcullisCore } from "../gateway/core.js";
import type { CompiledRoute } from "../gateway/routes.js";
import { healthAnswer } from "../health/health.js";
import { AccessLog } from "../observability/access-log.js";
import { createContext, type RequestContext } from "../pipeline/context.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { isProblemCode, Problem, problemBody, sendProblem } from "../problem/index.js";
import { requestSkeleton } from "../server/request-skeleton.js";
import { observer } from "./gateway.js";

/**
 * Front end 2, the decision API: a proxy in front of the API (nginx `auth_request`, ingress-nginx
 * `auth-url`, Caddy `forward_auth`, Traefik `forwardAuth`) sends a body-less sub-request
 * describing the client's request, and the same route pipeline as the gateway's decides. 2xx lets
 * it through, with the headers the proxy copies to the upstream (the identity assertion,
 * `RateLimit-*`); anything else is the gateway's refusal.
 *
 * Which request is meant comes from headers the proxy sets: nginx's `X-Original-URI` and
 * `X-Original-Method` (ingress-nginx's absolute `X-Original-URL`), or Caddy's and Traefik's
 * `X-Forwarded-Uri` and `X-Forwarded-Method`. A proxy overwrites its own family but passes the
 * other one on from the client, so when both are present they must agree: otherwise a client
 * could name another route or method than the one the proxy serves. The client's address is the
 * socket's unless that is a trusted proxy (`clients.trustedProxies`), as for the gateway.
 *
 * nginx's `auth_request` turns every status but 2xx, 401 and 403 into a 500, so to nginx (the
 * `X-Original-*` family) a refusal is 401 or 403 carrying the real one in `X-Portcullis-Problem`;
 * the shipped configuration's error page hands that header back here, and this API answers it
 * with the real status, headers and problem body (`renderProblem`). Caddy and Traefik pass a
 * refusal to the client as it is, so they get the real one directly.
 */
export const PROBLEM_HEADER = "x-portcullis-problem";

/**
 * A preflight is answered by the proxy, never forwarded: 2xx would let it through to the API. The
 * decision is a 403 that the shipped configurations turn into the 204 a browser needs, with these
 * headers: nginx's error page asks for it back as it does for a refusal, and Caddy's
 * `handle_response` matches the marker header.
 */
export const PREFLIGHT_HEADER = "x-portcullis-preflight";
const PREFLIGHT_HEADERS = ["vary", "access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods", "access-control-allow-headers", "access-control-max-age"];

/** Headers of a refusal that the client must see, carried to nginx's error page and back. */
const CARRIED_HEADERS = ["retry-after", "ratelimit", "ratelimit-policy", "www-authenticate", "vary", "access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"];
const PRINTABLE = /^[\x20-\x7e]{0,1024}$/;
const MAX_PROBLEM_HEADER = 8_192;

interface Described {
  method: string;
  url: string;
  /** Answer as nginx needs (401/403 with the real refusal carried in a header). */
  nginx: boolean;
  /** Why the description cannot be believed: the request is refused with it. */
  error?: string;
}

export function decisionHandler(deps: {
  core: PortcullisCore;
  pipeline: Pipeline<CompiledRoute>;
  gatewayHeaders: Readonly<OutgoingHttpHeaders>;
  /** `--upstream`: the identity names the same audience as the gateway's for the same route. */
  upstream: string | undefined;
}) {
  const { core, pipeline, gatewayHeaders } = deps;
  const audiences = new Map<string, string>();
  for (const route of core.policy.routes) {
    const upstream = route.forward.upstream ?? deps.upstream ?? core.policy.upstream;
    audiences.set(route.name, upstream === undefined ? DEFAULT_AUDIENCE : new URL(upstream).origin);
  }
  const described = new WeakMap<RequestContext, Described>();
  const allow = (ctx: RequestContext): void | Promise<void> => {
    // An explicit empty body: nginx never reads an auth sub-request's body, so an answer whose
    // length it cannot see (chunked) costs it the connection, and the next decision a new one.
    const headers: Record<string, string> = { ...ctx.responseHeaders, "cache-control": "no-store", "content-length": "0" };
    const principal = ctx.principal;
    const finish = (assertion: string | undefined) => {
      // Always sent, empty when there is no caller: Caddy before 2.10 copies a header missing
      // from this answer as its own placeholder text, and from 2.10 leaves the client's copy.
      headers[IDENTITY_HEADER] = assertion ?? "";
      ctx.answer = { outcome: ctx.answer?.outcome ?? "allowed", status: 200, headers };
    };
    if (principal === undefined || ctx.route === undefined) return finish(undefined);
    const assertion = core.signer.assertionFor(principal, audiences.get(ctx.route.name) ?? DEFAULT_AUDIENCE);
    return assertion instanceof Promise ? assertion.then(finish) : finish(assertion);
  };
  const preflight = (ctx: RequestContext, nginx: boolean): void => {
    const headers: Record<string, string> = { "cache-control": "no-store", "content-length": "0" };
    const cors: Record<string, string> = {};
    for (const name of PREFLIGHT_HEADERS) {
      const value = ctx.responseHeaders?.[name];
      if (value !== undefined) cors[name] = value;
    }
    if (nginx) headers[PROBLEM_HEADER] = Buffer.from(JSON.stringify({ preflight: true, request_id: ctx.requestId, headers: cors })).toString("base64url");
    else Object.assign(headers, cors, { [PREFLIGHT_HEADER]: "1" });
    ctx.answer = { outcome: "preflight", status: 403, headers };
  };
  const skeleton = requestSkeleton({
    logger: core.logger,
    ownHeaders: gatewayHeaders,
    outcome: "allowed",
    context(req, requestId) {
      const description = describe(req.headers, req.rawHeaders);
      const ctx = createContext({
        requestId,
        method: description?.method ?? "",
        url: description?.url ?? "",
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        clientAddress: core.clientIps.resolve(req),
        body: undefined,
      });
      if (description !== undefined) described.set(ctx, description);
      return ctx;
    },
    handle(ctx, req) {
      const description = described.get(ctx);
      if (description?.error !== undefined) throw new Problem("BAD_REQUEST", description.error);
      if (description === undefined) {
        // The decision port's own probes: a request that describes no other request.
        const path = (req.url ?? "").split("?", 1)[0]!;
        const health = req.method === "GET" ? healthAnswer(path, core.health, LIVENESS) : undefined;
        if (health === undefined) throw new Problem("BAD_REQUEST", "A decision request names the request to decide (X-Original-URI and X-Original-Method, or X-Forwarded-Uri and X-Forwarded-Method).");
        return Promise.resolve(health).then((answer) => {
          ctx.answer = answer;
        });
      }
      const decide = () => (ctx.answer?.outcome === "preflight" ? preflight(ctx, description.nginx) : allow(ctx));
      const pending = pipeline.run(ctx);
      return pending === undefined ? decide() : pending.then(decide);
    },
    rejected: (ctx, problem) => core.blocking.recordRejection(ctx.clientAddress.holder, problem.code, { route: ctx.route?.name ?? "(none)", tenantId: ctx.principal?.tenantId }),
    finished: observer(core.metrics, new AccessLog(core.logger)),
    refuse(ctx, res, problem, headers) {
      if (described.get(ctx)?.nginx !== true) return sendProblem(res, problem, ctx.requestId, headers);
      const carried: Record<string, string> = {};
      for (const name of CARRIED_HEADERS) {
        const value = headers[name];
        if (typeof value === "string") carried[name] = value;
      }
      const encoded = Buffer.from(JSON.stringify({ code: problem.code, detail: problem.detail, extra: problem.extra, request_id: ctx.requestId, headers: carried })).toString("base64url");
      // The body goes to the error page in the header; nginx would not read one (see `allow`).
      res.writeHead(problem.status === 401 ? 401 : 403, { ...headers, [PROBLEM_HEADER]: encoded, "content-length": "0", "cache-control": "no-store", "x-request-id": ctx.requestId });
      res.end();
    },
  });
  return (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const carried = req.headers[PROBLEM_HEADER];
    // Only a request that describes no other one is nginx's error page asking for the refusal.
    if (typeof carried === "string" && req.headers["x-original-uri"] === undefined && req.headers["x-original-url"] === undefined && req.headers["x-forwarded-uri"] === undefined) {
      renderProblem(carried, res, gatewayHeaders);
      return Promise.resolve();
    }
    return skeleton(req, res);
  };
}

const DEFAULT_AUDIENCE = "portcullis";
const LIVENESS: ReadonlySet<string> = new Set(["live", "ready"]);

const DESCRIBING = new Set(["x-original-uri", "x-original-url", "x-original-method", "x-forwarded-uri", "x-forwarded-method"]);

/** The request the proxy asks about, or undefined when the sub-request names none. */
function describe(headers: IncomingHttpHeaders, rawHeaders: readonly string[]): Described | undefined {
  const originalUrl = headers["x-original-url"];
  // ingress-nginx sends the absolute X-Original-URL and passes a client's X-Original-URI on:
  // every target named must be the same one, whichever header names it.
  const uris = [headers["x-original-uri"], typeof originalUrl === "string" ? pathOf(originalUrl) : originalUrl, headers["x-forwarded-uri"]];
  if (uris.every((u) => u === undefined)) return undefined;
  const nginx = uris[0] !== undefined || uris[1] !== undefined;
  // Node joins a repeated header into one value: the raw list shows a description given twice.
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    // CGI-style stacks (PHP, Rack, WSGI) read `X_Forwarded_For` as `X-Forwarded-For`: the gateway
    // drops such names, but a proxy in front of this API passes them on (Caddy does; nginx drops
    // them itself), so a request carrying one is refused rather than let through.
    if (name.includes("_")) return { method: "", url: "", nginx, error: "Header names with underscores are not accepted." };
    if (!DESCRIBING.has(name)) continue;
    if (seen.has(name)) return { method: "", url: "", nginx, error: `${rawHeaders[i]} is sent more than once.` };
    seen.add(name);
  }
  const uri = agreed(uris);
  const method = agreed([headers["x-original-method"], headers["x-forwarded-method"]]);
  if (uri === CONFLICT || method === CONFLICT) {
    return { method: "", url: "", nginx, error: "The request is described twice, and the descriptions differ." };
  }
  if (method === undefined) return { method: "", url: "", nginx, error: "The request's method is missing (X-Original-Method or X-Forwarded-Method)." };
  return { method, url: uri!, nginx };
}

const CONFLICT = Symbol("conflict");

/** One value from the headers that name it: when they disagree, one was written by the client, and none can be believed. */
function agreed(values: readonly (string | string[] | undefined)[]): string | undefined | typeof CONFLICT {
  let found: string | undefined;
  for (const value of values) {
    if (Array.isArray(value)) return CONFLICT;
    if (value === undefined) continue;
    if (found !== undefined && found !== value) return CONFLICT;
    found = value;
  }
  return found;
}

/** `X-Original-URL` is absolute (`https://host/path?query`); the decision needs its target. */
function pathOf(url: string): string {
  const match = /^https?:\/\/[^/?#]*(\/[^#]*)?$/i.exec(url);
  // Not a URL: left as it is, the target parser refuses it.
  return match === null ? url : (match[1] ?? "/");
}

/**
 * nginx's error page sends the refusal it was given back here; it is answered as the gateway
 * would have. The header is checked, not trusted: a client cannot get an answer out of this that
 * is not a refusal, nor headers other than those a refusal carries.
 */
function renderProblem(carried: string, res: ServerResponse, own: Readonly<OutgoingHttpHeaders>): void {
  let problem = new Problem("INTERNAL");
  let requestId = "";
  const headers: Record<string, string> = {};
  try {
    if (carried.length > MAX_PROBLEM_HEADER) throw new Error("too long");
    const parsed = JSON.parse(Buffer.from(carried, "base64url").toString("utf8")) as Record<string, unknown>;
    if (parsed.preflight === true) return renderPreflight(parsed, res, own);
    if (typeof parsed.code !== "string" || !isProblemCode(parsed.code)) throw new Error("not a problem");
    const detail = typeof parsed.detail === "string" && PRINTABLE.test(parsed.detail) ? parsed.detail : undefined;
    problem = new Problem(parsed.code, detail, scalars(parsed.extra));
    if (typeof parsed.request_id === "string" && /^[0-9a-f-]{36}$/.test(parsed.request_id)) requestId = parsed.request_id;
    const given = parsed.headers as Record<string, unknown> | undefined;
    for (const name of CARRIED_HEADERS) {
      const value = given?.[name];
      if (typeof value === "string" && PRINTABLE.test(value)) headers[name] = value;
    }
  } catch {
    // Anything malformed is answered as an internal error: still a refusal.
  }
  res.writeHead(problem.status, { ...own, ...headers, "content-type": "application/problem+json", "cache-control": "no-store", ...(requestId === "" ? {} : { "x-request-id": requestId }) });
  res.end(problemBody(problem, requestId));
}

/** A preflight the decision answered: 204 with the CORS headers it named, and only those. */
function renderPreflight(parsed: Record<string, unknown>, res: ServerResponse, own: Readonly<OutgoingHttpHeaders>): void {
  const headers: Record<string, string> = {};
  const given = parsed.headers as Record<string, unknown> | undefined;
  for (const name of PREFLIGHT_HEADERS) {
    const value = given?.[name];
    if (typeof value === "string" && PRINTABLE.test(value)) headers[name] = value;
  }
  const requestId = typeof parsed.request_id === "string" && /^[0-9a-f-]{36}$/.test(parsed.request_id) ? parsed.request_id : undefined;
  res.writeHead(204, { ...own, ...headers, "cache-control": "no-store", ...(requestId === undefined ? {} : { "x-request-id": requestId }) });
  res.end();
}

function scalars(value: unknown): Record<string, string | number | boolean> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!/^[a-z_]{1,32}$/.test(key)) continue;
    if ((typeof v === "string" && PRINTABLE.test(v)) || typeof v === "number" || typeof v === "boolean") out[key] = v;
  }
  return out;
}
