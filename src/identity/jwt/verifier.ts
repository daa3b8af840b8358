import { createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify, type JWTPayload } from "jose";
import { Problem } from "../../problem/index.js";
import { isUuid } from "../../store/index.js";
import type { TenantDirectory } from "../../tenants/directory.js";
import { unauthenticated } from "../credentials.js";
import type { Principal } from "../principal.js";
import { keyWeakness } from "./key-vetting.js";

/** Asymmetric algorithms only: with no HS* here, a public key can never be used as an HMAC secret. */
export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export interface IssuerConfig {
  issuer: string;
  jwksUri: string;
  audience: string | string[];
  algorithms: JwtAlgorithm[];
  /** The claim that names the tenant (a Portcullis tenant id). */
  tenantClaim: string;
  /** A space-separated string (`scope`) or an array (`scp`). */
  scopeClaim: string;
  /** When set, `azp` must be one of these. */
  authorizedParties?: string[] | undefined;
  clockToleranceSeconds: number;
  /** Least time between two fetches of the key set, also when a token names an unknown `kid`. */
  jwksCooldownSeconds: number;
}

interface Issuer {
  config: IssuerConfig;
  keys: ReturnType<typeof createRemoteJWKSet>;
}

/** The key set could not be fetched at all: the IdP's failure, not the token's. */
class JwksUnreachable extends Error {}

/** Told of every key a JWKS publishes that is refused, and why. */
export type RefusedKeyListener = (issuer: string, kid: string | undefined, reason: string) => void;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies bearer JWTs from configured issuers. The issuer is picked by the token's unverified
 * `iss` only to choose which key set and rules apply; `jwtVerify` then checks `iss` again along
 * with the signature, so a forged `iss` gains nothing. jose caches each key set and refetches it,
 * rate-limited by the cooldown, when a token names a `kid` it has not seen (key rotation).
 */
export class JwtVerifier {
  private readonly issuers = new Map<string, Issuer>();

  constructor(
    configs: readonly IssuerConfig[],
    private readonly tenants: TenantDirectory,
    onRefusedKey: RefusedKeyListener = () => undefined,
  ) {
    for (const config of configs) {
      const keys = createRemoteJWKSet(new URL(config.jwksUri), {
        cacheMaxAge: 10 * 60_000,
        cooldownDuration: config.jwksCooldownSeconds * 1000,
        timeoutDuration: 5_000,
        [customFetch]: (url, init) => fetchVettedKeys(url, init, (kid, reason) => onRefusedKey(config.issuer, kid, reason)),
      });
      this.issuers.set(config.issuer, { config, keys });
    }
  }

  static looksLikeJwt(token: string): boolean {
    return JWT_SHAPE.test(token);
  }

  async authenticate(token: string): Promise<Principal> {
    if (!JwtVerifier.looksLikeJwt(token)) throw unauthenticated();
    let claimedIssuer: string | undefined;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch {
      throw unauthenticated();
    }
    const issuer = claimedIssuer === undefined ? undefined : this.issuers.get(claimedIssuer);
    if (issuer === undefined) throw unauthenticated();

    const payload = await this.verify(token, issuer);
    const { config } = issuer;
    if (config.authorizedParties !== undefined && !config.authorizedParties.includes(String(payload.azp))) {
      throw unauthenticated();
    }
    const tenantId = payload[config.tenantClaim];
    if (typeof tenantId !== "string" || !isUuid(tenantId) || typeof payload.sub !== "string") throw unauthenticated();
    if (!(await this.tenants.isActive(tenantId))) throw unauthenticated();
    return {
      kind: "jwt",
      tenantId,
      id: payload.sub,
      scopes: readScopes(payload[config.scopeClaim]),
      issuer: config.issuer,
      claims: payload,
    };
  }

  private async verify(token: string, { config, keys }: Issuer): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: config.clockToleranceSeconds,
        requiredClaims: ["exp", "sub"],
      });
      return payload;
    } catch (error) {
      // Only a failure to reach the key set is the IdP's; anything else is a bad token (a key
      // that cannot be used among them: the token is refused, not the IdP called down).
      if (error instanceof errors.JWKSTimeout || error instanceof JwksUnreachable) {
        throw new Problem("IDP_UNAVAILABLE", "The identity provider's keys cannot be fetched right now.");
      }
      throw unauthenticated();
    }
  }
}

/**
 * Fetches the key set and leaves out every key that must not verify anything (`keyWeakness`), so
 * a token signed with one finds no key and is refused like any bad token.
 */
async function fetchVettedKeys(url: string, init: RequestInit, refused: (kid: string | undefined, reason: string) => void): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if ((error as Error).name === "TimeoutError") throw error;
    throw new JwksUnreachable("the key set could not be fetched", { cause: error });
  }
  if (response.status !== 200) return response;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return new Response("not JSON", { status: 200 });
  }
  const keys = (body as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return Response.json(body);
  const kept = keys.filter((jwk: unknown) => {
    const reason = keyWeakness(jwk);
    if (reason !== undefined) refused(typeof (jwk as { kid?: unknown })?.kid === "string" ? (jwk as { kid: string }).kid : undefined, reason);
    return reason === undefined;
  });
  return Response.json({ ...(body as object), keys: kept });
}

function readScopes(claim: unknown): ReadonlySet<string> {
  if (typeof claim === "string") return new Set(claim.split(" ").filter((s) => s !== ""));
  if (Array.isArray(claim)) return new Set(claim.filter((s): s is string => typeof s === "string"));
  return new Set();
}
