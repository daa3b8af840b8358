import type { ServerResponse } from "node:http";
import type { HeadersPolicy } from "../policy/schema.js";

export type HeaderList = readonly (readonly [string, string])[];

/** For responses the gateway writes itself (errors, health, key sets): nothing there is a page. */
export const GATEWAY_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = "max-age=63072000; includeSubDomains";
const MANAGED = ["strict-transport-security", "x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy"];

export function securityHeaders(policy: HeadersPolicy, production: boolean, forGatewayResponses = false): HeaderList {
  const list: [string, string][] = [["x-content-type-options", "nosniff"]];
  if (policy.hsts ?? production) list.push(["strict-transport-security", HSTS]);
  if (policy.frameOptions !== "off") list.push(["x-frame-options", policy.frameOptions]);
  list.push(["referrer-policy", policy.referrerPolicy]);
  const csp = forGatewayResponses ? GATEWAY_CSP : policy.contentSecurityPolicy;
  if (csp !== undefined) list.push(["content-security-policy", csp]);
  return list;
}

/** Replaces whatever security headers the response carries with this list. */
export function applyHeaders(res: ServerResponse, list: HeaderList, replaceManaged: boolean): void {
  if (replaceManaged) for (const name of MANAGED) res.removeHeader(name);
  for (const [name, value] of list) res.setHeader(name, value);
}
