import type { IncomingHttpHeaders } from "node:http";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { decodeParameter, frameworkNames, parameterPairs } from "../util/parameters.js";

/** The methods a policy can name, and so the only ones forwarded. */
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const ROUTABLE = new Set<string>(HTTP_METHODS);

/** Headers by which frameworks (Express's method-override, Symfony, Rack, ASP.NET) run a request as another method. */
const OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"] as const;
/** The parameter Rails, Laravel, Symfony and Express's method-override read from a query or form body. */
export const OVERRIDE_PARAMETER = "_method";

/**
 * Routes are matched, and their controls chosen, by the request's method, so the method the
 * upstream runs must be that one. Methods a policy cannot name (TRACE, which echoes the request's
 * headers back, CONNECT, WebDAV's) are refused with 405 even on a route open to any method. An
 * upstream that honours a method override would run a request the gateway checked as a POST as a
 * DELETE, under the POST route's controls: such requests are refused rather than forwarded, and
 * the client is told to send the method itself.
 */
export function requireRoutableMethod(method: string | undefined, headers: IncomingHttpHeaders, query: string): void {
  if (method === undefined || !ROUTABLE.has(method)) throw new Problem("METHOD_NOT_ALLOWED", `Only ${HTTP_METHODS.join(", ")} requests are forwarded.`);
  for (const name of OVERRIDE_HEADERS) {
    if (headers[name] !== undefined) throw refused(name);
  }
  // Only a query that spells `method`, plainly or percent-encoded, can name the override.
  if (!/method|%/i.test(query)) return;
  for (const [rawName] of parameterPairs(query)) {
    // An undecodable name cannot spell `_method` to a decoder either.
    const name = decodeParameter(rawName) ?? rawName;
    if (isOverrideParameter(name)) throw refused(OVERRIDE_PARAMETER);
  }
}

/** Whether some framework reads this decoded parameter name as `_method` (`.method`, `_method[]`, `_METHOD`). */
export function isOverrideParameter(name: string): boolean {
  return frameworkNames(name).includes(OVERRIDE_PARAMETER);
}

/** Before routing: the method is one a route can be chosen by, and no override names another. */
export function methodControl(): Control {
  return { name: "method", stage: "method", run: (ctx) => requireRoutableMethod(ctx.method, ctx.headers, ctx.target.query) };
}

function refused(what: string): Problem {
  return new Problem("BAD_REQUEST", `Method overrides (${what}) are not accepted: send the request with the method itself.`);
}
