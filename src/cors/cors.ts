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
 * browser reads as a refusal; `*` never comes with credentials. Preflights are answered here
 * (`ctx.answer`, 204) and never reach the upstream or the authentication controls (browsers send
 * them without credentials).
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
      const preflight = ctx.method === "OPTIONS" && origin !== undefined && ctx.headers["access-control-request-method"] !== undefined;
      if (origin !== undefined && enabled) {
        setResponseHeader(ctx, "vary", "Origin");
        if (origins.has(origin)) {
          setResponseHeader(ctx, "access-control-allow-origin", origin);
          if (policy.allowCredentials) setResponseHeader(ctx, "access-control-allow-credentials", "true");
          allowed(ctx, preflight);
        } else if (anyOrigin) {
          setResponseHeader(ctx, "access-control-allow-origin", "*");
          allowed(ctx, preflight);
        }
      }
      if (preflight) ctx.answer = PREFLIGHT;
    },
  };
}

const PREFLIGHT: Answer = Object.freeze({ outcome: "preflight", status: 204, headers: {} });
