import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { createIdentityVerifier } from "../../src/forward/identity-assertion.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";

describe("gateway: JWT callers through the whole pipeline", () => {
  let idp: Server;
  let jwksUri: string;
  let privateKey: CryptoKey;
  let gw: TestGateway;
  let tenantId: string;

  before(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" }] });
    idp = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(jwks));
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
    jwksUri = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`;
    gw = await startTestGateway({
      version: 1,
      jwt: { issuers: [{ issuer: "https://idp.test/", jwksUri, audience: "api", algorithms: ["ES256"], tenantClaim: "org" }] },
      routes: [
        { name: "default", match: { path: "/**" } },
        { name: "reports", match: { path: "/reports/**" }, authorize: { scopes: ["reports:read"] } },
        { name: "keys-only", match: { path: "/machine/**" }, authenticate: { methods: ["apiKey"] } },
        { name: "per-plan", match: { path: "/plan/**" }, limits: [{ name: "per-plan", by: ["claim:plan"], rate: 2, per: "minute" }] },
        { name: "per-user", match: { path: "/user/**" }, limits: [{ name: "per-user", by: ["key"], rate: 2, per: "minute" }] },
        { name: "metered", match: { path: "/metered/**" }, quotas: [{ name: "per-subject", by: "key", limit: 3, per: "day" }] },
      ],
    });
    tenantId = String((await gw.admin("POST", "/admin/v1/tenants", { name: "jwt tenant" })).json.id);
  });
  after(async () => {
    await gw.close();
    idp.close();
  });

  const jwt = (claims: Record<string, unknown> = {}, issuer = "https://idp.test/", subject = "user-7") =>
    new SignJWT({ org: tenantId, scope: "reports:read", ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience("api")
      .setSubject(subject)
      .setExpirationTime("5m")
      .sign(privateKey);
  const get = async (path: string, token: string) => fetch(gw.url + path, { headers: { authorization: `Bearer ${token}` } });

  test("a valid token reaches the upstream as its tenant, with a signed identity saying so", async () => {
    const response = await get("/reports/q1", await jwt());
    assert.equal(response.status, 200);
    const echo = (await response.json()) as { headers: Record<string, string> };
    const claims = await createIdentityVerifier({ jwksUrl: `${gw.url}/.well-known/jwks.json`, audience: new URL(gw.upstreamUrl).origin })(
      echo.headers["x-portcullis-identity"]!,
    );
    assert.deepEqual([claims.auth, claims.tenant_id, claims.sub, claims.idp], ["jwt", tenantId, "user-7", "https://idp.test/"]);
  });

  test("limits keyed by a claim or by the subject: each value its bucket, and a missing or odd claim is no way around", async () => {
    const statuses = async (path: string, token: string, n: number) => {
      const out = [];
      for (let i = 0; i < n; i++) out.push((await get(path, token)).status);
      return out;
    };
    assert.deepEqual(await statuses("/plan/x", await jwt({ plan: "free" }), 3), [200, 200, 429]);
    assert.deepEqual(await statuses("/plan/x", await jwt({ plan: "pro" }), 2), [200, 200], "another plan, another bucket");
    const noPlan = await jwt();
    assert.deepEqual(await statuses("/plan/x", noPlan, 3), [200, 200, 429], "no claim: one shared bucket");
    assert.equal((await get("/plan/x", await jwt({ plan: { nested: "object" } }))).status, 429, "a non-scalar claim joins the shared bucket");
    assert.equal((await get("/plan/x", await jwt({ plan: "free|c:pro" }))).status, 200, "a crafted value cannot pass for another bucket");
    assert.deepEqual(await statuses("/user/x", await jwt(), 3), [200, 200, 429]);
    assert.equal((await get("/user/x", await jwt({}, undefined, "user-8"))).status, 200, "another subject, another bucket");
  });

  test("a per-key quota counts each token subject on its own, and the usage report lists them with the tenant's keys", async () => {
    const statuses = async (token: string, n: number) => {
      const out = [];
      for (let i = 0; i < n; i++) out.push((await get("/metered/x", token)).status);
      return out;
    };
    assert.deepEqual(await statuses(await jwt({}, undefined, "alice"), 4), [200, 200, 200, 429]);
    assert.deepEqual(await statuses(await jwt({}, undefined, "bob"), 1), [200], "another subject, its own quota");
    const issued = await gw.admin("POST", `/admin/v1/tenants/${tenantId}/keys`, { env: "live", scopes: [] });
    const [keyId, key] = [String(issued.json.id), String(issued.json.key)];
    assert.equal((await get("/metered/x", key)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const usage = (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/usage`)).json.usage as { name: string; subject: string; used: number }[];
    const rows = usage.filter((u) => u.name === "per-subject").map((u) => [u.subject, u.used]);
    assert.deepEqual(
      rows.sort(),
      [
        [keyId, 1],
        [`jwt:${tenantId}:${encodeURIComponent("https://idp.test/")}:alice`, 3],
        [`jwt:${tenantId}:${encodeURIComponent("https://idp.test/")}:bob`, 1],
      ].sort(),
    );
    const other = await gw.admin("POST", "/admin/v1/tenants", { name: "another tenant" });
    const theirs = (await gw.admin("GET", `/admin/v1/tenants/${String(other.json.id)}/usage`)).json.usage as { subject: string }[];
    assert.deepEqual(theirs.map((u) => u.subject), [], "another tenant's report lists none of them");
  });

  test("an unknown issuer, a missing scope, a key-only route and a suspended tenant are refused", async () => {
    assert.equal((await get("/x", await jwt({}, "https://other-idp.test/"))).status, 401);
    assert.equal((await get("/reports/q1", await jwt({ scope: "profile" }))).status, 403);
    assert.equal((await get("/machine/x", await jwt())).status, 401);
    await gw.admin("POST", `/admin/v1/tenants/${tenantId}/suspend`);
    assert.equal((await get("/x", await jwt())).status, 401, "suspension applies to token callers at once");
    await gw.admin("POST", `/admin/v1/tenants/${tenantId}/activate`);
    assert.equal((await get("/x", await jwt())).status, 200);
  });
});

describe("gateway on a Postgres server", () => {
  test("keys issued through the admin API authenticate, and revocation applies, with Postgres as the store", async (t) => {
    const server = await createTestDatabase();
    if (typeof server === "string") return void t.skip(server);
    const gw = await startTestGateway(undefined, { databaseUrl: server.url });
    try {
      const status = (await (await fetch(`${gw.adminUrl}/health/status`)).json()) as { stores: { durable: string } };
      assert.equal(status.stores.durable, "postgres");
      const { key, keyId } = await tenantWithKey(gw, { scopes: ["read"] });
      assert.equal((await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
      await gw.admin("POST", `/admin/v1/keys/${keyId}/revoke`);
      assert.equal((await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${key}` } })).status, 401);
    } finally {
      await gw.close();
      await server.drop();
    }
  });
});
