import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { LocalIdp } from "../helpers/idp.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

const ISSUER = "https://idp.roles.test";

describe("roles from the store: a demotion applies within a second, whatever the token claims", () => {
  const idp = new LocalIdp();
  let gw: TestGateway;
  let tenantId: string;
  let sessionsKey: string;
  let sign: (claims: Record<string, unknown>) => Promise<string>;

  before(async () => {
    await idp.start();
    const { privateKey, kid } = await idp.newKey("k1", "ES256");
    sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuer(ISSUER).setAudience("api").setExpirationTime("10m").sign(privateKey);
    gw = await startTestGateway({
      version: 1,
      jwt: { issuers: [{ issuer: ISSUER, jwksUri: idp.url, audience: "api", tenantClaim: "org", algorithms: ["ES256"] }] },
      roles: { admin: ["orders:delete", "orders:read"], viewer: ["orders:read"] },
      routes: [
        { name: "delete", match: { path: "/orders/:id", methods: ["DELETE"] }, authorize: { permissions: ["orders:delete"], onDenied: "not_found" } },
        { name: "read", match: { path: "/orders/:id", methods: ["GET"] }, authorize: { permissions: ["orders:read"] } },
        { name: "scoped", match: { path: "/scoped/**" }, authorize: { scopes: ["s:1"], permissions: ["orders:read"] } },
      ],
    });
    const issuer = await tenantWithKey(gw, { scopes: ["sessions:write"] });
    tenantId = issuer.tenantId;
    sessionsKey = issuer.key;
  });
  after(async () => {
    await gw.close();
    idp.server.close();
  });

  const setRoles = (kind: "users" | "keys", subject: string, roles: string[]) => gw.admin("PUT", `/admin/v1/tenants/${tenantId}/roles/${kind}/${encodeURIComponent(subject)}`, { roles });
  const call = (method: string, path: string, token: string) => fetch(gw.url + path, { method, headers: { authorization: `Bearer ${token}` } });
  const session = async (subject: string, roles: string[]) =>
    ((await (
      await fetch(`${gw.url}/portcullis/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${sessionsKey}`, "content-type": "application/json" }, body: JSON.stringify({ subject, roles }) })
    ).json()) as { access_token: string }).access_token;

  test("a session user demoted while holding a valid token loses the permission within a second", async () => {
    assert.equal((await setRoles("users", "alice", ["admin"])).status, 200);
    const token = await session("alice", ["admin"]);
    assert.equal((await call("DELETE", "/orders/1", token)).status, 200);
    assert.deepEqual((await setRoles("users", "alice", ["viewer"])).json, { roles: ["viewer"] });
    await sleep(1_100);
    assert.equal((await call("DELETE", "/orders/1", token)).status, 404, "onDenied: not_found hides the route");
    assert.equal((await call("GET", "/orders/1", token)).status, 200);
  });

  test("a live JWT with a stale role claim gets the store's roles, not its own", async () => {
    const token = await sign({ sub: "bob", org: tenantId, roles: ["admin"], role: "admin" });
    assert.equal((await call("GET", "/orders/1", token)).status, 403, "no roles in the store: the claim grants nothing");
    await setRoles("users", "bob", ["admin"]);
    await sleep(1_100);
    assert.equal((await call("DELETE", "/orders/1", token)).status, 200);
    await setRoles("users", "bob", []);
    await sleep(1_100);
    assert.equal((await call("DELETE", "/orders/1", token)).status, 404);
  });

  test("keys hold roles by key id; roles are per tenant; scopes and permissions are both required", async () => {
    const key = await tenantWithKey(gw, { scopes: [] });
    assert.equal((await call("GET", "/orders/1", key.key)).status, 403);
    assert.equal((await gw.admin("PUT", `/admin/v1/tenants/${key.tenantId}/roles/keys/${key.keyId}`, { roles: ["viewer"] })).status, 200);
    assert.equal((await call("GET", "/orders/1", key.key)).status, 200);
    assert.equal((await call("GET", "/scoped/x", key.key)).status, 403, "the permission without the scope");
    // The same subject in another tenant holds nothing here.
    await gw.admin("PUT", `/admin/v1/tenants/${key.tenantId}/roles/users/carol`, { roles: ["admin"] });
    assert.equal((await call("DELETE", "/orders/1", await session("carol", []))).status, 404);
  });

  test("the admin API refuses roles the policy does not define, and unknown subject kinds", async () => {
    assert.equal((await setRoles("users", "dave", ["root"])).status, 400);
    assert.equal((await setRoles("users", "dave", ["__proto__"])).status, 400);
    assert.equal((await gw.admin("PUT", `/admin/v1/tenants/${tenantId}/roles/groups/x`, { roles: [] })).status, 404);
    assert.deepEqual((await gw.admin("GET", `/admin/v1/tenants/${tenantId}/roles/users/alice`)).json, { roles: ["viewer"] });
  });
});
