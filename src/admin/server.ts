import type { OutgoingHttpHeaders } from "node:http";
import { ALL_HEALTH_ENDPOINTS, healthAnswer, type HealthSources } from "../health/health.js";
import { UNKNOWN_ADDRESS } from "../net/client-ip.js";
import type { Logger } from "../observability/logger.js";
import { createContext, type RequestContext } from "../pipeline/context.js";
import { Problem } from "../problem/index.js";
import { parseRequestTarget } from "../routing/request-target.js";
import { Router } from "../routing/router.js";
import type { AuditStore } from "../audit/store.js";
import { readJsonBody } from "../server/read-body.js";
import { requestSkeleton } from "../server/request-skeleton.js";
import { jsonAnswer } from "../server/respond.js";
import { openApiDocument } from "./openapi.js";
import type { AdminOperation } from "./operations.js";
import { adminTokenChecker } from "./token.js";

const MAX_BODY_BYTES = 64 * 1024;

export interface AdminHandlerDeps {
  /** Where tenant-scoped mutations are recorded. */
  audit?: AuditStore | undefined;
  /** The tenant a key belongs to: a key's own operations are recorded in its tenant's trail. */
  tenantOfKey?: ((keyId: string) => Promise<string>) | undefined;
  operations: readonly AdminOperation[];
  token: string;
  version: string;
  gatewayHeaders: Readonly<OutgoingHttpHeaders>;
  health: HealthSources;
  logger: Logger;
}

/** The admin API: its own port, a bearer admin token on every call but health. */
export function createAdminHandler(deps: AdminHandlerDeps) {
  const router = new Router<AdminOperation>(true);
  for (const op of deps.operations) router.add(op.path, [op.method], op);
  const isAdmin = adminTokenChecker(deps.token);
  const openApi = openApiDocument(deps.operations, deps.version);

  const run = async (ctx: RequestContext): Promise<void> => {
    ctx.target = parseRequestTarget(ctx.url);
    if (ctx.method === "GET" || ctx.method === "HEAD") {
      const health = healthAnswer(ctx.target.rawPath, deps.health, ALL_HEALTH_ENDPOINTS);
      if (health !== undefined) {
        ctx.answer = await health;
        return;
      }
    }
    if (!isAdmin(ctx.headers.authorization)) {
      deps.logger.warn({ req_id: ctx.requestId, event: "admin_auth_failed" }, "admin authentication failed");
      throw new Problem("UNAUTHENTICATED", "A valid admin token is required.");
    }
    if (ctx.method === "GET" && ctx.target.rawPath === "/admin/v1/openapi.json") {
      ctx.answer = jsonAnswer(200, openApi);
      return;
    }
    const match = router.match(ctx.method, ctx.target.segments);
    if (match === undefined) throw new Problem("NOT_FOUND", "No such admin operation.");
    const op = match.value;
    ctx.route = { name: op.operationId, params: match.params };
    const body = await readBody(ctx, op);
    const audited = op.method !== "GET" && op.audit !== "self";
    const action = `admin.${op.operationId.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    const record = (act: { tenantId: string; targetType: string; targetId: string; after?: unknown }, outcome: "attempted" | "success" | "failure") =>
      deps.audit?.append(act.tenantId, {
        actorType: "admin",
        actorId: "admin-token",
        action,
        targetType: act.targetType,
        targetId: act.targetId,
        outcome,
        requestId: ctx.requestId,
        ...(act.after === undefined ? {} : { diff: { after: act.after } }),
      });
    // The intent is on the record before the change is made: a process killed between the two
    // leaves an "attempted" record naming it, never a change that the trail does not show.
    let intent = audited ? await intendedAct(op, match.params, deps.tenantOfKey) : undefined;
    if (intent !== undefined) {
      try {
        await record(intent, "attempted");
      } catch (error) {
        // No tenant to record in (a foreign key to tenants): the operation answers 404 by itself.
        // Anything else (the store down) stops the change, which must not happen unrecorded.
        if ((error as { code?: string }).code !== "23503") throw error;
        intent = undefined;
      }
    }
    let result: unknown;
    try {
      result = await op.run(match.params, body, new URLSearchParams(ctx.target.query), ctx.requestId);
    } catch (error) {
      if (intent !== undefined) await record(intent, "failure")?.catch(() => undefined);
      throw error;
    }
    // A tenant's record of what the operator did to it, durable before the answer goes out.
    const done = audited ? auditedAct(op, match.params, op.audit === "without-result" ? undefined : result) : undefined;
    if (done !== undefined) await record(done, "success");
    deps.logger.info({ req_id: ctx.requestId, event: "admin_operation", operation: op.operationId, target: match.params.id }, "admin operation");
    ctx.answer = jsonAnswer(op.status, result);
  };

  return requestSkeleton({
    logger: deps.logger,
    ownHeaders: deps.gatewayHeaders,
    outcome: "served",
    // No control of the admin API counts or lists clients by their address.
    context: (req, requestId) =>
      createContext({ requestId, method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, clientAddress: UNKNOWN_ADDRESS, body: req }),
    handle: run,
  });
}

const MAX_DIFF_BYTES = 8 * 1024;

/** An operation on a tenant's path: that tenant, and the path's other parameter as the target (the tenant itself when none). */
function tenantPathTarget(op: AdminOperation, params: Record<string, string>): { tenantId: string; targetType: string; targetId: string } | undefined {
  if (!op.path.startsWith("/admin/v1/tenants/:id") || params.id === undefined) return undefined;
  const target = Object.entries(params).find(([name]) => name !== "id");
  return { tenantId: params.id, targetType: target?.[0] ?? "tenant", targetId: target?.[1] ?? params.id };
}

/**
 * Where an admin mutation will be recorded and what it acts on, known before it runs: the tenant
 * named in the path, or a key's own tenant. Undefined for a tenant's creation, whose chain cannot
 * exist before the tenant does (its record follows the change).
 */
async function intendedAct(op: AdminOperation, params: Record<string, string>, tenantOfKey: ((keyId: string) => Promise<string>) | undefined): Promise<{ tenantId: string; targetType: string; targetId: string } | undefined> {
  const inTenant = tenantPathTarget(op, params);
  if (inTenant !== undefined) return inTenant;
  if (op.path.startsWith("/admin/v1/keys/:id") && params.id !== undefined && tenantOfKey !== undefined) {
    // An unknown key has no tenant to record in; the operation answers 404 by itself.
    const tenantId = await tenantOfKey(params.id).catch(() => undefined);
    return tenantId === undefined ? undefined : { tenantId, targetType: "key", targetId: params.id };
  }
  return undefined;
}

/**
 * Which tenant's chain an admin mutation goes in, what it acted on, and its result as the
 * "after" of the diff: never an issued key (shown once, to the operator alone), nor a large answer.
 */
function auditedAct(op: AdminOperation, params: Record<string, string>, result: unknown): { tenantId: string; targetType: string; targetId: string; after: unknown } | undefined {
  const answer = (result ?? {}) as Record<string, unknown>;
  const rest = Object.fromEntries(Object.entries(answer).filter(([name]) => name !== "key"));
  const after = result !== undefined && JSON.stringify(rest).length <= MAX_DIFF_BYTES ? rest : undefined;
  if (op.operationId === "createTenant") return { tenantId: String(answer.id), targetType: "tenant", targetId: String(answer.id), after };
  const inTenant = tenantPathTarget(op, params);
  if (inTenant !== undefined) return { ...inTenant, after };
  // A key's own operations (rotate, revoke) are addressed by the key and answer with its tenant.
  if (op.path.startsWith("/admin/v1/keys/:id") && typeof answer.tenant_id === "string") return { tenantId: answer.tenant_id, targetType: "key", targetId: params.id!, after };
  return undefined;
}

async function readBody(ctx: RequestContext, op: AdminOperation): Promise<unknown> {
  const raw = await readJsonBody(ctx, MAX_BODY_BYTES);
  if (op.body === undefined) {
    if (raw !== undefined) throw new Problem("BAD_REQUEST", "This operation takes no body.");
    return undefined;
  }
  const parsed = op.body.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new Problem("VALIDATION_FAILED", "The request body is not valid.", {
      errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  return parsed.data;
}
