import { randomUUID } from "node:crypto";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { IpAccessList } from "../access/ip-access.js";
import type { ClientBlocking } from "../blocking/client-blocking.js";
import type { Forwarder } from "../forward/forwarder.js";
import type { IdentitySigner } from "../forward/identity-assertion.js";
import type { CompiledRoute } from "../gateway/routes.js";
import type { Cors } from "../headers/cors.js";
import { serveHealth, type HealthSources } from "../health/health.js";
import { AccessLog } from "../observability/access-log.js";
import type { Logger } from "../observability/logger.js";
import type { ClientIpResolver } from "../net/client-ip.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import type { RequestContext } from "../pipeline/context.js";
import { Problem, sendProblem, toProblem } from "../problem/index.js";
import { requireRoutableMethod } from "../routing/method.js";
import { parseRequestTarget } from "../routing/request-target.js";
import type { Router } from "../routing/router.js";
import { errorType } from "../util/error-type.js";
import { sendJson } from "./respond.js";

export interface GatewayHandlerDeps {
  router: Router<CompiledRoute>;
  cors: Cors;
  /** Security headers for responses the gateway writes itself. */
  gatewayHeaders: Readonly<OutgoingHttpHeaders>;
  forwarder: Forwarder;
  signer: IdentitySigner;
  health: HealthSources;
  /** The health endpoints this port serves to anyone (policy `health.public`). */
  publicHealth: ReadonlySet<string>;
  metrics: GatewayMetrics;
  logger: Logger;
  clientIps: ClientIpResolver;
  /** The policy's global address lists, checked before anything else but health. */
  ipAccess: IpAccessList;
  blocking: ClientBlocking;
  /** The vault endpoint, when a key provider is configured. */
  vault?: (ctx: RequestContext, headers: OutgoingHttpHeaders) => boolean | Promise<boolean>;
}

const UNMATCHED = "(none)";
const SYSTEM = "(system)";
const VAULT = "(vault)";

/** The request's path: target → system endpoints → address lists → blocks → CORS → method → route → controls → forward. */
export function createGatewayHandler(deps: GatewayHandlerDeps) {
  const accessLog = new AccessLog(deps.logger);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const requestId = randomUUID();
    let routeName = UNMATCHED;
    let outcome = "forwarded";
    let rejected = false;
    const clientAddress = deps.clientIps.resolve(req);
    const ctx: { -readonly [K in keyof RequestContext]: RequestContext[K] } = {
      requestId,
      req,
      res,
      target: { rawPath: "", query: "", segments: [] },
      clientIp: clientAddress.text,
      clientAddress,
      principal: undefined,
      // Every field present from the start keeps one object shape for all requests.
      forwardBody: undefined,
      responseHeaders: undefined,
      onUpstreamHead: undefined,
    };
    // Each step that can answer from memory does so synchronously; only a pending promise is
    // awaited, since every `await` costs a turn of the microtask queue on every request.
    try {
      ctx.target = parseRequestTarget(req.url ?? "");
      const system = serveSystem(ctx.target.rawPath, req, res, deps, requestId);
      if (system === true || (system !== false && (await system))) {
        // Health stays reachable for probes; everything else is behind the lists and blocks.
        routeName = SYSTEM;
        outcome = "served";
      } else {
        deps.ipAccess.check(clientAddress);
        const blocked = deps.blocking.check(ctx);
        if (blocked !== undefined) await blocked;
        const vault = deps.vault?.(ctx, deps.gatewayHeaders) ?? false;
        if (vault !== false && (await vault)) {
          routeName = VAULT;
          outcome = "served";
        } else if (deps.cors.handle(ctx, deps.gatewayHeaders)) {
          outcome = "preflight";
        } else {
          requireRoutableMethod(req.method, req.headers, ctx.target.query);
          const match = deps.router.match(req.method ?? "", ctx.target.segments);
          if (match === undefined) throw new Problem("NOT_FOUND", "No route matches this request.");
          const route = match.value;
          routeName = route.name;
          for (const control of route.controls) {
            const pending = control(ctx);
            if (pending !== undefined) await pending;
          }
          await deps.forwarder.forward(ctx, route.target);
        }
      }
    } catch (error) {
      const problem = toProblem(error);
      if (problem.code === "INTERNAL") deps.logger.error({ req_id: requestId, err_type: errorType(error) }, "internal error");
      else if (problem.code === "UPSTREAM_UNAVAILABLE" || problem.code === "UPSTREAM_TIMEOUT") {
        deps.logger.warn({ req_id: requestId, route: routeName, upstream_error: problem.cause }, "upstream request failed");
      }
      outcome = problem.code;
      rejected = true;
      sendProblem(res, problem, requestId, ctx.responseHeaders === undefined ? deps.gatewayHeaders : { ...deps.gatewayHeaders, ...ctx.responseHeaders });
      // Counted after the answer is gone, so the client does not wait on the counter store.
      await deps.blocking.recordRejection(ctx.clientAddress.holder, problem.code, { route: routeName, tenantId: ctx.principal?.tenantId }).catch(() => undefined);
    }
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.observe(routeName, outcome, seconds, rejected);
    accessLog.write({
      requestId,
      method: req.method,
      path: ctx.target.rawPath,
      route: routeName,
      status: res.statusCode,
      outcome,
      durationMs: Math.round(seconds * 1e4) / 10,
      tenantId: ctx.principal?.tenantId,
      principal: ctx.principal?.id,
    });
  };
}

function serveSystem(path: string, req: IncomingMessage, res: ServerResponse, deps: GatewayHandlerDeps, requestId: string): boolean | Promise<boolean> {
  if (!path.startsWith("/health/") && !path.startsWith("/.well-known/")) return false;
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const headers = { ...deps.gatewayHeaders, "x-request-id": requestId };
  if (path === "/.well-known/jwks.json") {
    sendJson(res, 200, deps.signer.jwks(), headers, "application/jwk-set+json");
    return true;
  }
  return serveHealth(path, req, res, deps.health, headers, deps.publicHealth);
}
