import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { IdentitySigner, type IdentityClaims } from "../../src/forward/identity-assertion.js";
import type { Principal } from "../../src/identity/principal.js";

const AUDIENCE = "http://api.internal";

async function signerAndVerify() {
  const signer = await IdentitySigner.fromKey(generateKeyPairSync("ed25519").privateKey);
  const keys = createLocalJWKSet(signer.jwks());
  const verify = async (token: string, audience = AUDIENCE) =>
    (await jwtVerify<IdentityClaims>(token, keys, { issuer: "portcullis", audience, algorithms: ["EdDSA"] })).payload;
  return { signer, verify };
}

function jwtPrincipal(scopes: string[], issuer = "https://idp.example"): Principal {
  return { kind: "jwt", tenantId: "t-1", id: "user-7", scopes: new Set(scopes), issuer, claims: {} };
}

describe("identity assertion cache", () => {
  test("a principal reused request after request gets the same signed assertion, answered without a promise", async () => {
    const { signer, verify } = await signerAndVerify();
    const principal: Principal = { kind: "api_key", tenantId: "t-1", id: "k-1", scopes: new Set(["read"]), env: "live" };
    const first = await signer.assertionFor(principal, AUDIENCE);
    const second = signer.assertionFor(principal, AUDIENCE);
    assert.equal(typeof second, "string", "a cached assertion is returned synchronously");
    assert.equal(second, first);
    assert.deepEqual((await verify(first)).scope, "read");
  });

  test("the same subject with other scopes or from another issuer is never told upstream with an earlier token's claims", async () => {
    const { signer, verify } = await signerAndVerify();
    const admin = await verify(await signer.assertionFor(jwtPrincipal(["read", "admin"]), AUDIENCE));
    // A later token for the same subject and tenant, with fewer scopes: a scope downgrade must show at once.
    const reader = await verify(await signer.assertionFor(jwtPrincipal(["read"]), AUDIENCE));
    const otherIdp = await verify(await signer.assertionFor(jwtPrincipal(["read"], "https://other-idp.example"), AUDIENCE));
    assert.equal(admin.scope, "read admin");
    assert.equal(reader.scope, "read");
    assert.equal(reader.idp, "https://idp.example");
    assert.equal(otherIdp.idp, "https://other-idp.example");
  });

  test("one principal forwarded to two upstreams gets an assertion for each audience", async () => {
    const { signer, verify } = await signerAndVerify();
    const principal = jwtPrincipal(["read"]);
    const other = "http://billing.internal";
    for (let i = 0; i < 2; i++) {
      assert.equal((await verify(await signer.assertionFor(principal, AUDIENCE))).aud, AUDIENCE);
      assert.equal((await verify(await signer.assertionFor(principal, other), other)).aud, other);
    }
  });
});
