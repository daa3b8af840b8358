/** Who a request acts as, once authenticated. This is what the upstream is told, signed. */
export interface Principal {
  kind: "api_key" | "jwt";
  tenantId: string;
  /** The key id for an API key; the `sub` claim for a JWT. */
  id: string;
  scopes: ReadonlySet<string>;
  /** API keys only. */
  env?: "live" | "test";
  /** JWTs only. */
  issuer?: string;
  /** JWTs only: the verified payload, for limits keyed by a claim. Never forwarded as is. */
  claims?: Readonly<Record<string, unknown>>;
}
