import type { Logger } from "../observability/logger.js";
import type { Answer, RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { isProblem, Problem } from "../problem/index.js";
import { prefixEndpoint } from "../routing/prefix.js";
import { readBody } from "../server/read-body.js";
import { jsonAnswer } from "../server/respond.js";
import type { AuditStore } from "../audit/store.js";
import type { SecurityEvents } from "../events/security-events.js";
import { isGatewaySecret } from "./namespaces.js";
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
 * The vault for upstream services, through the gateway: `/portcullis/v1/vault/secrets/{name}`,
 * served in the pipeline's "endpoints" stage (after address lists and blocks, before routes). The
 * caller's credential decides the tenant, so a service reaches only its own tenant's secrets;
 * `vault:read` lists and reads, `vault:write` writes and deletes. Every access is logged as an
 * event (who, which secret, what, how it ended), never with the value. The prefix matches as
 * routes do (case-insensitively unless the policy says otherwise), so `/Portcullis/v1/…` cannot
 * slip past it to a catch-all route and the upstream.
 */
export function vaultEndpointControl(deps: { vault: Vault; authenticate: readonly Control[]; logger: Logger; caseSensitive: boolean; audit?: AuditStore | undefined; events?: SecurityEvents | undefined }): Control {
  return prefixEndpoint("vault", VAULT_PATH, deps.caseSensitive, serve);

  async function serve(ctx: RequestContext): Promise<Answer> {
    const { segments } = ctx.target;
    const name = segments.slice(VAULT_PATH.length).join("/");
    const action: Action | undefined = name === "" ? (ctx.method === "GET" ? "list" : undefined) : ACTIONS.get(ctx.method);
    if (action === undefined) throw new Problem("METHOD_NOT_ALLOWED", "Use GET, PUT or DELETE on a secret, GET on the collection.");
    for (const control of deps.authenticate) await control.run(ctx);
    const principal = ctx.principal!;
    let outcome = "denied";
    try {
      const scope = action === "list" || action === "read" ? "vault:read" : "vault:write";
      if (!principal.scopes.has(scope)) throw new Problem("FORBIDDEN", `This needs the ${scope} scope.`);
      // The gateway's own secrets do not exist as far as this endpoint is concerned: 404, as for a
      // name never written, so that a caller cannot even learn which endpoints or connections exist.
      if (name !== "" && isGatewaySecret(name)) {
        outcome = "reserved";
        deps.events?.emit({ type: "vault_reserved_access", severity: "high", client: ctx.clientAddress.text, tenant_id: principal.tenantId, detail: { action, principal: principal.id } });
        throw new Problem("NOT_FOUND", "No such secret.");
      }
      outcome = "error";
      const answer = await perform(deps.vault, action, principal.tenantId, name, ctx);
      outcome = "ok";
      // Who read or changed which secret, never its value; on the record before the answer goes out.
      await deps.audit?.append(principal.tenantId, {
        actorType: principal.kind === "api_key" ? "key" : "user",
        actorId: principal.id,
        action: `vault.${action}`,
        targetType: "secret",
        ...(name === "" ? {} : { targetId: name }),
        requestId: ctx.requestId,
      });
      return answer;
    } catch (error) {
      if (isProblem(error) && error.code === "NOT_FOUND" && outcome !== "reserved") outcome = "not_found";
      throw error;
    } finally {
      deps.logger.info(
        { event: "vault_access", req_id: ctx.requestId, tenant_id: principal.tenantId, principal: principal.id, action, entry: name, outcome },
        "vault access",
      );
    }
  }
}

async function perform(vault: Vault, action: Action, tenantId: string, name: string, ctx: RequestContext): Promise<Answer> {
  switch (action) {
    case "list":
      return jsonAnswer(200, { secrets: (await vault.list(tenantId)).filter((s) => !isGatewaySecret(s.name)).map((s) => ({ ...s, created_at: s.created_at.toISOString(), updated_at: s.updated_at.toISOString() })) });
    case "read": {
      const value = await vault.get(tenantId, name);
      return { outcome: "served", status: 200, headers: { "content-type": "application/octet-stream", "content-length": value.length, "cache-control": "no-store" }, body: value };
    }
    case "write": {
      const purpose = new URLSearchParams(ctx.target.query).get("purpose") ?? "secret";
      const value = await readBody(ctx, MAX_SECRET_BYTES);
      const info = await vault.put(tenantId, name, value, purpose);
      value.fill(0);
      return jsonAnswer(200, { ...info, created_at: info.created_at.toISOString(), updated_at: info.updated_at.toISOString() });
    }
    case "delete":
      if (!(await vault.delete(tenantId, name))) throw new Problem("NOT_FOUND", "No such secret.");
      return { outcome: "served", status: 204, headers: { "cache-control": "no-store" } };
  }
}
