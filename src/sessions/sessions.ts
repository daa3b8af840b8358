import { z } from "zod";
import type { SecurityEvents } from "../events/security-events.js";
import type { Principal } from "../identity/principal.js";
import { unauthenticated } from "../identity/credentials.js";
import type { RequestContext } from "../pipeline/context.js";
import { Problem } from "../problem/index.js";
import { ACCESS_COOKIE, csrfHeader, needsCsrf, sessionCookie } from "./cookies.js";
import type { TenantDirectory } from "../tenants/directory.js";
import { boundedLru } from "../util/bounded-lru.js";
import { RefreshingCache } from "../util/refreshing-cache.js";
import type { SessionRow, SessionStore } from "./store.js";
import { SESSION_ISSUER, SessionTokens, type AccessClaims, type RefreshRef } from "./tokens.js";

export const sessionsSchema = z
  .strictObject({
    /** The access token's life. Short: revocation reaches a token only at its next check of the store. */
    accessTokenSeconds: z.number().int().min(30).max(3_600).default(600),
    /** A session whose refresh token goes unused this long ends. */
    idleSeconds: z.number().int().min(60).max(90 * 86_400).default(14 * 86_400),
    /** A session ends this long after sign-in, however it is used. */
    absoluteSeconds: z.number().int().min(60).max(365 * 86_400).default(30 * 86_400),
    /**
     * For concurrent tabs: the immediately preceding refresh token, presented again this soon after
     * it was spent, gets the same new pair instead of revoking the session. 0, the default, allows
     * no reuse at all (RFC 9700 §4.14.2).
     */
    reuseIntervalSeconds: z.number().int().min(0).max(10).default(0),
    /** Sessions for browser apps in cookies (`delivery: "cookie"`), with CSRF protection for unsafe methods. */
    cookies: z
      .strictObject({ enabled: z.boolean().default(false), sameSite: z.enum(["Strict", "Lax"]).default("Strict") })
      .default({ enabled: false, sameSite: "Strict" }),
  })
  .refine((s) => s.idleSeconds <= s.absoluteSeconds, "sessions.idleSeconds cannot exceed absoluteSeconds")
  .default({ accessTokenSeconds: 600, idleSeconds: 14 * 86_400, absoluteSeconds: 30 * 86_400, reuseIntervalSeconds: 0, cookies: { enabled: false, sameSite: "Strict" } });
export type SessionsPolicy = z.infer<typeof sessionsSchema>;

/** What an upstream states when it asks for a session for a user it has signed in. */
export const sessionRequestSchema = z.strictObject({
  subject: z.string().min(1).max(256),
  roles: z.array(z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/)).max(64).default([]),
  scopes: z.array(z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/)).max(64).default([]),
  acr: z.string().regex(/^[\x21-\x7e]{1,200}$/).optional(),
  amr: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,32}$/)).max(16).default([]),
  /** Seconds since the epoch; now when absent. */
  auth_time: z.number().int().min(0).optional(),
  client_id: z.string().regex(/^[\x21-\x7e]{1,256}$/).optional(),
  /** `cookie`: answered with Set-Cookie values for the upstream to pass on to the browser, not with the tokens. */
  delivery: z.enum(["body", "cookie"]).default("body"),
});
export type SessionRequest = z.infer<typeof sessionRequestSchema>;

export interface TokenPair {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
}

/** A pair as issued, with what cookie delivery needs besides. */
export interface IssuedPair extends TokenPair {
  readonly sessionId: string;
  /** Until the session's absolute end. */
  readonly refreshExpiresIn: number;
}

/** RFC 6749 §5.2: how the token endpoint refuses. The same for an unknown, a forged and a spent token. */
export class OAuthError extends Error {
  constructor(
    readonly error: "invalid_request" | "invalid_grant" | "unsupported_grant_type",
    readonly description: string,
  ) {
    super(error);
  }
}

/** A sign-in may be stated a little ahead of this clock, never more. */
const MAX_AUTH_TIME_SKEW_SECONDS = 60;
const MAX_CACHED_TOKENS = 50_000;

type SessionState = Pick<SessionRow, "revoked_at" | "idle_expires_at" | "absolute_expires_at"> | undefined;

/**
 * Gateway-issued sessions: an upstream that has signed a user in asks for a session; the user's
 * client then authenticates with the short-lived access token and renews it with the refresh
 * token, which rotates on every use. A spent refresh token presented again means it was stolen
 * (or the client is broken): the whole family is revoked, its live access tokens with it, and a
 * security event is raised (RFC 9700 §4.14.2).
 *
 * An access token is checked against its session's state on every request, through a cache that
 * refreshes within a second, so revocation ("sign out everywhere", reuse) reaches tokens that
 * have not expired yet on every node.
 */
export class Sessions {
  readonly tokens: SessionTokens;
  private readonly states: RefreshingCache<SessionState>;
  /** Verified tokens' principals; null for a token that is not this gateway's. */
  private readonly principals = boundedLru<string, Principal | null>(MAX_CACHED_TOKENS);

  constructor(
    private readonly store: SessionStore,
    private readonly policy: SessionsPolicy,
    private readonly tenants: TenantDirectory,
    private readonly events: SecurityEvents,
    /** Every node must have the same one (derived from the shared identity key). */
    sessionKey: Buffer,
    maxStalenessMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = new SessionTokens(sessionKey);
    this.states = new RefreshingCache(
      async (key) => {
        const [tenantId, sessionId] = key.split(" ") as [string, string];
        return this.store.get(tenantId, sessionId);
      },
      { freshMs: Math.min(1_000, maxStalenessMs), maxAgeMs: maxStalenessMs, maxEntries: 100_000 },
    );
  }

  get cookies(): SessionsPolicy["cookies"] {
    return this.policy.cookies;
  }

  async issue(tenantId: string, request: SessionRequest): Promise<IssuedPair> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const authTime = request.auth_time ?? nowSeconds;
    if (authTime > nowSeconds + MAX_AUTH_TIME_SKEW_SECONDS) throw new OAuthError("invalid_request", "auth_time lies in the future.");
    const session = await this.store.create({
      tenantId,
      subject: request.subject,
      clientId: request.client_id,
      roles: request.roles,
      scopes: request.scopes,
      acr: request.acr,
      amr: request.amr,
      authTime: new Date(authTime * 1000),
      idleSeconds: this.policy.idleSeconds,
      absoluteSeconds: this.policy.absoluteSeconds,
    });
    return this.pair(session);
  }

  /** The token endpoint's grant: a new pair for the current refresh token, the family revoked for a spent one. */
  async refresh(refreshToken: string, clientId: string | undefined, csrf?: { token: string | undefined }): Promise<IssuedPair> {
    const ref = this.tokens.parseRefresh(refreshToken);
    if (ref === undefined) throw invalidGrant();
    // A refresh cookie rides along with a forged cross-site POST: only the session's own page has the CSRF token.
    if (csrf !== undefined && !this.tokens.checkCsrf(ref.sessionId, csrf.token)) throw invalidGrant();
    // A session known here to be over is refused without the database: a stolen token replayed
    // again and again costs no more than a forged one, and answers as fast.
    const known = this.states.peek(`${ref.tenantId} ${ref.sessionId}`);
    if (known !== undefined && (known.revoked_at !== null || known.absolute_expires_at.getTime() <= this.now())) throw invalidGrant();
    // Every check that can refuse comes before the rotation that spends the token.
    if (!(await this.tenants.isActive(ref.tenantId))) throw invalidGrant();
    const rotation = await this.store.rotate(ref.tenantId, ref.sessionId, ref.generation, clientId, this.policy.idleSeconds, this.policy.reuseIntervalSeconds);
    switch (rotation.kind) {
      case "invalid":
        this.reload(ref);
        throw invalidGrant();
      case "reused":
        this.reload(ref);
        this.events.emit({
          type: "refresh_token_reuse",
          severity: "high",
          tenant_id: ref.tenantId,
          detail: { session: ref.sessionId, presented_generation: ref.generation, current_generation: rotation.session.generation },
        });
        throw invalidGrant();
      case "rotated":
      case "repeated": {
        return this.pair(rotation.session);
      }
    }
  }

  /** RFC 7009: revokes the session a refresh or access token belongs to. Unknown tokens are not an error. */
  async revokeToken(token: string): Promise<void> {
    const ref = this.tokens.parseRefresh(token) ?? this.accessRef(token);
    if (ref === undefined) return;
    await this.store.revoke(ref.tenantId, ref.sessionId, "revoked");
    this.reload(ref);
  }

  async revoke(tenantId: string, sessionId: string): Promise<boolean> {
    const revoked = await this.store.revoke(tenantId, sessionId, "admin");
    this.states.forget(`${tenantId} ${sessionId}`);
    return revoked;
  }

  async revokeSubject(tenantId: string, subject: string): Promise<string[]> {
    const ids = await this.store.revokeSubject(tenantId, subject, "admin");
    for (const id of ids) this.states.forget(`${tenantId} ${id}`);
    return ids;
  }

  list(tenantId: string, subject: string | undefined): Promise<SessionRow[]> {
    return this.store.list(tenantId, subject);
  }

  /** For the authenticate control: synchronous while the session's state is cached. */
  authenticate(token: string): Principal | Promise<Principal> {
    let principal = this.principals.get(token);
    if (principal === undefined) {
      const claims = this.tokens.verifyAccess(token);
      // Refusals are remembered too, as the key cache does: a forged token presented again costs
      // (and takes) what a revoked session's does, so timing does not tell the two apart.
      principal = claims === undefined ? null : principalOf(claims);
      this.principals.set(token, principal);
    }
    if (principal === null) throw unauthenticated();
    const claims = principal.claims as unknown as AccessClaims;
    if (claims.exp * 1000 <= this.now()) throw unauthenticated();
    const state = this.states.get(`${claims.tid} ${claims.sid}`);
    const admitted = principal;
    if (state instanceof Promise) return state.then((s) => this.admit(s, admitted, claims));
    return this.admit(state, admitted, claims);
  }

  private admit(state: SessionState, principal: Principal, claims: AccessClaims): Principal | Promise<Principal> {
    if (state === undefined || state.revoked_at !== null || state.absolute_expires_at.getTime() <= this.now()) throw unauthenticated();
    const active = this.tenants.active(claims.tid);
    if (active instanceof Promise) {
      return active.then((ok) => {
        if (!ok) throw unauthenticated();
        return principal;
      });
    }
    if (!active) throw unauthenticated();
    return principal;
  }

  /**
   * A session from the access cookie, for routes that take sessions when cookies are on;
   * undefined without the cookie. An unsafe method must carry the session's CSRF token too.
   */
  fromCookie(ctx: Pick<RequestContext, "headers" | "method">): Principal | Promise<Principal> | undefined {
    if (!this.policy.cookies.enabled) return undefined;
    const token = sessionCookie(ctx, ACCESS_COOKIE);
    if (token === undefined) return undefined;
    const principal = this.authenticate(token);
    if (!needsCsrf(ctx.method)) return principal;
    const presented = csrfHeader(ctx);
    const check = (p: Principal): Principal => {
      if (!this.tokens.checkCsrf((p.claims as unknown as AccessClaims).sid, presented)) throw new Problem("FORBIDDEN", "A cookie-authenticated request must carry the session's CSRF token.");
      return p;
    };
    return principal instanceof Promise ? principal.then(check) : check(principal);
  }

  private pair(session: SessionRow): IssuedPair {
    // The times come from the row, so the child repeated within the reuse interval is the same token, byte for byte.
    const iat = Math.floor(session.rotated_at.getTime() / 1000);
    const exp = Math.min(iat + this.policy.accessTokenSeconds, Math.floor(session.absolute_expires_at.getTime() / 1000));
    const claims: AccessClaims = {
      iss: SESSION_ISSUER,
      sub: session.subject,
      tid: session.tenant_id,
      sid: session.id,
      gen: session.generation,
      iat,
      exp,
      auth_time: Math.floor(session.auth_time.getTime() / 1000),
      ...(session.acr === null ? {} : { acr: session.acr }),
      ...(session.amr.length === 0 ? {} : { amr: session.amr }),
      roles: session.roles,
      scope: session.scopes.join(" "),
      ...(session.client_id === null ? {} : { client_id: session.client_id }),
    };
    return {
      access_token: this.tokens.access(claims),
      token_type: "Bearer",
      expires_in: Math.max(0, exp - Math.floor(this.now() / 1000)),
      refresh_token: this.tokens.refresh({ tenantId: session.tenant_id, sessionId: session.id, generation: session.generation }),
      sessionId: session.id,
      refreshExpiresIn: Math.max(0, Math.floor((session.absolute_expires_at.getTime() - this.now()) / 1000)),
    };
  }

  private accessRef(token: string): RefreshRef | undefined {
    const claims = this.tokens.verifyAccess(token);
    return claims === undefined ? undefined : { tenantId: claims.tid, sessionId: claims.sid, generation: claims.gen };
  }

  /** Drops what this node knew of the session and loads it again in the background, so the next check sees the change. */
  private reload(ref: RefreshRef): void {
    const key = `${ref.tenantId} ${ref.sessionId}`;
    this.states.forget(key);
    Promise.resolve(this.states.get(key)).catch(() => undefined);
  }
}

function invalidGrant(): OAuthError {
  return new OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.");
}

function principalOf(claims: AccessClaims): Principal {
  return {
    kind: "session",
    tenantId: claims.tid,
    id: claims.sub,
    scopes: new Set(claims.scope.split(" ").filter((s) => s !== "")),
    issuer: SESSION_ISSUER,
    claims: claims as unknown as Readonly<Record<string, unknown>>,
  };
}
