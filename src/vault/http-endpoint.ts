import type { OutgoingHttpHeaders } from "node:http";
import type { Logger } from "../observability/logger.js";
import type { Control, RequestContext } from "../pipeline/context.js";
import { isProblem, Problem } from "../problem/index.js";
import { readBody } from "../server/read-body.js";
import { sendJson } from "../server/respond.js";
import type { Vault } from "./vault.js";

export const VAULT_PATH = ["portcullis", "v1", "vault", "secrets"] as const;
const MAX_SECRET_BYTES = 64 * 1024;

type Action = "list" | "read" | "write" | "delete";
const ACTIONS = new Map<string, Action>([
  ["GET", "read"],
  ["PUT", "write"],
  ["DELETE", "delete"],
]);

/**
 * The vault for upstream services, through the gateway: `/portcullis/v1/vault/secrets/{name}`.
 * The caller's credential decides the tenant, so a service reaches only its own tenant's secrets;
 * `vault:read` lists and reads, `vault:write` writes and deletes. Every access is logged as an
 * event (who, which secret, what, how it ended), never with the value.
 */
export function vaultEndpoint(deps: { vault: Vault; authenticate: Control; logger: Logger }) {
  return (ctx: RequestContext, headers: OutgoingHttpHeaders): boolean | Promise<boolean> => {
    const { segments } = ctx.target;
    // Every proxied request passes here: the answer for other paths is synchronous.
    if (!VAULT_PATH.every((part, i) => segments[i] === part)) return false;
    return serve(ctx, headers).then(() => true);
  };

  async function serve(ctx: RequestContext, headers: OutgoingHttpHeaders): Promise<void> {
    const { segments } = ctx.target;
    const name = segments.slice(VAULT_PATH.length).join("/");
    const method = ctx.req.method ?? "";
    const action: Action | undefined = name === "" ? (method === "GET" ? "list" : undefined) : ACTIONS.get(method);
    if (action === undefined) throw new Problem("METHOD_NOT_ALLOWED", "Use GET, PUT or DELETE on a secret, GET on the collection.");
    await deps.authenticate(ctx);
    const principal = ctx.principal!;
    let outcome = "denied";
    try {
      const scope = action === "list" || action === "read" ? "vault:read" : "vault:write";
      if (!principal.scopes.has(scope)) throw new Problem("FORBIDDEN", `This needs the ${scope} scope.`);
      outcome = "error";
      await perform(deps.vault, action, principal.tenantId, name, ctx, headers);
      outcome = "ok";
    } catch (error) {
      if (isProblem(error) && error.code === "NOT_FOUND") outcome = "not_found";
      throw error;
    } finally {
      deps.logger.info(
        { event: "vault_access", req_id: ctx.requestId, tenant_id: principal.tenantId, principal: principal.id, action, secret: name, outcome },
        "vault access",
      );
    }
  }
}

async function perform(vault: Vault, action: Action, tenantId: string, name: string, ctx: RequestContext, headers: OutgoingHttpHeaders) {
  const { res } = ctx;
  const own = { ...headers, "x-request-id": ctx.requestId, "cache-control": "no-store" };
  switch (action) {
    case "list":
      sendJson(res, 200, { secrets: (await vault.list(tenantId)).map((s) => ({ ...s, created_at: s.created_at.toISOString(), updated_at: s.updated_at.toISOString() })) }, own);
      return;
    case "read": {
      const value = await vault.get(tenantId, name);
      res.writeHead(200, { ...own, "content-type": "application/octet-stream", "content-length": value.length });
      res.end(value);
      return;
    }
    case "write": {
      const purpose = new URLSearchParams(ctx.target.query).get("purpose") ?? "secret";
      const value = await readBody(ctx.req, MAX_SECRET_BYTES);
      const info = await vault.put(tenantId, name, value, purpose);
      value.fill(0);
      sendJson(res, 200, { ...info, created_at: info.created_at.toISOString(), updated_at: info.updated_at.toISOString() }, own);
      return;
    }
    case "delete":
      if (!(await vault.delete(tenantId, name))) throw new Problem("NOT_FOUND", "No such secret.");
      res.writeHead(204, own);
      res.end();
  }
}
