import type { OutgoingHttpHeaders } from "node:http";
import { PassThrough, Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CoreOptions } from "../gateway/core.js";
import type { RequestContext } from "../pipeline/context.js";
import type { BodyTap } from "../pipeline/control.js";
import { InProcessPortcullis, type PortcullisRequest, type Verdict } from "./in-process.js";

export { InProcessPortcullis, parsePolicy, loadPolicyFile, defaultPolicy, type PortcullisRequest, type Policy, type Verdict } from "./in-process.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the Portcullis plugin on every request it let through. */
    portcullis: PortcullisRequest | null;
  }
}

export type PortcullisFastifyOptions = CoreOptions | { instance: InProcessPortcullis };

const CONTEXT = Symbol("portcullis.context");
const TAPS = Symbol("portcullis.taps");
type WithContext = FastifyRequest & { [CONTEXT]?: RequestContext; [TAPS]?: BodyTap[] | undefined };

/**
 * Portcullis as a Fastify plugin, on every route of the instance it is registered on (it is not
 * encapsulated). It runs in `preParsing`, where the body is still a stream: a shield that reads it
 * hands Fastify's own parsers the very bytes it inspected. The controls' headers are added in
 * `onSend`; a quota priced by a response header is charged there too, and the answer's bytes are
 * shown to the controls that keep them (idempotency), ended in `onResponse`.
 */
export async function portcullisFastify(fastify: FastifyInstance, options: PortcullisFastifyOptions): Promise<void> {
  const instance = "instance" in options ? options.instance : await InProcessPortcullis.create(options);
  // A policy that tells /ADMIN from /admin in front of a router that does not would let /ADMIN
  // reach the /admin handler under another route's controls. The other way round is safe: the
  // policy folds case, so every spelling gets the controls of the route it names.
  const config = fastify.initialConfig as { caseSensitive?: boolean; routerOptions?: { caseSensitive?: boolean } };
  if (instance.core.policy.paths.caseSensitive && (config.routerOptions?.caseSensitive ?? config.caseSensitive ?? true) === false) {
    if (!("instance" in options)) await instance.close();
    throw new Error("portcullis: the policy matches paths case-sensitively (paths.caseSensitive: true) but this Fastify instance routes without case: set routerOptions.caseSensitive to true, or drop paths.caseSensitive");
  }
  fastify.decorateRequest("portcullis", null);
  fastify.addHook("preParsing", (request: WithContext, reply, payload, done) => {
    const ctx = instance.context({
      method: request.method,
      url: request.raw.url ?? "",
      headers: request.headers,
      rawHeaders: request.raw.rawHeaders,
      message: request.raw,
      body: payload,
    });
    request[CONTEXT] = ctx;
    const apply = (verdict: Verdict): void => {
      if (!verdict.passed) {
        // Answered from the hook as Fastify documents it: send, and never call `done`. Calling it
        // runs the rest of the chain unless the reply has already ended, which an async `onSend`
        // hook delays: the route's handler would run behind a refusal.
        void reply.code(verdict.status).headers(verdict.headers).send(verdict.body);
        return;
      }
      if (verdict.headers !== undefined) void reply.headers(verdict.headers);
      request.portcullis = verdict.request;
      if (verdict.replay !== undefined) return done(null, verdict.replay);
      const body = verdict.request.body;
      if (body === undefined) return done(null, payload);
      const replay = Readable.from([body]) as Readable & { receivedEncodedLength?: number };
      replay.receivedEncodedLength = body.length;
      done(null, replay);
    };
    const verdict = instance.decide(ctx);
    // What `apply` throws is the request's error too, never an unhandled rejection.
    if (verdict instanceof Promise) verdict.then(apply).catch((error: Error) => done(error));
    else apply(verdict);
  });
  fastify.addHook("onSend", (request: WithContext, reply: FastifyReply, payload, done) => {
    const ctx = request[CONTEXT];
    if (ctx === undefined || request.portcullis === null || !instance.watchesResponse(ctx)) return done(null, payload);
    const taps = instance.answerStarted(ctx, { status: reply.statusCode, headers: reply.getHeaders() as OutgoingHttpHeaders });
    request[TAPS] = taps;
    if (taps === undefined || payload === null || payload === undefined) return done(null, payload);
    if (typeof payload === "string" || Buffer.isBuffer(payload)) {
      const bytes = typeof payload === "string" ? Buffer.from(payload) : payload;
      for (const tap of taps) tap.write(bytes);
      return done(null, payload);
    }
    // A stream is seen as it passes through, never held whole.
    const seen = new PassThrough({
      transform(chunk: Buffer, _encoding, next) {
        for (const tap of taps) tap.write(chunk);
        next(null, chunk);
      },
    });
    done(null, (payload as Readable).pipe(seen));
  });
  fastify.addHook("onResponse", (request: WithContext, reply: FastifyReply, done) => {
    const ctx = request[CONTEXT];
    if (ctx !== undefined && request.portcullis !== null && instance.watchesResponse(ctx)) instance.answerEnded(ctx, request[TAPS], reply.raw.writableFinished);
    done();
  });
  if (!("instance" in options)) fastify.addHook("onClose", () => instance.close());
}

// Hooks apply to the whole instance, as fastify-plugin's `skip-override` makes them, without the dependency.
(portcullisFastify as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
(portcullisFastify as unknown as Record<symbol, string>)[Symbol.for("fastify.display-name")] = "portcullis";
