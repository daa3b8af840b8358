import type { IncomingHttpHeaders } from "node:http";
import { parseIp } from "../../src/net/ip.js";
import { createContext, type RequestContext } from "../../src/pipeline/context.js";
import { parseRequestTarget } from "../../src/routing/request-target.js";

export interface ContextSpec {
  method?: string;
  url?: string;
  /** Name, value pairs as sent: repeat a name to send it twice. */
  headers?: [string, string][];
  client?: string;
  body?: string | Buffer;
  route?: string;
}

/** A request context as a front end builds it, without a socket: for testing one control at a time. */
export function contextFor(spec: ContextSpec = {}): RequestContext {
  const raw = (spec.headers ?? []).flat();
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of spec.headers ?? []) {
    const key = name.toLowerCase();
    const previous = headers[key];
    headers[key] = previous === undefined ? value : `${String(previous)}, ${value}`;
  }
  const body = spec.body === undefined ? undefined : [Buffer.from(spec.body)];
  if (body !== undefined && headers["content-length"] === undefined) headers["content-length"] = String(body[0]!.length);
  const ctx = createContext({
    requestId: "00000000-0000-4000-8000-000000000000",
    method: spec.method ?? "GET",
    url: spec.url ?? "/",
    headers,
    rawHeaders: raw,
    clientAddress: parseIp(spec.client ?? "192.0.2.1")!,
    body: body === undefined ? undefined : (async function* () {
      yield* body;
    })(),
  });
  ctx.target = parseRequestTarget(ctx.url);
  if (spec.route !== undefined) ctx.route = { name: spec.route, params: {} };
  return ctx;
}

/** Runs a control the way the pipeline does, awaiting only what is pending; the Problem it throws, if any. */
export async function outcome(run: () => void | Promise<void>): Promise<string> {
  try {
    const pending = run();
    if (pending !== undefined) await pending;
    return "passed";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}
