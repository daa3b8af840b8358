import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { ClientBlocking } from "../blocking/client-blocking.js";
import { mayHaveReachedUpstream, type Forwarder } from "../forward/forwarder.js";
import type { CompiledRoute } from "../gateway/routes.js";
import type { ClientIpResolver } from "../net/client-ip.js";
import { AccessLog } from "../observability/access-log.js";
import type { Logger } from "../observability/logger.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { createContext, type RequestContext } from "../pipeline/context.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { requestSkeleton, type Finished } from "../server/request-skeleton.js";

export interface GatewayHandlerDeps {
  pipeline: Pipeline<CompiledRoute>;
  forwarder: Forwarder;
  /** Security headers for responses the gateway writes itself. */
  gatewayHeaders: Readonly<OutgoingHttpHeaders>;
  metrics: GatewayMetrics;
  logger: Logger;
  clientIps: ClientIpResolver;
  blocking: ClientBlocking;
}

const UNMATCHED = "(none)";

/** Front end 1, the reverse proxy: the pipeline, then the request forwarded to the route's upstream. */
export function gatewayHandler(deps: GatewayHandlerDeps) {
  const { pipeline, forwarder } = deps;
  const forward = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined => {
    if (ctx.answer !== undefined) return undefined;
    return forwarder.forward(ctx, req, res, pipeline.planOf(ctx)!.target!, (status, headers) => pipeline.respond(ctx, { status, headers }));
  };
  return requestSkeleton({
    logger: deps.logger,
    ownHeaders: deps.gatewayHeaders,
    outcome: "forwarded",
    context: (req, requestId) => nodeContext(req, requestId, deps.clientIps),
    handle(ctx, req, res) {
      const pending = pipeline.run(ctx);
      return pending === undefined ? forward(ctx, req, res) : pending.then(() => forward(ctx, req, res));
    },
    rejected: (ctx, problem) => deps.blocking.recordRejection(ctx.clientAddress.holder, problem.code, { route: ctx.route?.name ?? UNMATCHED, tenantId: ctx.principal?.tenantId }),
    finished: ended(pipeline, observer(deps.metrics, new AccessLog(deps.logger))),
  });
}

/** The route's controls end what they began (an idempotency claim), then the observer sees the request. */
function ended(pipeline: Pipeline<CompiledRoute>, observe: (done: Finished) => void) {
  return (done: Finished): void => {
    const { ctx, problem } = done;
    const reached = problem === undefined ? ctx.answer === undefined : mayHaveReachedUpstream(problem);
    pipeline.done(ctx, { upstream: reached ? "reached" : "not_reached" });
    observe(done);
  };
}

/** The context of a request that arrived as it is (gateway, adapters): its own method, target and body. */
export function nodeContext(req: IncomingMessage, requestId: string, clientIps: ClientIpResolver): RequestContext {
  return createContext({
    requestId,
    method: req.method ?? "",
    url: req.url ?? "",
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    clientAddress: clientIps.resolve(req),
    body: req,
  });
}

/** Metrics and the access line, once the answer is out. */
export function observer(metrics: GatewayMetrics, accessLog: AccessLog) {
  return ({ ctx, outcome, rejected, seconds, status }: Finished): void => {
    const route = ctx.route?.name ?? UNMATCHED;
    metrics.observe(route, outcome, seconds, rejected);
    accessLog.write({
      requestId: ctx.requestId,
      method: ctx.method,
      path: ctx.target.rawPath,
      route,
      status,
      outcome,
      durationMs: Math.round(seconds * 1e4) / 10,
      tenantId: ctx.principal?.tenantId,
      principal: ctx.principal?.id,
    });
  };
}
