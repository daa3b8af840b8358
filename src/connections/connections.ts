import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import * as oauth from "oauth4webapi";
import type { Egress } from "../egress/egress.js";
import type { SecurityEvents } from "../events/security-events.js";
import type { Principal } from "../identity/principal.js";
import type { Logger } from "../observability/logger.js";
import { Problem } from "../problem/index.js";
import { isAllowedReturnUrl } from "../return-url/return-url.js";
import type { Vault } from "../vault/vault.js";
import type { ConnectionsPolicy, ProviderPolicy } from "./schema.js";
import type { Connection, ConnectionStore } from "./store.js";

export const CONNECTIONS_PATH = ["portcullis", "v1", "connections"] as const;
const REFRESH_LEASE_SECONDS = 30;
const REFRESH_WAIT_MS = 10_000;

/** What the vault keeps for a connection, as one JSON value. */
interface StoredTokens {
  access_token: string;
  token_type: string;
  refresh_token?: string | undefined;
  /** Milliseconds since the epoch; absent when the provider did not say. */
  expires_at?: number | undefined;
  scope?: string | undefined;
}

interface ResolvedProvider {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
  options: { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]?: boolean };
  redirectUri: string;
  scopes: readonly string[];
}

export type StateRejection = "forged" | "expired_or_used" | "provider_mismatch" | "caller_mismatch";

const tokensName = (id: string) => `connections/${id}/tokens`;

/**
 * OAuth connections on oauth4webapi: a tenant's caller authorizes a third-party account; the
 * gateway keeps its tokens in the vault, hands the upstream a fresh access token on request and
 * revokes them at the provider when the connection is deleted.
 *
 * The `state` is `base64url(tenant, id, expiry) . HMAC`: the MAC makes it unforgeable, the expiry
 * short-lived, and the id names a row (tenant, subject, PKCE verifier, return URL) that the
 * callback deletes as it reads it, so it is good once. PKCE is S256, always. The provider and the
 * caller named in the state must be the ones the callback arrives with.
 */
export class Connections {
  private readonly providers = new Map<string, Promise<ResolvedProvider>>();
  private readonly returnOrigins: ReadonlySet<string>;

  constructor(
    private readonly policy: ConnectionsPolicy,
    private readonly store: ConnectionStore,
    private readonly vault: Vault,
    private readonly egress: Egress,
    private readonly stateKey: Buffer,
    private readonly events: Pick<SecurityEvents, "emit">,
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.returnOrigins = new Set(policy.returnOrigins);
    // A provider whose secret is missing would fail every flow: it stops the start instead, naming the variable.
    for (const [name, provider] of Object.entries(policy.providers)) {
      if (!env[provider.clientSecretEnv]) throw new Error(`the client secret of connection provider "${name}" (${provider.clientSecretEnv}) is not set`);
    }
  }

  /** The provider's authorization URL for this caller, with a fresh state and PKCE challenge. */
  async authorize(principal: Principal, providerName: string, returnTo: string | null): Promise<string> {
    const provider = await this.provider(providerName);
    if (returnTo === null || !isAllowedReturnUrl(returnTo, this.returnOrigins, false)) throw new Problem("INVALID_RETURN_URL", "return_to must be a URL on one of connections.returnOrigins.");
    const verifier = oauth.generateRandomCodeVerifier();
    const id = randomBytes(24).toString("base64url");
    const expiresAt = Date.now() + this.policy.stateTtlSeconds * 1000;
    await this.store.savePending(principal.tenantId, id, { provider: providerName, subject: principal.id, code_verifier: verifier, return_url: returnTo }, new Date(expiresAt));
    const url = new URL(provider.as.authorization_endpoint!);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", provider.client.client_id);
    url.searchParams.set("redirect_uri", provider.redirectUri);
    if (provider.scopes.length > 0) url.searchParams.set("scope", provider.scopes.join(" "));
    url.searchParams.set("state", this.signState(principal.tenantId, id, expiresAt));
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
    return url.href;
  }

  /**
   * The provider's redirect back: state checked and spent, code exchanged with the verifier,
   * tokens kept in the vault under the state's tenant. `caller` is whoever the callback request
   * authenticated as, if it carried a credential: it must be the one who started.
   */
  async callback(providerName: string, callbackUrl: URL, caller: Principal | undefined): Promise<{ returnUrl: string; connectionId: string }> {
    const stateParam = callbackUrl.searchParams.get("state") ?? "";
    const state = this.verifyState(stateParam);
    if (state === undefined) return this.rejectState("forged", providerName);
    const pending = await this.store.takePending(state.tenantId, state.id);
    if (pending === undefined) return this.rejectState("expired_or_used", providerName, state.tenantId);
    if (pending.provider !== providerName) return this.rejectState("provider_mismatch", providerName, state.tenantId);
    if (caller !== undefined && (caller.tenantId !== state.tenantId || caller.id !== pending.subject)) return this.rejectState("caller_mismatch", providerName, state.tenantId);
    const provider = await this.provider(providerName);
    let tokens: oauth.TokenEndpointResponse;
    try {
      const params = oauth.validateAuthResponse(provider.as, provider.client, callbackUrl, stateParam);
      const response = await oauth.authorizationCodeGrantRequest(provider.as, provider.client, provider.auth, params, provider.redirectUri, pending.code_verifier, provider.options);
      tokens = await oauth.processAuthorizationCodeResponse(provider.as, provider.client, response);
    } catch (error) {
      throw this.exchangeFailed(error, providerName, state.tenantId);
    }
    const id = randomUUID();
    const stored = storedTokens(tokens);
    await this.vault.put(state.tenantId, tokensName(id), JSON.stringify(stored), "oauth.token");
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    await this.store.create(state.tenantId, {
      id,
      provider: providerName,
      subject: pending.subject,
      account: typeof claims?.sub === "string" ? claims.sub : null,
      scopes: (tokens.scope ?? provider.scopes.join(" ")).split(" ").filter((s) => s !== ""),
      expires_at: stored.expires_at === undefined ? null : new Date(stored.expires_at),
    });
    const back = new URL(pending.return_url);
    back.searchParams.set("connection_id", id);
    return { returnUrl: back.href, connectionId: id };
  }

  /**
   * A usable access token: refreshed first when it is near expiry, by one caller at a time across
   * nodes. With `subject`, only a connection that subject made (a user reaches their own only).
   */
  async token(tenantId: string, id: string, subject?: string): Promise<{ access_token: string; token_type: string; expires_at: string | null }> {
    const connection = await this.owned(tenantId, id, subject);
    let tokens = await this.tokens(tenantId, id);
    if (this.stale(tokens)) tokens = await this.refresh(tenantId, connection, tokens);
    return { access_token: tokens.access_token, token_type: tokens.token_type, expires_at: tokens.expires_at === undefined ? null : new Date(tokens.expires_at).toISOString() };
  }

  async list(tenantId: string, subject?: string): Promise<Connection[]> {
    const all = await this.store.list(tenantId);
    return subject === undefined ? all : all.filter((connection) => connection.subject === subject);
  }

  /** Revokes the tokens at the provider (RFC 7009), where it offers revocation, then deletes them and the connection. */
  async delete(tenantId: string, id: string, subject?: string): Promise<{ revoked: boolean }> {
    const connection = await this.owned(tenantId, id, subject);
    let revoked = false;
    const tokens = await this.tokens(tenantId, id).catch(() => undefined);
    const provider = await this.provider(connection.provider).catch(() => undefined);
    if (tokens !== undefined && provider?.as.revocation_endpoint !== undefined) {
      revoked = true;
      for (const [token, hint] of [[tokens.refresh_token, "refresh_token"], [tokens.access_token, "access_token"]] as const) {
        if (token === undefined) continue;
        try {
          await oauth.processRevocationResponse(await oauth.revocationRequest(provider.as, provider.client, provider.auth, token, { ...provider.options, additionalParameters: { token_type_hint: hint } }));
        } catch (error) {
          revoked = false;
          this.logger.warn({ tenant_id: tenantId, connection_id: id, provider: connection.provider, error: (error as Error).name }, "connection: the provider did not confirm a revocation");
        }
      }
    }
    await this.vault.delete(tenantId, tokensName(id));
    await this.store.delete(tenantId, id);
    return { revoked };
  }

  /** Another subject's connection answers as an unknown one does: its existence is not for them to learn. */
  private async owned(tenantId: string, id: string, subject: string | undefined) {
    const connection = await this.store.get(tenantId, id);
    if (connection === undefined || (subject !== undefined && connection.subject !== subject)) throw new Problem("NOT_FOUND", "No such connection.");
    return connection;
  }

  private stale(tokens: StoredTokens): boolean {
    return tokens.expires_at !== undefined && tokens.expires_at - this.policy.refreshSkewSeconds * 1000 <= Date.now();
  }

  private async refresh(tenantId: string, connection: Connection, current: StoredTokens): Promise<StoredTokens> {
    if (current.refresh_token === undefined) return current;
    if (!(await this.store.leaseRefresh(tenantId, connection.id, REFRESH_LEASE_SECONDS))) {
      // Another caller (here or on another node) is refreshing: wait for its result rather than spend the refresh token twice.
      const until = Date.now() + REFRESH_WAIT_MS;
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const now = await this.store.get(tenantId, connection.id);
        if (now === undefined) throw new Problem("NOT_FOUND", "No such connection.");
        if (!now.refreshing) return this.tokens(tenantId, connection.id);
      }
      throw new Problem("UPSTREAM_TIMEOUT", "The connection's token is being refreshed; try again.");
    }
    try {
      // Read again under the lease: the previous holder may have refreshed a moment ago.
      const latest = await this.tokens(tenantId, connection.id);
      if (!this.stale(latest) || latest.refresh_token === undefined) {
        await this.store.releaseLease(tenantId, connection.id);
        return latest;
      }
      const provider = await this.provider(connection.provider);
      let answer: oauth.TokenEndpointResponse;
      try {
        answer = await oauth.processRefreshTokenResponse(provider.as, provider.client, await oauth.refreshTokenGrantRequest(provider.as, provider.client, provider.auth, latest.refresh_token, provider.options));
      } catch (error) {
        throw this.exchangeFailed(error, connection.provider, tenantId);
      }
      // A provider that rotates refresh tokens sends a new one; one that does not leaves the old one good.
      const next = { ...storedTokens(answer), refresh_token: answer.refresh_token ?? latest.refresh_token };
      await this.vault.put(tenantId, tokensName(connection.id), JSON.stringify(next), "oauth.token");
      await this.store.refreshed(tenantId, connection.id, next.expires_at === undefined ? null : new Date(next.expires_at));
      return next;
    } catch (error) {
      await this.store.releaseLease(tenantId, connection.id).catch(() => undefined);
      throw error;
    }
  }

  private async tokens(tenantId: string, id: string): Promise<StoredTokens> {
    return JSON.parse(await this.vault.getString(tenantId, tokensName(id))) as StoredTokens;
  }

  private provider(name: string): Promise<ResolvedProvider> {
    const policy = Object.hasOwn(this.policy.providers, name) ? this.policy.providers[name] : undefined;
    if (policy === undefined) return Promise.reject(new Problem("NOT_FOUND", "No such connection provider."));
    let resolved = this.providers.get(name);
    if (resolved === undefined) {
      resolved = this.resolve(name, policy);
      // A failed discovery is tried again next time, not remembered.
      resolved.catch(() => this.providers.delete(name));
      this.providers.set(name, resolved);
    }
    return resolved;
  }

  private async resolve(name: string, policy: ProviderPolicy): Promise<ResolvedProvider> {
    const options = {
      // Every call to the provider goes through the egress: its checks, timeouts and breaker.
      [oauth.customFetch]: ((url: string, init: RequestInit) => this.egress.fetch(url, init as never)) as unknown as typeof fetch,
      ...(policy.allowInsecureHttp ? { [oauth.allowInsecureRequests]: true } : {}),
    };
    let as: oauth.AuthorizationServer;
    if (policy.issuer !== undefined) {
      const issuer = new URL(policy.issuer);
      try {
        as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: "oidc" }));
      } catch {
        try {
          as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: "oauth2" }));
        } catch (error) {
          this.logger.warn({ provider: name, error: (error as Error).name }, "connection provider discovery failed");
          throw new Problem("IDP_UNAVAILABLE", "The connection provider's metadata cannot be fetched.");
        }
      }
    } else {
      as = { issuer: new URL(policy.tokenEndpoint!).origin, authorization_endpoint: policy.authorizationEndpoint, token_endpoint: policy.tokenEndpoint, revocation_endpoint: policy.revocationEndpoint };
    }
    if (policy.revocationEndpoint !== undefined) as = { ...as, revocation_endpoint: policy.revocationEndpoint };
    const secret = this.env[policy.clientSecretEnv]!;
    return {
      as,
      client: { client_id: policy.clientId },
      auth: policy.clientAuth === "client_secret_post" ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret),
      options,
      redirectUri: `${this.policy.publicUrl}/${CONNECTIONS_PATH.join("/")}/${name}/callback`,
      scopes: policy.scopes,
    };
  }

  private signState(tenantId: string, id: string, expiresAt: number): string {
    const body = Buffer.from(JSON.stringify([tenantId, id, expiresAt])).toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  private verifyState(state: string): { tenantId: string; id: string } | undefined {
    const [body, mac, ...rest] = state.split(".");
    if (body === undefined || mac === undefined || rest.length > 0 || state.length > 512) return undefined;
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const [tenantId, id, expiresAt] = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as [string, string, number];
    return expiresAt > Date.now() ? { tenantId, id } : undefined;
  }

  private mac(body: string): string {
    return createHmac("sha256", this.stateKey).update(body).digest("base64url");
  }

  private rejectState(reason: StateRejection, provider: string, tenantId?: string): never {
    this.events.emit({ type: "oauth_state_rejected", severity: "warning", tenant_id: tenantId, detail: { reason, provider } });
    throw new Problem("OAUTH_STATE_INVALID", "The authorization's state is invalid, expired, already used or not yours; start again.");
  }

  private exchangeFailed(error: unknown, provider: string, tenantId: string): Problem {
    // The provider's error code (invalid_grant, access_denied…) is safe to name; its description is not ours to echo.
    const code = error instanceof oauth.ResponseBodyError || error instanceof oauth.AuthorizationResponseError ? error.error : (error as Error).name;
    this.logger.warn({ tenant_id: tenantId, provider, error: code }, "connection: the provider refused or failed the exchange");
    return new Problem("OAUTH_EXCHANGE_FAILED", "The provider did not complete the authorization.", { provider_error: code });
  }
}

function storedTokens(answer: oauth.TokenEndpointResponse): StoredTokens {
  return {
    access_token: answer.access_token,
    token_type: answer.token_type,
    refresh_token: answer.refresh_token,
    expires_at: answer.expires_in === undefined ? undefined : Date.now() + answer.expires_in * 1000,
    scope: answer.scope,
  };
}
