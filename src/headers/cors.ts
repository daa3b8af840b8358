import type { OutgoingHttpHeaders } from "node:http";
import { setResponseHeader, type RequestContext } from "../pipeline/context.js";
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
   * Adds the CORS response headers to the request's answer; returns true when the request was a
   * preflight, now answered with `own` (the gateway's headers) and the request id added.
   */
  handle(ctx: RequestContext, own: Readonly<OutgoingHttpHeaders>): boolean {
    const { req, res } = ctx;
    const origin = req.headers.origin;
    const preflight = req.method === "OPTIONS" && origin !== undefined && req.headers["access-control-request-method"] !== undefined;
    if (origin !== undefined && this.enabled) {
      setResponseHeader(ctx, "vary", "Origin");
      if (this.origins.has(origin)) {
        setResponseHeader(ctx, "access-control-allow-origin", origin);
        if (this.policy.allowCredentials) setResponseHeader(ctx, "access-control-allow-credentials", "true");
        this.allowed(ctx, preflight);
      } else if (this.anyOrigin) {
        setResponseHeader(ctx, "access-control-allow-origin", "*");
        this.allowed(ctx, preflight);
      }
    }
    if (preflight) {
      res.writeHead(204, { ...own, ...ctx.responseHeaders, "x-request-id": ctx.requestId });
      res.end();
    }
    return preflight;
  }

  private allowed(ctx: RequestContext, preflight: boolean): void {
    if (preflight) for (const [name, value] of this.preflightHeaders) setResponseHeader(ctx, name, value);
    else setResponseHeader(ctx, "access-control-expose-headers", this.policy.exposeHeaders.join(", "));
  }
}
