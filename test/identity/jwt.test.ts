import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { LocalIdp } from "../helpers/idp.js";
import { createHmac } from "node:crypto";
import { JwtVerifier, type IssuerConfig } from "../../src/identity/jwt/verifier.js";
import { openDatabase, type Database } from "../../src/store/index.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { TenantStore } from "../../src/tenants/store.js";

const ISSUER = "https://idp.example.test/";

describe("JWT via JWKS", () => {
  const idp = new LocalIdp();
  let db: Database;
  let tenants: TenantStore;
  let tenantId: string;
  let key: { privateKey: CryptoKey; publicKey: CryptoKey; kid: string; alg: string };
  let verifier: JwtVerifier;
  let config: IssuerConfig;

  before(async () => {
    await idp.start();
    key = await idp.newKey("k1");
    db = await openDatabase({});
    tenants = new TenantStore(db);
    tenantId = (await tenants.create("acme")).id;
    config = {
      issuer: ISSUER,
      jwksUri: idp.url,
      audience: "portcullis-api",
      algorithms: ["RS256"],
      tenantClaim: "org_id",
      scopeClaim: "scope",
      authorizedParties: ["web-app"],
      clockToleranceSeconds: 5,
      jwksCooldownSeconds: 0,
    };
    verifier = new JwtVerifier([config], new TenantDirectory(tenants, 50));
  });
  after(async () => {
    idp.server.close();
    await db.close();
  });

  function token(claims: Record<string, unknown> = {}, signWith = key, header: Record<string, unknown> = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ org_id: tenantId, scope: "read write", azp: "web-app", ...claims })
      .setProtectedHeader({ alg: signWith.alg, kid: signWith.kid, ...header })
      .setIssuer(String(claims.iss ?? ISSUER))
      .setAudience(String(claims.aud ?? "portcullis-api"))
      .setSubject("user-1")
      .setIssuedAt(now)
      .setExpirationTime(Number(claims.exp ?? now + 300))
      .sign(signWith.privateKey);
  }

  async function rejects(tokenPromise: Promise<string> | string, why: string, code = "UNAUTHENTICATED") {
    await assert.rejects(verifier.authenticate(await tokenPromise), { code }, why);
  }

  test("a valid token authenticates as the tenant in its claim, with its scopes", async () => {
    const principal = await verifier.authenticate(await token());
    assert.equal(principal.kind, "jwt");
    assert.equal(principal.tenantId, tenantId);
    assert.equal(principal.id, "user-1");
    assert.equal(principal.issuer, ISSUER);
    assert.deepEqual([...principal.scopes], ["read", "write"]);
  });

  test("time claims: expired and not-yet-valid tokens fail, within the clock tolerance they pass", async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejects(token({ exp: now - 60 }), "expired");
    await rejects(token({ nbf: now + 60 }), "not yet valid");
    await verifier.authenticate(await token({ nbf: now + 2 }));
  });

  test("issuer, audience and authorized party are enforced", async () => {
    await rejects(token({ iss: "https://evil.example/" }), "unknown issuer");
    await rejects(token({ aud: "another-api" }), "wrong audience");
    await rejects(token({ azp: "other-client" }), "wrong azp");
    await rejects(token({ azp: undefined }), "missing azp");
  });

  test("alg none and HS256 signed with the public key (algorithm confusion) are refused", async () => {
    const payload = Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: "portcullis-api", sub: "x", org_id: tenantId, exp: 9999999999, azp: "web-app" }),
    ).toString("base64url");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: "k1" })).toString("base64url")}.${payload}.`;
    await rejects(none, "alg none");
    const header = Buffer.from(JSON.stringify({ alg: "HS256", kid: "k1" })).toString("base64url");
    const pem = await exportSPKI(key.publicKey);
    const mac = createHmac("sha256", pem).update(`${header}.${payload}`).digest("base64url");
    await rejects(`${header}.${payload}.${mac}`, "HS256 with the public key as secret");
  });

  test("an algorithm outside the allow-list fails even when the key set has its key", async () => {
    const ec = await idp.newKey("ec1", "ES256");
    await rejects(token({}, ec), "ES256 not allowed");
  });

  test("a token signed by another key under a known kid fails", async () => {
    const impostor = { ...(await generateKeyPair("RS256")), kid: "k1", alg: "RS256" };
    await rejects(token({}, impostor), "forged signature");
  });

  test("a rotated key set is fetched again when a token names an unknown kid", async () => {
    const before = idp.fetches;
    const rotated = await idp.newKey("k2");
    await verifier.authenticate(await token({}, rotated));
    assert.ok(idp.fetches > before, "the key set was refetched");
  });

  test("the tenant claim must name an existing, active tenant", async () => {
    await rejects(token({ org_id: undefined }), "no tenant claim");
    await rejects(token({ org_id: "acme" }), "not a tenant id");
    await rejects(token({ org_id: "00000000-0000-4000-8000-000000000000" }), "unknown tenant");
    const suspended = await tenants.create("suspended");
    await tenants.setStatus(suspended.id, "suspended");
    await rejects(token({ org_id: suspended.id }), "suspended tenant");
  });

  test("garbage is refused without reaching the key set", async () => {
    const before = idp.fetches;
    for (const garbage of ["", "abc", "a.b", "a.b.c.d", "....", "eyJ.eyJ.x", "€.€.€", "a".repeat(5000)]) await rejects(garbage, garbage);
    assert.equal(idp.fetches, before);
  });

  test("an unreachable key set is IDP_UNAVAILABLE, not a pass", async () => {
    const offline = new JwtVerifier([{ ...config, jwksUri: "http://127.0.0.1:9/jwks.json" }], new TenantDirectory(tenants));
    await assert.rejects(offline.authenticate(await token()), { code: "IDP_UNAVAILABLE" });
  });
});
