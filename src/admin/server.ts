import { randomUUID } from "node:crypto";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { ALL_HEALTH_ENDPOINTS, serveHealth, type HealthSources } from "../health/health.js";
import type { Logger } from "../observability/logger.js";
import { Problem, sendProblem, toProblem } from "../problem/index.js";
import { parseRequestTarget } from "../routing/request-target.js";
import { Router } from "../routing/router.js";
import { readJsonBody } from "../server/read-body.js";
import { sendJson } from "../server/respond.js";
import { errorType } from "../util/error-type.js";
import { openApiDocument } from "./openapi.js";
import type { AdminOperation } from "./operations.js";
import { adminTokenChecker } from "./token.js";

const MAX_BODY_BYTES = 64 * 1024;

export interface AdminHandlerDeps {
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

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const headers = { ...deps.gatewayHeaders, "x-request-id": requestId };
    let operationId = "(none)";
    try {
      const target = parseRequestTarget(req.url ?? "");
      if ((req.method === "GET" || req.method === "HEAD") && (await serveHealth(target.rawPath, req, res, deps.health, headers, ALL_HEALTH_ENDPOINTS))) return;
      if (!isAdmin(req.headers.authorization)) {
        deps.logger.warn({ req_id: requestId, event: "admin_auth_failed" }, "admin authentication failed");
        throw new Problem("UNAUTHENTICATED", "A valid admin token is required.");
      }
      if (req.method === "GET" && target.rawPath === "/admin/v1/openapi.json") {
        sendJson(res, 200, openApi, headers);
        return;
      }
      const match = router.match(req.method ?? "", target.segments);
      if (match === undefined) throw new Problem("NOT_FOUND", "No such admin operation.");
      const op = match.value;
      operationId = op.operationId;
      const body = await readBody(req, op);
      const result = await op.run(match.params, body);
      deps.logger.info({ req_id: requestId, event: "admin_operation", operation: operationId, target: match.params.id }, "admin operation");
      sendJson(res, op.status, result, headers);
    } catch (error) {
      const problem = toProblem(error);
      if (problem.code === "INTERNAL") {
        deps.logger.error({ req_id: requestId, operation: operationId, err_type: errorType(error) }, "internal error");
      }
      sendProblem(res, problem, requestId, deps.gatewayHeaders);
    }
  };
}

async function readBody(req: IncomingMessage, op: AdminOperation): Promise<unknown> {
  const raw = await readJsonBody(req, MAX_BODY_BYTES);
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
