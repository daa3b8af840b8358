import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { CorsPolicy } from "../policy/schema.js";

/**
 * CORS from an explicit allow-list. An origin not on it gets no CORS headers at all, which the
 * browser reads as a refusal; `*` never comes with credentials. Preflights are answered here and
 * never reach the upstream or the authentication controls (browsers send them without credentials).
 */
export class Cors {
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  private readonly preflightHeaders: [string, string][];

  constructor(private readonly policy: CorsPolicy) {
    this.anyOrigin = policy.allowOrigins.includes("*");
    this.origins = new Set(policy.allowOrigins.filter((o) => o !== "*"));
    this.preflightHeaders = [
      ["access-control-allow-methods", policy.allowMethods.join(", ")],
      ["access-control-allow-headers", policy.allowHeaders.join(", ")],
      ["access-control-max-age", String(policy.maxAgeSeconds)],
    ];
  }

  get enabled(): boolean {
    return this.anyOrigin || this.origins.size > 0;
  }

  /**
   * Sets the CORS response headers; returns true when the request was a preflight, now answered
   * with `own` (the gateway's headers) and the request id added.
   */
  handle(req: IncomingMessage, res: ServerResponse, own: Readonly<OutgoingHttpHeaders>, requestId: string): boolean {
    const origin = req.headers.origin;
    const preflight = req.method === "OPTIONS" && origin !== undefined && req.headers["access-control-request-method"] !== undefined;
    if (origin !== undefined && this.enabled) {
      res.setHeader("vary", "Origin");
      if (this.origins.has(origin)) {
        res.setHeader("access-control-allow-origin", origin);
        if (this.policy.allowCredentials) res.setHeader("access-control-allow-credentials", "true");
        this.allowed(res, preflight);
      } else if (this.anyOrigin) {
        res.setHeader("access-control-allow-origin", "*");
        this.allowed(res, preflight);
      }
    }
    if (preflight) {
      res.writeHead(204, { ...own, "x-request-id": requestId });
      res.end();
    }
    return preflight;
  }

  private allowed(res: ServerResponse, preflight: boolean): void {
    if (preflight) for (const [name, value] of this.preflightHeaders) res.setHeader(name, value);
    else res.setHeader("access-control-expose-headers", this.policy.exposeHeaders.join(", "));
  }
}
