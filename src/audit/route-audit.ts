import { z } from "zod";
import type { RequestContext } from "../pipeline/context.js";
import { Problem } from "../problem/index.js";
import type { Control } from "../pipeline/control.js";
import { withHeadForGet } from "../routing/router.js";
import type { AuditStore } from "./store.js";

const MUTATING = ["POST", "PUT", "PATCH", "DELETE"] as const;

export const routeAuditSchema = z.union([
  z.literal(true).transform(() => ({ methods: [...MUTATING] as string[] })),
  z.strictObject({ methods: z.array(z.enum(["GET", "HEAD", "OPTIONS", ...MUTATING])).min(1).default([...MUTATING]) }),
]);
export type RouteAuditPolicy = z.infer<typeof routeAuditSchema>;

const VERBS: Readonly<Record<string, string>> = { POST: "create", PUT: "update", PATCH: "update", DELETE: "delete", GET: "read", HEAD: "read", OPTIONS: "options" };

/**
 * A record for each request of the listed methods on the route, written and committed before the
 * request goes on (so no answer to a mutation exists without its record; a trail that cannot be
 * written stops the request with 503 instead of letting it through unrecorded). The action is the
 * route's name and the method's verb (`orders.create`), the target the route and its named path
 * parameters, the actor the credential, the outcome `attempted`: the gateway knows the request
 * was let through, and the upstream, which knows what it did, records the result and the diff
 * itself (`POST /portcullis/v1/audit/records`). Never the body.
 */
export function routeAuditControl(policy: RouteAuditPolicy, routeName: string, store: AuditStore): Control {
  const methods = withHeadForGet(policy.methods);
  const actionBase = routeName.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return {
    name: "audit",
    stage: "audit",
    run(ctx: RequestContext) {
      const principal = ctx.principal;
      if (!methods.has(ctx.method) || principal === undefined) return;
      const params = Object.values(ctx.route?.params ?? {});
      return store
        .append(principal.tenantId, {
          actorType: principal.kind === "api_key" ? "key" : "user",
          actorId: principal.id,
          action: `${actionBase}.${VERBS[ctx.method] ?? "call"}`,
          targetType: routeName,
          ...(params.length === 0 ? {} : { targetId: params.join("/").slice(0, 200) }),
          outcome: "attempted",
          requestId: ctx.requestId,
          ip: ctx.clientAddress.text,
          ...(typeof ctx.headers["user-agent"] === "string" ? { userAgent: ctx.headers["user-agent"].slice(0, 512) } : {}),
        })
        .then(
          () => undefined,
          () => {
            throw new Problem("STORE_UNAVAILABLE", "The audit trail cannot be written right now; the request was not passed on.");
          },
        );
    },
  };
}
