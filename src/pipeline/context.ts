import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { Principal } from "../identity/principal.js";
import type { IpAddress } from "../net/ip.js";
import type { RequestTarget } from "../routing/request-target.js";

/** The one object a request's controls read and annotate on its way through the pipeline. */
export interface RequestContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly target: RequestTarget;
  /** The client's address as text, after trusted-proxy handling; `clientAddress` parsed. */
  readonly clientIp: string;
  /** Limits and blocks count by `clientAddress.holder` (an IPv6 client's network, a /64 by default). */
  readonly clientAddress: IpAddress;
  principal: Principal | undefined;
  /** The body to forward instead of the request stream, once a control has read it. */
  forwardBody?: Buffer | Readable | undefined;
  /**
   * Headers the controls add to the answer, forwarded or refused (rate-limit state, Retry-After).
   * Collected here and written with the response head in one call: `res.setHeader` would send
   * `writeHead` down node:http's slow path, which re-validates every header of the response one
   * by one (about 8 µs a request in the benchmark).
   */
  responseHeaders?: Record<string, string> | undefined;
  /** Called with the upstream's response head, before it is passed on (quotas priced by the upstream). */
  onUpstreamHead?: ((statusCode: number, headers: IncomingHttpHeaders) => void) | undefined;
}

/** One step of a route's pipeline: returns to let the request through, throws a Problem to stop it. */
export type Control = (ctx: RequestContext) => void | Promise<void>;

/** Adds a header to the answer this request will get, whichever way it ends. */
export function setResponseHeader(ctx: RequestContext, name: string, value: string): void {
  (ctx.responseHeaders ??= {})[name] = value;
}
