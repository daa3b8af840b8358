import { randomUUID } from "node:crypto";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Logger } from "../observability/logger.js";
import type { Answer, RequestContext } from "../pipeline/context.js";
import { sendProblem, toProblem, type Problem } from "../problem/index.js";
import { errorType } from "../util/error-type.js";

export interface Finished {
  ctx: RequestContext;
  /** How it ended: the front end's own outcome (`forwarded`, `allowed`), an answer's, or the problem code. */
  outcome: string;
  rejected: boolean;
  /** The refusal, when there was one. */
  problem: Problem | undefined;
  seconds: number;
  status: number;
}

export interface SkeletonOptions {
  logger: Logger;
  /** The security headers of every answer a front end writes itself. */
  ownHeaders: Readonly<OutgoingHttpHeaders>;
  /** The outcome of a request that neither failed nor was answered by a control. */
  outcome: string;
  context(req: IncomingMessage, requestId: string): RequestContext;
  /** Runs the request; unless a control set `ctx.answer`, writes the answer itself. */
  handle(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): void | Promise<void>;
  /** After a refusal has been sent (blocking counts it): the client does not wait for it. */
  rejected?(ctx: RequestContext, problem: Problem): Promise<void>;
  /** Once the answer is out, whatever it was: metrics and the access log. */
  finished?(done: Finished): void;
  /** How a refusal reaches the client; by default the problem as application/problem+json. */
  refuse?(ctx: RequestContext, res: ServerResponse, problem: Problem, headers: OutgoingHttpHeaders): void;
}

/**
 * What every request to a Portcullis listener goes through, whichever front end it is (gateway,
 * decision API, admin API): a request id, the front end's work, an answer a control gave, and one
 * error funnel in which anything that is not a `Problem` becomes `INTERNAL` and never leaves the
 * process with its message.
 */
export function requestSkeleton(options: SkeletonOptions) {
  const { logger, ownHeaders } = options;
  const refuse = options.refuse ?? ((ctx, res, problem, headers) => sendProblem(res, problem, ctx.requestId, headers));
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const ctx = options.context(req, randomUUID());
    let outcome = options.outcome;
    let problem: Problem | undefined;
    try {
      const pending = options.handle(ctx, req, res);
      if (pending !== undefined) await pending;
      if (ctx.answer !== undefined) {
        writeAnswer(res, ctx.answer, ctx, ownHeaders);
        outcome = ctx.answer.outcome;
      }
    } catch (error) {
      problem = toProblem(error);
      if (problem.code === "INTERNAL") logger.error({ req_id: ctx.requestId, route: ctx.route?.name, err_type: errorType(error) }, "internal error");
      else if (problem.code === "UPSTREAM_UNAVAILABLE" || problem.code === "UPSTREAM_TIMEOUT") {
        logger.warn({ req_id: ctx.requestId, route: ctx.route?.name, upstream_error: problem.cause }, "upstream request failed");
      }
      outcome = problem.code;
      refuse(ctx, res, problem, ctx.responseHeaders === undefined ? ownHeaders : { ...ownHeaders, ...ctx.responseHeaders });
      if (options.rejected !== undefined) await options.rejected(ctx, problem).catch(() => undefined);
    }
    options.finished?.({ ctx, outcome, rejected: problem !== undefined, problem, seconds: (performance.now() - started) / 1000, status: res.statusCode });
  };
}

function writeAnswer(res: ServerResponse, answer: Answer, ctx: RequestContext, own: Readonly<OutgoingHttpHeaders>): void {
  res.writeHead(answer.status, { ...own, ...ctx.responseHeaders, ...answer.headers, "x-request-id": ctx.requestId });
  res.end(answer.body);
}

