/**
 * Secrets the gateway keeps for itself in a tenant's vault (outbound webhook signing secrets,
 * OAuth tokens of connections) share the tenant's DEKs with the tenant's own, but never its HTTP
 * endpoint: a key with `vault:read` would otherwise read a `whsec_…` shown "once", and one with
 * `vault:write` replace it. Each feature names its secrets under one of these first segments (and
 * only ever reads names it generated and stored itself); the endpoint lists, reads, writes and
 * deletes none of them.
 */
export const GATEWAY_SECRET_NAMESPACES: readonly string[] = ["connections", "webhooks", "portcullis"];

/** Whether a secret of this name is the gateway's own. */
export function isGatewaySecret(name: string): boolean {
  return GATEWAY_SECRET_NAMESPACES.includes(name.split("/", 1)[0]!);
}
