/**
 * Who a request acts as, once authenticated. This is what the upstream is told, signed. Never
 * changed once made: caches (the identity assertion's among them) rely on that.
 */
export interface Principal {
  readonly kind: "api_key" | "jwt";
  readonly tenantId: string;
  /** The key id for an API key; the `sub` claim for a JWT. */
  readonly id: string;
  readonly scopes: ReadonlySet<string>;
  /** API keys only. */
  readonly env?: "live" | "test";
  /** JWTs only. */
  readonly issuer?: string;
  /** JWTs only: the verified payload, for limits keyed by a claim. Never forwarded as is. */
  readonly claims?: Readonly<Record<string, unknown>>;
}
