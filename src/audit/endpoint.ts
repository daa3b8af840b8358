import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { prefixEndpoint } from "../routing/prefix.js";
import { readJsonBody, validBody } from "../server/read-body.js";
import { jsonAnswer } from "../server/respond.js";
import { auditInputSchema, type AuditStore } from "./store.js";

export const AUDIT_PATH = ["portcullis", "v1", "audit", "records"] as const;

/**
 * `POST /portcullis/v1/audit/records` for the upstream, which alone knows a mutation's before
 * and after: a key scoped `audit:write` appends to its own tenant's trail, whatever the body
 * says (the body names no tenant). The record is durable before the 201 goes out.
 */
export function auditEndpointControl(deps: { audit: AuditStore; authenticate: readonly Control[]; caseSensitive: boolean }): Control {
  return prefixEndpoint("audit", AUDIT_PATH, deps.caseSensitive, async (ctx) => {
    if (ctx.target.segments.length !== AUDIT_PATH.length) throw new Problem("NOT_FOUND");
    if (ctx.method !== "POST") throw new Problem("METHOD_NOT_ALLOWED", "POST a record.");
    for (const control of deps.authenticate) await control.run(ctx);
    const principal = ctx.principal!;
    if (!principal.scopes.has("audit:write")) throw new Problem("FORBIDDEN", "This needs the audit:write scope.");
    const input = validBody(auditInputSchema, (await readJsonBody(ctx, 64 * 1024)) ?? {});
    const appended = await deps.audit.append(principal.tenantId, { ...input, requestId: input.requestId ?? ctx.requestId });
    return jsonAnswer(201, appended);
  });
}
