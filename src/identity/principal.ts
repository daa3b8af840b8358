/**
 * Who a request acts as, once authenticated. This is what the upstream is told, signed. Never
 * changed once made: caches (the identity assertion's among them) rely on that.
 */
export interface Principal {
  readonly kind: "api_key" | "jwt" | "session";
  readonly tenantId: string;
  /** The key id for an API key; the subject for a JWT or a gateway session. */
  readonly id: string;
  readonly scopes: ReadonlySet<string>;
  /** API keys only. */
  readonly env?: "live" | "test";
  /** JWTs and sessions. */
  readonly issuer?: string;
  /** JWTs and sessions: the verified payload, for limits keyed by a claim and step-up. Never forwarded as is. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * The caller as one string, for counting (rate limits, quotas): an API key by its id, unique
 * everywhere; a token's subject only within its tenant and issuer, so the same `sub` from two
 * issuers or in two tenants is two callers. Issuer and subject are escaped so that no pair can
 * spell another (`https://idp` + `8443:a` against `https://idp:8443` + `a`).
 */
export function callerId(principal: Principal): string {
  if (principal.kind === "api_key") return principal.id;
  if (principal.kind === "session") return `session:${principal.tenantId}:${encodeURIComponent(principal.id)}`;
  return `jwt:${principal.tenantId}:${encodeURIComponent(principal.issuer ?? "")}:${encodeURIComponent(principal.id)}`;
}
