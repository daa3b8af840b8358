import type { Answer, RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { prefixEndpoint } from "../routing/prefix.js";
import { readJsonBody, validBody } from "../server/read-body.js";
import { jsonAnswer } from "../server/respond.js";
import { endpointInputSchema, messageInputSchema, type WebhookService } from "./service.js";

export const WEBHOOKS_PATH = ["portcullis", "v1", "webhooks"] as const;
const MAX_BODY = 4 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Outbound webhooks for upstream services, through the gateway, in the "endpoints" stage:
 * `/portcullis/v1/webhooks/endpoints[/{id}[/rotate]]` and `/portcullis/v1/webhooks/messages`.
 * The caller's credential decides the tenant whatever the body says, so a service registers,
 * reads and sends only for its own tenant; `webhooks:write` for all of it (`webhooks:read` is
 * enough to read endpoints). Secrets are shown once, when made.
 */
export function webhookEndpointsControl(deps: { webhooks: WebhookService; authenticate: readonly Control[]; caseSensitive: boolean }): Control {
  return prefixEndpoint("webhooks", WEBHOOKS_PATH, deps.caseSensitive, serve);

  async function serve(ctx: RequestContext): Promise<Answer> {
    const rest = ctx.target.segments.slice(WEBHOOKS_PATH.length).map((s) => s.toLowerCase());
    const reading = ctx.method === "GET";
    for (const control of deps.authenticate) await control.run(ctx);
    const { scopes, tenantId } = ctx.principal!;
    if (!scopes.has("webhooks:write") && !(reading && scopes.has("webhooks:read"))) throw new Problem("FORBIDDEN", `This needs the ${reading ? "webhooks:read or " : ""}webhooks:write scope.`);
    const { webhooks } = deps;
    const [collection, id, action, ...extra] = rest;
    if (extra.length > 0 || (id !== undefined && !UUID.test(id))) throw new Problem("NOT_FOUND");
    if (collection === "messages" && id === undefined) {
      if (ctx.method !== "POST") throw new Problem("METHOD_NOT_ALLOWED", "POST a message.");
      return jsonAnswer(202, await webhooks.send(tenantId, validBody(messageInputSchema, (await readJsonBody(ctx, MAX_BODY)) ?? {})));
    }
    if (collection !== "endpoints") throw new Problem("NOT_FOUND");
    if (id === undefined) {
      if (ctx.method === "GET") return jsonAnswer(200, { endpoints: await webhooks.listEndpoints(tenantId) });
      if (ctx.method === "POST") return jsonAnswer(201, await webhooks.createEndpoint(tenantId, validBody(endpointInputSchema, (await readJsonBody(ctx, MAX_BODY)) ?? {})), "application/json");
      throw new Problem("METHOD_NOT_ALLOWED", "GET or POST the collection.");
    }
    if (action === "rotate") {
      if (ctx.method !== "POST") throw new Problem("METHOD_NOT_ALLOWED", "POST to rotate.");
      return jsonAnswer(200, await webhooks.rotateSecret(tenantId, id));
    }
    if (action !== undefined) throw new Problem("NOT_FOUND");
    if (ctx.method === "GET") return jsonAnswer(200, await webhooks.endpoint(tenantId, id));
    if (ctx.method === "DELETE") {
      await webhooks.deleteEndpoint(tenantId, id);
      return { outcome: "served", status: 204, headers: { "cache-control": "no-store" } };
    }
    throw new Problem("METHOD_NOT_ALLOWED", "GET or DELETE an endpoint.");
  }
}
