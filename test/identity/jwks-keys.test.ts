import assert from "node:assert/strict";
import { checkPrimeSync, createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SignJWT, type JWK } from "jose";
import { isRocaModulus, keyWeakness } from "../../src/identity/jwt/key-vetting.js";
import { JwtVerifier } from "../../src/identity/jwt/verifier.js";
import { openDatabase, type Database } from "../../src/store/index.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { TenantStore } from "../../src/tenants/store.js";
import { LocalIdp } from "../helpers/idp.js";

const ISSUER = "https://weak-keys.example.test/";
const b64 = (n: bigint) => Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, "0"), "hex").toString("base64url");
const fromB64 = (s: string) => BigInt(`0x${Buffer.from(s, "base64url").toString("hex")}`);

/** Primes of the form the ROCA-vulnerable generator made: k·M + (65537^a mod M). */
function rocaPrime(): bigint {
  const primes = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167];
  const m = primes.reduce((product, p) => product * BigInt(p), 1n);
  const modPow = (base: bigint, exp: bigint, mod: bigint) => {
    let result = 1n;
    for (let b = base % mod, e = exp; e > 0n; e >>= 1n, b = (b * b) % mod) if (e & 1n) result = (result * b) % mod;
    return result;
  };
  for (;;) {
    const k = BigInt(`0x${randomBytes(106).toString("hex")}`);
    const a = BigInt(`0x${randomBytes(4).toString("hex")}`);
    const p = k * m + modPow(65537n, a, m);
    if (checkPrimeSync(p)) return p;
  }
}

describe("keys a JWKS must not be trusted with", () => {
  const idp = new LocalIdp();
  let db: Database;
  let tenantId: string;
  let verifier: JwtVerifier;
  const refused: string[] = [];

  before(async () => {
    await idp.start();
    db = await openDatabase({});
    const tenants = new TenantStore(db);
    tenantId = (await tenants.create("acme")).id;
    verifier = new JwtVerifier(
      [{ issuer: ISSUER, jwksUri: idp.url, audience: "api", algorithms: ["RS256", "ES256"], tenantClaim: "org_id", scopeClaim: "scope", clockToleranceSeconds: 0, jwksCooldownSeconds: 0 }],
      new TenantDirectory(tenants),
      (_issuer, kid, reason) => refused.push(`${kid}: ${reason}`),
    );
  });
  after(async () => {
    idp.server.close();
    await db.close();
  });

  const claims = () => ({ org_id: tenantId, sub: "u1" });
  const expect401 = async (token: string) => assert.rejects(verifier.authenticate(token), { code: "UNAUTHENTICATED" }, "refused as a bad token, not IDP_UNAVAILABLE");

  test("an RSA key with public exponent 1, which makes any message its own signature, is refused: the forgery fails", async () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = publicKey.export({ format: "jwk" }) as JWK;
    idp.keys = [{ kty: "RSA", n: jwk.n!, e: "AQ", kid: "e1", alg: "RS256" }];
    const signingInput = `${Buffer.from(JSON.stringify({ alg: "RS256", kid: "e1", typ: "JWT" })).toString("base64url")}.${Buffer.from(
      JSON.stringify({ ...claims(), iss: ISSUER, aud: "api", exp: Math.floor(Date.now() / 1000) + 60 }),
    ).toString("base64url")}`;
    // EMSA-PKCS1-v1_5 of the signing input: with e = 1 it is its own valid signature.
    const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), createHash("sha256").update(signingInput).digest()]);
    const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
    await expect401(`${signingInput}.${em.toString("base64url")}`);
    assert.ok(refused.some((r) => r === "e1: weak RSA public exponent"), refused.join("; "));
  });

  test("an RSA key under 2048 bits and an EC key whose point is off its curve are refused, and the token is a 401", async () => {
    const short = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecJwk = ec.publicKey.export({ format: "jwk" }) as JWK;
    const offCurve = { ...ecJwk, y: b64(fromB64(ecJwk.y!) ^ 1n) };
    idp.keys = [
      { ...(short.publicKey.export({ format: "jwk" }) as JWK), kid: "short", alg: "RS256" },
      { ...offCurve, kid: "off", alg: "ES256" },
    ];
    const now = Math.floor(Date.now() / 1000);
    const sign = (key: typeof short.privateKey, alg: string, kid: string) =>
      new SignJWT(claims()).setProtectedHeader({ alg, kid }).setIssuer(ISSUER).setAudience("api").setExpirationTime(now + 60).sign(key);
    await expect401(await sign(ec.privateKey, "ES256", "off"));
    assert.ok(refused.includes("short: RSA modulus shorter than 2048 bits"), refused.join("; "));
    assert.ok(refused.includes("off: not a valid public key"), refused.join("; "));
  });

  test("a ROCA modulus is recognised by its fingerprint; ordinary moduli are not", async () => {
    const n = rocaPrime() * rocaPrime();
    assert.ok(n.toString(2).length >= 2048);
    assert.equal(isRocaModulus(n), true);
    assert.equal(keyWeakness({ kty: "RSA", n: b64(n), e: "AQAB" }), "RSA modulus from the ROCA-vulnerable generator");
    for (let i = 0; i < 4; i++) {
      const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }) as JWK;
      assert.equal(isRocaModulus(fromB64(jwk.n!)), false);
      assert.equal(keyWeakness(jwk), undefined);
    }
    idp.keys = [{ kty: "RSA", n: b64(n), e: "AQAB", kid: "roca", alg: "RS256" }];
    const forged = `${Buffer.from(JSON.stringify({ alg: "RS256", kid: "roca" })).toString("base64url")}.${Buffer.from(JSON.stringify({ ...claims(), iss: ISSUER, aud: "api", exp: 9e9 })).toString("base64url")}.AAAA`;
    await expect401(forged);
    assert.ok(refused.includes("roca: RSA modulus from the ROCA-vulnerable generator"), refused.join("; "));
  });

  test("symmetric and malformed entries are never keys; a sound key beside them still verifies", async () => {
    assert.equal(keyWeakness({ kty: "oct", k: "c2VjcmV0" }), "not an asymmetric key");
    assert.equal(keyWeakness("nope"), "not a key");
    const good = generateKeyPairSync("rsa", { modulusLength: 2048 });
    idp.keys = [{ kty: "oct", k: "c2VjcmV0", kid: "hs" }, { ...(good.publicKey.export({ format: "jwk" }) as JWK), kid: "good", alg: "RS256" }];
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "good" }).setIssuer(ISSUER).setAudience("api").setExpirationTime(Math.floor(Date.now() / 1000) + 60).sign(good.privateKey);
    assert.equal((await verifier.authenticate(token)).tenantId, tenantId);
  });
});
