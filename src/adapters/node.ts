import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { RequestContext } from "../pipeline/context.js";
import type { BodyTap } from "../pipeline/control.js";
import type { CoreOptions } from "../gateway/core.js";
import { Problem, problemBody } from "../problem/index.js";
import { InProcessPortcullis, type PortcullisRequest, type Verdict } from "./in-process.js";

export { InProcessPortcullis, parsePolicy, loadPolicyFile, defaultPolicy, type PortcullisRequest, type Policy, type Verdict } from "./in-process.js";

declare module "node:http" {
  interface IncomingMessage {
    /** Set by Portcullis's middleware on every request it let through. */
    portcullis?: PortcullisRequest;
  }
}

export type Next = (error?: unknown) => void;

export interface NodeMiddleware {
  /** `(req, res, next)`: for node:http handlers and Express (`app.use(portcullis.handle)`). */
  handle(req: IncomingMessage, res: ServerResponse, next: Next): void;
  readonly instance: InProcessPortcullis;
  close(): Promise<void>;
}

/**
 * Portcullis as `(req, res, next)` middleware for node:http and Express. Put it first: a route
 * whose shield inspects bodies needs to read the body itself, and refuses the request (500, logged)
 * if an earlier middleware already consumed it, rather than letting an uninspected body through.
 * Once it has read a body it leaves the bytes on `req.portcullis.body` and, for JSON, the parsed
 * value on `req.body`, which Express's body parsers then keep (they skip a body already read).
 */
export async function createNodeMiddleware(options: CoreOptions | { instance: InProcessPortcullis }): Promise<NodeMiddleware> {
  const instance = "instance" in options ? options.instance : await InProcessPortcullis.create(options);
  const caseSensitive = instance.core.policy.paths.caseSensitive;
  let warned = false;
  const handle = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    if (caseSensitive && routesWithoutCase(req)) {
      // Refused, not only warned about: /ADMIN would reach the /admin handler under another route's controls.
      if (!warned) instance.core.logger.error({ event: "adapter_misconfigured" }, "portcullis: the policy matches paths case-sensitively but Express routes without case: app.enable('case sensitive routing'), or drop paths.caseSensitive");
      warned = true;
      const problem = problemBody(new Problem("INTERNAL"), "");
      res.writeHead(500, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(problem) });
      res.end(problem);
      return;
    }
    const unread = bodyUnread(req);
    const ctx = instance.context({
      method: req.method ?? "",
      // Express strips a mount path from `req.url` (`app.use("/v1", …)`): the decision is about
      // the target as the client sent it, which Express keeps as `originalUrl`.
      url: (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      message: req,
      body: unread ? req : undefined,
    });
    const apply = (verdict: Verdict): void => {
      // Something else answered while the decision was pending (a timeout middleware): there is
      // nothing left to refuse or pass on, and writing would throw ERR_HTTP_HEADERS_SENT.
      if (res.headersSent || res.writableEnded) {
        if (verdict.passed) verdict.replay?.destroy();
        return;
      }
      if (!verdict.passed) {
        res.writeHead(verdict.status, verdict.headers);
        res.end(verdict.body);
        return;
      }
      if (verdict.replay !== undefined) {
        // A shield in monitor mode let an oversized body through half read: the rest of the
        // stream is all the handler could still read, so it is refused rather than cut short.
        verdict.replay.destroy();
        const problem = problemBody(new Problem("PAYLOAD_TOO_LARGE", "The body is larger than this route inspects."), verdict.request.requestId);
        res.writeHead(413, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(problem), "x-request-id": verdict.request.requestId });
        res.end(problem);
        return;
      }
      if (verdict.headers !== undefined) for (const name in verdict.headers) res.setHeader(name, verdict.headers[name]!);
      req.portcullis = verdict.request;
      const body = verdict.request.body;
      if (body !== undefined && /^application\/([a-z0-9.+-]*\+)?json\b/i.test(req.headers["content-type"] ?? "")) {
        (req as IncomingMessage & { body?: unknown }).body = parsedJson(body);
      }
      if (instance.watchesResponse(ctx)) watchAnswer(instance, ctx, res);
      next();
    };
    const verdict = instance.decide(ctx);
    // What `apply` throws goes to `next` as the request's error, never an unhandled rejection.
    if (verdict instanceof Promise) verdict.then(apply).catch(next);
    else apply(verdict);
  };
  return { handle, instance, close: () => instance.close() };
}

/** Whether the request is served by an Express app whose router ignores case (Express's default). */
function routesWithoutCase(req: IncomingMessage): boolean {
  const app = (req as IncomingMessage & { app?: { enabled?(setting: string): boolean } }).app;
  return typeof app?.enabled === "function" && !app.enabled("case sensitive routing");
}

/**
 * The body as JSON, or undefined where it is not (a shield whose encoding check only monitors lets
 * such a body through): the handler sees no value rather than the middleware throwing.
 */
function parsedJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** A body that something before us read is gone: the shield refuses to pretend it saw it. */
function bodyUnread(req: IncomingMessage): boolean {
  return !req.readableEnded && (req as IncomingMessage & { body?: unknown }).body === undefined;
}

/**
 * Shows the route's controls the handler's answer: its head at the first write (the headers are
 * fixed then), its bytes as they are written, and how it ended. `write` and `end` are wrapped
 * because node:http offers no other way to see a body on its way out.
 */
function watchAnswer(instance: InProcessPortcullis, ctx: RequestContext, res: ServerResponse): void {
  let taps: BodyTap[] | undefined;
  let started = false;
  // Headers given to writeHead directly never show in getHeaders(): they are kept from the call.
  let written: OutgoingHttpHeaders = {};
  const see = (chunk: unknown, encoding: unknown): void => {
    if (!started) {
      started = true;
      taps = instance.answerStarted(ctx, { status: res.statusCode, headers: { ...res.getHeaders(), ...written } });
    }
    if (taps === undefined || chunk === undefined || chunk === null || typeof chunk === "function") return;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8") : Buffer.from(chunk as Uint8Array);
    for (const tap of taps) tap.write(bytes);
  };
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    written = headersOf(args.find((a, i) => i > 0 && typeof a === "object" && a !== null));
    return writeHead(...args);
  }) as ServerResponse["writeHead"];
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((...args: unknown[]) => {
    see(args[0], args[1]);
    return write(...args);
  }) as ServerResponse["write"];
  res.end = ((...args: unknown[]) => {
    see(args[0], args[1]);
    return end(...args);
  }) as ServerResponse["end"];
  res.once("close", () => instance.answerEnded(ctx, taps, res.writableFinished));
}

/** writeHead's headers, given as an object or as a list (`[name, value, …]` or `[[name, value], …]`), by lower-case name. */
function headersOf(given: unknown): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (Array.isArray(given)) {
    const pairs = given.every(Array.isArray) ? (given as unknown[][]) : given.flatMap((v, i) => (i % 2 === 0 ? [[v, given[i + 1]]] : []));
    for (const [name, value] of pairs) out[String(name).toLowerCase()] = value as string;
  } else if (given !== undefined) {
    for (const [name, value] of Object.entries(given as Record<string, unknown>)) out[name.toLowerCase()] = value as string;
  }
  return out;
}
