import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { Principal } from "../identity/principal.js";
import type { IpAddress } from "../net/ip.js";
import type { RequestTarget } from "../routing/request-target.js";

/** The route a request matched: its policy name and the named path parameters. */
export interface MatchedRoute {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  /** The compiled route; absent for what the front end serves itself (health, the vault). */
  readonly plan?: object | undefined;
}

/**
 * An answer a control gives in place of the rest of the pipeline (a CORS preflight, a health
 * probe, the vault): the front end writes it as it is. `body` is sent as given.
 */
export interface Answer {
  /** How the access log and metrics name the way the request ended. */
  readonly outcome: "served" | "preflight" | "allowed" | "replayed";
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: string | Buffer | undefined;
}

/** What a response hook sees of the answer before it is passed on. */
export interface ResponseHead {
  readonly status: number;
  readonly headers: IncomingHttpHeaders | OutgoingHttpHeaders;
}

/**
 * The one object a request's controls read and annotate on its way through the pipeline. Every
 * front end builds it the same way; the facts are those of the request being decided, which on
 * the decision API are the proxied request's (`X-Original-URI` …), not the sub-request's.
 */
export interface RequestContext {
  readonly requestId: string;
  /** The method the request is routed and checked by. */
  readonly method: string;
  /** The request target as sent: path and query, before any parsing. */
  readonly url: string;
  /** The parsed target; empty until the pipeline has parsed `url`. */
  target: RequestTarget;
  readonly headers: IncomingHttpHeaders;
  /** Name, value, name, value … as received: duplicates kept, which `headers` joins or drops. */
  readonly rawHeaders: readonly string[];
  /** Limits and blocks count by `clientAddress.holder` (an IPv6 client's network, a /64 by default). */
  readonly clientAddress: IpAddress;
  /** The body's bytes, read at most once; `undefined` where the body is never seen (the decision API). */
  readonly body: AsyncIterable<Uint8Array> | undefined;
  route: MatchedRoute | undefined;
  principal: Principal | undefined;
  /** The body to pass on instead of the request stream, once a control has read it. */
  forwardBody: Buffer | Readable | undefined;
  /**
   * Headers the controls add to the answer, forwarded or refused (rate-limit state, Retry-After).
   * Collected here and written with the response head in one call: `res.setHeader` would send
   * `writeHead` down node:http's slow path, which re-validates every header of the response one
   * by one (about 8 µs a request in the benchmark).
   */
  responseHeaders: Record<string, string> | undefined;
  /** Set by a control that answers the request itself; the pipeline stops there. */
  answer: Answer | undefined;
}

const NO_TARGET: RequestTarget = Object.freeze({ rawPath: "", query: "", segments: [] }) as RequestTarget;

export interface ContextFacts {
  requestId: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: readonly string[];
  clientAddress: IpAddress;
  body: AsyncIterable<Uint8Array> | undefined;
}

/** Every field present from the start keeps one object shape for all requests (and all front ends). */
export function createContext(facts: ContextFacts): RequestContext {
  return {
    requestId: facts.requestId,
    method: facts.method,
    url: facts.url,
    target: NO_TARGET,
    headers: facts.headers,
    rawHeaders: facts.rawHeaders,
    clientAddress: facts.clientAddress,
    body: facts.body,
    route: undefined,
    principal: undefined,
    forwardBody: undefined,
    responseHeaders: undefined,
    answer: undefined,
  };
}

/** Adds a header to the answer this request will get, whichever way it ends. */
export function setResponseHeader(ctx: RequestContext, name: string, value: string): void {
  (ctx.responseHeaders ??= {})[name] = value;
}
