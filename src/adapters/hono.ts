import type { HttpBindings } from "@hono/node-server";
import type { MiddlewareHandler } from "hono";
import type { CoreOptions } from "../gateway/core.js";
import { InProcessPortcullis, type PortcullisRequest } from "./in-process.js";

export { InProcessPortcullis, parsePolicy, loadPolicyFile, defaultPolicy, type PortcullisRequest, type Policy, type Verdict } from "./in-process.js";

/** The environment the middleware runs in: Node (`@hono/node-server`), with the caller set as `portcullis`. */
export interface PortcullisEnv {
  Bindings: HttpBindings;
  Variables: { portcullis: PortcullisRequest };
}

export interface HonoMiddleware {
  handle: MiddlewareHandler<PortcullisEnv>;
  readonly instance: InProcessPortcullis;
  close(): Promise<void>;
}

/**
 * Portcullis as Hono middleware on `@hono/node-server` (the client's address and the raw request
 * target come from the Node message). A shield reads a copy of the body (`Request.clone()`), so
 * the handler still reads it with `c.req.json()` and the like, and sees the bytes inspected.
 */
export async function createHonoMiddleware(options: CoreOptions | { instance: InProcessPortcullis }): Promise<HonoMiddleware> {
  const instance = "instance" in options ? options.instance : await InProcessPortcullis.create(options);
  const handle: MiddlewareHandler<PortcullisEnv> = async (c, next) => {
    const message = c.env?.incoming;
    // The client's address and the raw target come from the Node message: without it there is
    // nothing to decide with, and nothing passes.
    if (message === undefined) throw new Error("portcullis/hono needs @hono/node-server (c.env.incoming)");
    const raw = c.req.raw;
    const ctx = instance.context({
      method: raw.method,
      url: message.url ?? "",
      headers: message.headers,
      rawHeaders: message.rawHeaders,
      message,
      body: raw.body === null ? undefined : (raw.clone().body as AsyncIterable<Uint8Array> | null) ?? undefined,
    });
    const verdict = await instance.decide(ctx);
    if (!verdict.passed) {
      const headers = new Headers();
      for (const [name, value] of Object.entries(verdict.headers)) if (value !== undefined) headers.set(name, String(value));
      return new Response(verdict.body ?? null, { status: verdict.status, headers });
    }
    c.set("portcullis", verdict.request);
    await next();
    if (verdict.headers !== undefined) for (const name in verdict.headers) c.res.headers.set(name, verdict.headers[name]!);
    if (!instance.watchesResponse(ctx)) return undefined;
    const taps = instance.answerStarted(ctx, { status: c.res.status, headers: Object.fromEntries(c.res.headers) });
    if (taps === undefined || c.res.body === null) {
      instance.answerEnded(ctx, taps, true);
      return undefined;
    }
    // A copy of the answer is read, beside the client's, for the controls that keep it
    // (idempotency); not awaited, so a streamed answer is not held back until it ends.
    c.res
      .clone()
      .arrayBuffer()
      .then(
        (bytes) => {
          for (const tap of taps) tap.write(Buffer.from(bytes));
          instance.answerEnded(ctx, taps, true);
        },
        () => instance.answerEnded(ctx, taps, false),
      )
      // The answer is out already; what a control failed to keep it has reported itself.
      .catch(() => undefined);
    return undefined;
  };
  return { handle, instance, close: () => instance.close() };
}
