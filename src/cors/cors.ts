import { z } from "zod";
import { setResponseHeader, type Answer, type RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { HTTP_METHODS } from "../routing/method.js";

export const corsSchema = z
  .strictObject({
    /** Exact origins such as `https://app.example.com`, or `*`. Empty: no cross-origin access. */
    allowOrigins: z.array(z.union([z.literal("*"), z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin)])).default([]),
    allowCredentials: z.boolean().default(false),
    allowMethods: z.array(z.enum(HTTP_METHODS)).default(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    allowHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(["authorization", "content-type", "x-api-key", "idempotency-key"]),
    exposeHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/)).default(["x-request-id"]),
    maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
  })
  .default({
    allowOrigins: [],
    allowCredentials: false,
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: ["authorization", "content-type", "x-api-key", "idempotency-key"],
    exposeHeaders: ["x-request-id"],
    maxAgeSeconds: 600,
  });
export type CorsPolicy = z.infer<typeof corsSchema>;

/**
 * CORS from an explicit allow-list. An origin not on it gets no CORS headers at all, which the
 * browser reads as a refusal; `*` never comes with credentials. A preflight (OPTIONS with Origin
 * and Access-Control-Request-Method) from an allowed origin is answered here (`ctx.answer`, 204)
 * and never reaches the upstream or the authentication controls (browsers send them without
 * credentials). Anything else with method OPTIONS is an ordinary request and goes through the
 * route's controls: shaped like a preflight, a request from an origin CORS does not allow (or
 * with CORS off) would otherwise be let through unauthenticated by a front end that forwards
 * whatever it was not told to refuse (the decision API).
 */
export function corsControl(policy: CorsPolicy): Control {
  const anyOrigin = policy.allowOrigins.includes("*");
  const origins: ReadonlySet<string> = new Set(policy.allowOrigins.filter((o) => o !== "*"));
  const enabled = anyOrigin || origins.size > 0;
  const preflightHeaders: [string, string][] = [
    ["access-control-allow-methods", policy.allowMethods.join(", ")],
    ["access-control-allow-headers", policy.allowHeaders.join(", ")],
    ["access-control-max-age", String(policy.maxAgeSeconds)],
  ];
  const allowed = (ctx: RequestContext, preflight: boolean): void => {
    if (preflight) for (const [name, value] of preflightHeaders) setResponseHeader(ctx, name, value);
    else setResponseHeader(ctx, "access-control-expose-headers", policy.exposeHeaders.join(", "));
  };
  return {
    name: "cors",
    stage: "cors",
    run(ctx) {
      const origin = ctx.headers.origin;
      if (origin === undefined || !enabled) return;
      setResponseHeader(ctx, "vary", "Origin");
      const listed = origins.has(origin);
      if (!listed && !anyOrigin) return;
      const preflight = ctx.method === "OPTIONS" && ctx.headers["access-control-request-method"] !== undefined;
      setResponseHeader(ctx, "access-control-allow-origin", listed ? origin : "*");
      if (listed && policy.allowCredentials) setResponseHeader(ctx, "access-control-allow-credentials", "true");
      allowed(ctx, preflight);
      if (preflight) ctx.answer = PREFLIGHT;
    },
  };
}

const PREFLIGHT: Answer = Object.freeze({ outcome: "preflight", status: 204, headers: {} });
