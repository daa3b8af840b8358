import type { Answer, RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import type { Principal } from "../identity/principal.js";
import { prefixEndpoint } from "../routing/prefix.js";
import { jsonAnswer } from "../server/respond.js";
import { ACCESS_COOKIE, sessionCookie } from "../sessions/cookies.js";
import { CONNECTIONS_PATH, type Connections } from "./connections.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * OAuth connections through the gateway, in the "endpoints" stage, under /portcullis/v1/connections:
 * `GET /{provider}/authorize?return_to=URL` (a caller with `connections:write`: 302 to the
 * provider), `GET /{provider}/callback` (the provider's redirect: the state decides the tenant;
 * a credential, if the request carries one, must be the caller who started), `GET /` (list),
 * `GET /{id}/token` (`connections:read`: a usable access token) and `DELETE /{id}`
 * (`connections:write`: revoked at the provider, deleted here). The credential decides the tenant.
 * A user (a session or a JWT) lists, reads and deletes only the connections they made: a
 * provider token is that person's. An API key is one of the tenant's own services and reaches
 * every connection of its tenant.
 */
export function connectionEndpointsControl(deps: { connections: Connections; authenticate: readonly Control[]; caseSensitive: boolean; publicUrl: string }): Control {
  return prefixEndpoint("connections", CONNECTIONS_PATH, deps.caseSensitive, serve);

  async function authenticated(ctx: RequestContext, scope: string) {
    for (const control of deps.authenticate) await control.run(ctx);
    const principal = ctx.principal!;
    if (!principal.scopes.has(scope)) throw new Problem("FORBIDDEN", `This needs the ${scope} scope.`);
    return principal;
  }

  /** The subject whose connections a caller may reach; undefined for the tenant's services (API keys). */
  function ownerOf(principal: Principal): string | undefined {
    return principal.kind === "api_key" ? undefined : principal.id;
  }

  async function serve(ctx: RequestContext): Promise<Answer> {
    const [first, action, ...extra] = ctx.target.segments.slice(CONNECTIONS_PATH.length);
    if (extra.length > 0) throw new Problem("NOT_FOUND");
    const method = ctx.method;
    if (first === undefined) {
      if (method !== "GET") throw new Problem("METHOD_NOT_ALLOWED", "GET the list.");
      const principal = await authenticated(ctx, "connections:read");
      return jsonAnswer(200, { connections: await deps.connections.list(principal.tenantId, ownerOf(principal)) });
    }
    if (action === "callback") {
      if (method !== "GET") throw new Problem("METHOD_NOT_ALLOWED");
      // The browser comes back from the provider, usually without a credential of ours; if it has one, it is checked.
      const presents = ctx.headers.authorization !== undefined || ctx.headers["x-api-key"] !== undefined || sessionCookie(ctx, ACCESS_COOKIE) !== undefined;
      if (presents) for (const control of deps.authenticate) await control.run(ctx);
      const url = new URL(`${deps.publicUrl}${ctx.target.rawPath}${ctx.target.query === "" ? "" : `?${ctx.target.query}`}`);
      const { returnUrl } = await deps.connections.callback(first.toLowerCase(), url, presents ? ctx.principal : undefined);
      return redirect(returnUrl);
    }
    if (action === "authorize") {
      if (method !== "GET") throw new Problem("METHOD_NOT_ALLOWED");
      const principal = await authenticated(ctx, "connections:write");
      return redirect(await deps.connections.authorize(principal, first.toLowerCase(), new URLSearchParams(ctx.target.query).get("return_to")));
    }
    if (!UUID.test(first)) throw new Problem("NOT_FOUND");
    if (action === "token" && method === "GET") {
      const principal = await authenticated(ctx, "connections:read");
      return jsonAnswer(200, await deps.connections.token(principal.tenantId, first.toLowerCase(), ownerOf(principal)));
    }
    if (action === undefined && method === "DELETE") {
      const principal = await authenticated(ctx, "connections:write");
      return jsonAnswer(200, await deps.connections.delete(principal.tenantId, first.toLowerCase(), ownerOf(principal)));
    }
    throw new Problem(action === undefined || action === "token" ? "METHOD_NOT_ALLOWED" : "NOT_FOUND");
  }
}

function redirect(location: string): Answer {
  return { outcome: "served", status: 302, headers: { location, "cache-control": "no-store", "content-length": 0, "referrer-policy": "no-referrer" } };
}
