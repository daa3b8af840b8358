import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, type KeyObject } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, jwtVerify, SignJWT, type JWK, type JWTPayload } from "jose";
import type { Principal } from "../identity/principal.js";

export const IDENTITY_HEADER = "x-portcullis-identity";
export const ASSERTION_ISSUER = "portcullis";
const LIFETIME_SECONDS = 60;
/** A cached assertion is reused while it has at least this long left to live. */
const REUSE_MARGIN_SECONDS = 30;
const MAX_CACHED = 10_000;

interface CachedAssertion {
  audience: string;
  token: string;
  reuseUntil: number;
}

export const AUDIT_CHECKPOINT_TYPE = "portcullis-audit-checkpoint+jwt";

/** What the upstream learns about the caller, signed with Ed25519. */
export interface IdentityClaims extends JWTPayload {
  sub: string;
  tenant_id: string;
  scope: string;
  auth: Principal["kind"];
  env?: "live" | "test";
  idp?: string;
}

/**
 * Signs the statement of who the caller is. Assertions are short-lived and reused per principal
 * for half their life, so signing costs one Ed25519 operation per principal every 30 seconds,
 * not one per request.
 */
export class IdentitySigner {
  private readonly byStatement = new Map<string, CachedAssertion>();
  private readonly byPrincipal = new WeakMap<Principal, CachedAssertion>();

  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicJwk: JWK,
  ) {}

  static async fromKey(privateKey: KeyObject): Promise<IdentitySigner> {
    const jwk = await exportJWK(createPublicKey(privateKey));
    const kid = await calculateJwkThumbprint(jwk);
    return new IdentitySigner(privateKey, { ...jwk, kid, alg: "EdDSA", use: "sig" });
  }

  /**
   * The key comes from `PORTCULLIS_IDENTITY_KEY` (PKCS#8 PEM) when set — give every node the same
   * one — or else from `<dataDir>/identity-key.pem`, created on first start with mode 0600.
   */
  static async load(dataDir: string | undefined, pem = process.env.PORTCULLIS_IDENTITY_KEY): Promise<IdentitySigner> {
    if (pem !== undefined && pem !== "") return IdentitySigner.fromKey(createPrivateKey(pem));
    if (dataDir === undefined) return IdentitySigner.fromKey(generateKeyPairSync("ed25519").privateKey);
    const file = join(dataDir, "identity-key.pem");
    try {
      return await IdentitySigner.fromKey(createPrivateKey(await readFile(file, "utf8")));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const key = generateKeyPairSync("ed25519").privateKey;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(file, key.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    await chmod(file, 0o600);
    return IdentitySigner.fromKey(key);
  }

  /**
   * A secret for another purpose, derived from this key (HKDF-SHA256): nodes that share the
   * identity key, as a deployment's nodes must, share every key derived from it, with no second
   * secret to distribute.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync("sha256", this.privateKey.export({ type: "pkcs8", format: "der" }), "portcullis", purpose, 32));
  }

  /**
   * A signed copy of an audit chain's head, to be kept outside the database: with it, a tenant
   * (or anyone holding the gateway's key set) can tell a trail that was cut or rewritten.
   */
  signCheckpoint(checkpoint: { tenant_id: string; seq: number; head: string }): Promise<string> {
    return new SignJWT({ ...checkpoint })
      .setProtectedHeader({ alg: "EdDSA", kid: this.publicJwk.kid!, typ: AUDIT_CHECKPOINT_TYPE })
      .setIssuer(ASSERTION_ISSUER)
      .setIssuedAt()
      .sign(this.privateKey);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /**
   * Synchronous when a live assertion for the same statement is cached. The cache is keyed by
   * the whole statement (every claim but the times), never by the principal's id alone: the same
   * subject can arrive with other scopes or from another issuer, and must not be told upstream
   * with the scopes of an earlier token.
   */
  assertionFor(principal: Principal, audience: string): string | Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    // Principals of cached API keys are the same object request after request: no key to build.
    const known = this.byPrincipal.get(principal);
    if (known !== undefined && known.audience === audience && known.reuseUntil > now) return known.token;
    const claims = claimsOf(principal);
    const statement = `${audience}\n${JSON.stringify(claims)}`;
    const cached = this.byStatement.get(statement);
    if (cached !== undefined && cached.reuseUntil > now) {
      this.byPrincipal.set(principal, cached);
      return cached.token;
    }
    return this.sign(claims, audience, now).then((token) => {
      const entry = { audience, token, reuseUntil: now + LIFETIME_SECONDS - REUSE_MARGIN_SECONDS };
      if (this.byStatement.size >= MAX_CACHED) this.byStatement.clear();
      this.byStatement.set(statement, entry);
      this.byPrincipal.set(principal, entry);
      return token;
    });
  }

  private sign(claims: IdentityClaims, audience: string, now: number): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid: this.publicJwk.kid!, typ: "portcullis-identity+jwt" })
      .setIssuer(ASSERTION_ISSUER)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + LIFETIME_SECONDS)
      .sign(this.privateKey);
  }
}

function claimsOf(principal: Principal): IdentityClaims {
  return {
    sub: principal.id,
    tenant_id: principal.tenantId,
    scope: [...principal.scopes].join(" "),
    auth: principal.kind,
    ...(principal.env === undefined ? {} : { env: principal.env }),
    ...(principal.issuer === undefined ? {} : { idp: principal.issuer }),
  };
}

/**
 * For upstream services written in Node: checks the assertion a Portcullis gateway attached,
 * against the gateway's published key set.
 */
export function createIdentityVerifier(options: { jwksUrl: string; audience: string }) {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl));
  return async (token: string): Promise<IdentityClaims> => {
    const { payload } = await jwtVerify<IdentityClaims>(token, keys, {
      issuer: ASSERTION_ISSUER,
      audience: options.audience,
      algorithms: ["EdDSA"],
      typ: "portcullis-identity+jwt",
    });
    return payload;
  };
}
