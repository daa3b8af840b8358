import { randomUUID } from "node:crypto";
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { PortcullisCore, type CoreOptions } from "../gateway/core.js";
import { compileRoutes, type CompiledRoute } from "../gateway/routes.js";
import { GATEWAY_CSP } from "../headers/security-headers.js";
import type { Principal } from "../identity/principal.js";
import { createContext, type RequestContext, type ResponseHead } from "../pipeline/context.js";
import type { BodyTap } from "../pipeline/control.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { problemBody, toProblem } from "../problem/index.js";
import { errorType } from "../util/error-type.js";

export { defaultPolicy, loadPolicyFile, parsePolicy } from "../policy/load.js";
export type { Policy } from "../policy/schema.js";

/** What the handler is told once Portcullis has let a request through. */
export interface PortcullisRequest {
  readonly requestId: string;
  /** The policy route the request matched. */
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
  /** Absent on routes with `authenticate: none`. */
  readonly principal: Principal | undefined;
  readonly tenantId: string | undefined;
  /** The body exactly as the shield inspected it, when it read one. */
  readonly body: Buffer | undefined;
}

/** Let through, with the headers the controls add to the answer (RateLimit-*, CORS). */
export interface Passed {
  readonly passed: true;
  readonly request: PortcullisRequest;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /**
   * The body to read in place of the request's own stream, when a shield in monitor mode read
   * part of a body over its size limit: what it read, then the rest.
   */
  readonly replay: Readable | undefined;
}

/** Answered by Portcullis itself: a refusal (problem+json) or a CORS preflight. */
export interface Answered {
  readonly passed: false;
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: string | Buffer | undefined;
}

export type Verdict = Passed | Answered;

/** The request's facts, as each framework hands them over. */
export interface RequestFacts {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  rawHeaders: readonly string[];
  /** The node message: its socket gives the client's address. */
  message: IncomingMessage;
  /** Where the body can be read once; absent where the framework has already consumed it. */
  body: AsyncIterable<Uint8Array> | undefined;
}

/**
 * Front end 3, in process: the same policy routes and controls as the gateway, run inside a Node
 * service by a framework adapter (`portcullis/node`, `portcullis/fastify`, `portcullis/hono`),
 * which turns the verdict into the framework's own answer. Nothing is forwarded: the handler is
 * the upstream, and it is handed the caller instead of a signed assertion.
 */
export class InProcessPortcullis {
  private constructor(
    readonly core: PortcullisCore,
    private readonly pipeline: Pipeline<CompiledRoute>,
  ) {}

  static async create(options: CoreOptions): Promise<InProcessPortcullis> {
    const core = await PortcullisCore.open(options);
    const { policy } = core;
    try {
      const pipeline = new Pipeline(core.beforeRouting(), compileRoutes(policy, core.deps), { allowTrailingDots: policy.paths.allowTrailingDots });
      return new InProcessPortcullis(core, pipeline);
    } catch (error) {
      // A policy refused here (a webhook secret missing) leaves no store open behind it.
      await core.close();
      throw error;
    }
  }

  context(facts: RequestFacts): RequestContext {
    return createContext({
      requestId: randomUUID(),
      method: facts.method,
      url: facts.url,
      headers: facts.headers,
      rawHeaders: facts.rawHeaders,
      clientAddress: this.core.clientIps.resolve(facts.message),
      body: facts.body,
    });
  }

  /** Runs the pipeline; synchronous whenever every control is. Never throws: a failure is a refusal. */
  decide(ctx: RequestContext): Verdict | Promise<Verdict> {
    let pending: void | Promise<void>;
    try {
      pending = this.pipeline.run(ctx);
    } catch (error) {
      return this.refuse(ctx, error);
    }
    if (pending === undefined) return this.verdict(ctx);
    return pending.then(
      () => this.verdict(ctx),
      (error: unknown) => this.refuse(ctx, error),
    );
  }

  /** Whether the matched route wants to see the answer (`answerStarted`, `answerEnded`). */
  watchesResponse(ctx: RequestContext): boolean {
    const plan = this.pipeline.planOf(ctx);
    return plan !== undefined && (plan.responseHooks.length > 0 || plan.doneHooks.length > 0);
  }

  /**
   * The handler's answer is starting: the route's response hooks see its head (a quota priced by
   * a header), and the taps returned want its bytes as they are written (idempotency stores them).
   */
  answerStarted(ctx: RequestContext, head: ResponseHead): BodyTap[] | undefined {
    return this.pipeline.respond(ctx, head);
  }

  /** The answer is out, whole (`complete`) or cut off: the route's controls end what they began. */
  answerEnded(ctx: RequestContext, taps: readonly BodyTap[] | undefined, complete: boolean): void {
    // The answer is out already: what a tap could not store has been reported by the tap itself.
    if (complete && taps !== undefined) for (const tap of taps) void Promise.resolve(tap.end()).catch(() => undefined);
    this.pipeline.done(ctx, { upstream: "reached" });
  }

  close(): Promise<void> {
    return this.core.close();
  }

  private verdict(ctx: RequestContext): Verdict {
    const { answer } = ctx;
    if (answer !== undefined) {
      // Answered here (a preflight, a replay): the handler never runs.
      this.pipeline.done(ctx, { upstream: "not_reached" });
      return { passed: false, status: answer.status, headers: { ...ctx.responseHeaders, ...answer.headers, "x-request-id": ctx.requestId }, body: answer.body };
    }
    const route = ctx.route!;
    return {
      passed: true,
      headers: ctx.responseHeaders,
      replay: ctx.forwardBody === undefined || Buffer.isBuffer(ctx.forwardBody) ? undefined : ctx.forwardBody,
      request: {
        requestId: ctx.requestId,
        route: route.name,
        params: route.params,
        principal: ctx.principal,
        tenantId: ctx.principal?.tenantId,
        body: Buffer.isBuffer(ctx.forwardBody) ? ctx.forwardBody : undefined,
      },
    };
  }

  private refuse(ctx: RequestContext, error: unknown): Answered {
    this.pipeline.done(ctx, { upstream: "not_reached" });
    const problem = toProblem(error);
    if (problem.code === "INTERNAL") this.core.logger.error({ req_id: ctx.requestId, route: ctx.route?.name, err_type: errorType(error) }, "internal error");
    // Counted in the background: the client does not wait for the counter store.
    this.core.blocking
      .recordRejection(ctx.clientAddress.holder, problem.code, { route: ctx.route?.name ?? "(none)", tenantId: ctx.principal?.tenantId })
      .catch(() => undefined);
    const body = problemBody(problem, ctx.requestId);
    return {
      passed: false,
      status: problem.status,
      headers: {
        ...ctx.responseHeaders,
        "content-type": "application/problem+json",
        "content-length": Buffer.byteLength(body),
        "cache-control": "no-store",
        "content-security-policy": GATEWAY_CSP,
        "x-content-type-options": "nosniff",
        "x-request-id": ctx.requestId,
      },
      body,
    };
  }
}
