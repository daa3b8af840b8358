import { createHmac, timingSafeEqual } from "node:crypto";

/** `{"alg":"HS256","typ":"at+jwt"}`: every access token has this one header, so a token is recognised by its first segment alone. */
export const ACCESS_TOKEN_HEADER = Buffer.from('{"alg":"HS256","typ":"at+jwt"}').toString("base64url");
export const SESSION_ISSUER = "portcullis-session";
const REFRESH_PREFIX = "rt1_";
const UUID_BYTES = 16;
const REFRESH_BYTES = UUID_BYTES * 2 + 4 + 32;

/** What a session's access token states. */
export interface AccessClaims {
  readonly iss: typeof SESSION_ISSUER;
  readonly sub: string;
  readonly tid: string;
  /** The session (refresh token family) it belongs to. */
  readonly sid: string;
  readonly gen: number;
  readonly iat: number;
  readonly exp: number;
  readonly auth_time: number;
  readonly acr?: string;
  readonly amr?: readonly string[];
  readonly roles: readonly string[];
  readonly scope: string;
  readonly client_id?: string;
}

/** Where a refresh token points: tenant, session and generation, under the gateway's MAC. */
export interface RefreshRef {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly generation: number;
}

/**
 * The gateway's session tokens, both kinds under one HMAC key that only the gateway holds (it
 * issues and checks them; nobody else verifies them, so there is no public key to publish).
 *
 * Access tokens are JWTs (HS256, `typ: at+jwt`, RFC 9068's shape) written and checked here, not
 * with jose: jose's verification is always asynchronous, and a route's authentication answers
 * synchronously whenever it can (a promise per request costs a turn of the microtask queue). The
 * check is the whole of HS256 — one HMAC compared in constant time, then the claims.
 *
 * Refresh tokens are opaque: tenant, session id and generation followed by an HMAC-SHA256 over
 * them (256 bits no one can guess without the key). The database keeps only each session's current
 * generation, never a token or anything a token could be rebuilt from without the key; a token
 * of an older generation is recognised as spent, which is what reuse detection needs, and the
 * child of the immediate predecessor can be given again within the reuse interval.
 */
export class SessionTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new Error("the session key must be at least 32 bytes");
  }

  static accepts(token: string): boolean {
    return token.length > ACCESS_TOKEN_HEADER.length && token.startsWith(ACCESS_TOKEN_HEADER) && token[ACCESS_TOKEN_HEADER.length] === ".";
  }

  access(claims: AccessClaims): string {
    const signingInput = `${ACCESS_TOKEN_HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    return `${signingInput}.${this.mac(signingInput).toString("base64url")}`;
  }

  /** The claims of a token this gateway signed, expired or not; undefined for anything else. */
  verifyAccess(token: string): AccessClaims | undefined {
    if (!SessionTokens.accepts(token)) return undefined;
    const dot = token.lastIndexOf(".");
    if (dot <= ACCESS_TOKEN_HEADER.length) return undefined;
    const signingInput = token.slice(0, dot);
    const signature = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = this.mac(signingInput);
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return undefined;
    let claims: AccessClaims;
    try {
      claims = JSON.parse(Buffer.from(signingInput.slice(ACCESS_TOKEN_HEADER.length + 1), "base64url").toString("utf8")) as AccessClaims;
    } catch {
      return undefined;
    }
    return claims.iss === SESSION_ISSUER ? claims : undefined;
  }

  refresh(ref: RefreshRef): string {
    const body = Buffer.alloc(UUID_BYTES * 2 + 4);
    Buffer.from(ref.tenantId.replaceAll("-", ""), "hex").copy(body, 0);
    Buffer.from(ref.sessionId.replaceAll("-", ""), "hex").copy(body, UUID_BYTES);
    body.writeUInt32BE(ref.generation, UUID_BYTES * 2);
    return REFRESH_PREFIX + Buffer.concat([body, this.mac(body)]).toString("base64url");
  }

  parseRefresh(token: string): RefreshRef | undefined {
    if (!token.startsWith(REFRESH_PREFIX) || token.length > 200) return undefined;
    const bytes = Buffer.from(token.slice(REFRESH_PREFIX.length), "base64url");
    if (bytes.length !== REFRESH_BYTES) return undefined;
    const body = bytes.subarray(0, UUID_BYTES * 2 + 4);
    if (!timingSafeEqual(bytes.subarray(body.length), this.mac(body))) return undefined;
    return { tenantId: uuid(body.subarray(0, UUID_BYTES)), sessionId: uuid(body.subarray(UUID_BYTES, UUID_BYTES * 2)), generation: body.readUInt32BE(UUID_BYTES * 2) };
  }

  /**
   * The CSRF token of a cookie-delivered session: a MAC of its id, so it needs no storage, is the
   * same for the session's whole life, and cannot be made for another session.
   */
  csrf(sessionId: string): string {
    return this.mac(`csrf ${sessionId}`).toString("base64url");
  }

  checkCsrf(sessionId: string, presented: string | undefined): boolean {
    if (presented === undefined) return false;
    const expected = Buffer.from(this.csrf(sessionId));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(data: string | Buffer): Buffer {
    return createHmac("sha256", this.key).update(data).digest();
  }
}

function uuid(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
