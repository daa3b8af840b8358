import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

describe("vault through the gateway", () => {
  let gw: TestGateway;
  let writer: string;
  let reader: string;
  let noScopes: string;
  let otherTenant: string;
  before(async () => {
    gw = await startTestGateway();
    const tenant = await tenantWithKey(gw, { scopes: ["vault:read", "vault:write"] });
    writer = tenant.key;
    const readOnly = await gw.admin("POST", `/admin/v1/tenants/${tenant.tenantId}/keys`, { env: "live", scopes: ["vault:read"] });
    reader = String(readOnly.json.key);
    const plain = await gw.admin("POST", `/admin/v1/tenants/${tenant.tenantId}/keys`, { env: "live", scopes: [] });
    noScopes = String(plain.json.key);
    otherTenant = (await tenantWithKey(gw, { scopes: ["vault:read", "vault:write"] })).key;
  });
  after(() => gw.close());

  const call = (method: string, path: string, key: string | undefined, body?: Buffer) =>
    fetch(`${gw.url}/portcullis/v1/vault/secrets${path}`, {
      method,
      headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
      ...(body === undefined ? {} : { body }),
    });

  test("a service writes, reads, lists and deletes its tenant's secrets", async () => {
    const value = randomBytes(2000);
    const put = await call("PUT", "/stripe/api-key?purpose=oauth.token", writer, value);
    assert.equal(put.status, 200);
    assert.equal(((await put.json()) as { purpose: string }).purpose, "oauth.token");
    const got = await call("GET", "/stripe/api-key", reader);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("cache-control"), "no-store");
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), value);
    const list = (await (await call("GET", "", reader)).json()) as { secrets: { name: string }[] };
    assert.deepEqual(list.secrets.map((s) => s.name), ["stripe/api-key"]);
    assert.ok(!JSON.stringify(list).includes(value.toString("base64").slice(0, 20)));
    assert.equal((await call("DELETE", "/stripe/api-key", writer)).status, 204);
    assert.equal((await call("GET", "/stripe/api-key", reader)).status, 404);
  });

  test("scopes decide: read-only keys cannot write, scope-less keys cannot read, no key is 401", async () => {
    await call("PUT", "/s", writer, Buffer.from("v"));
    assert.equal((await call("PUT", "/s", reader, Buffer.from("x"))).status, 403);
    assert.equal((await call("DELETE", "/s", reader)).status, 403);
    assert.equal((await call("GET", "/s", noScopes)).status, 403);
    assert.equal((await call("GET", "/s", undefined)).status, 401);
    assert.equal(Buffer.from(await (await call("GET", "/s", reader)).arrayBuffer()).toString(), "v");
  });

  test("another tenant's credential sees nothing of this tenant's secrets", async () => {
    await call("PUT", "/private", writer, Buffer.from("tenant-one-only"));
    assert.equal((await call("GET", "/private", otherTenant)).status, 404);
    assert.equal((await call("DELETE", "/private", otherTenant)).status, 404);
    const list = (await (await call("GET", "", otherTenant)).json()) as { secrets: unknown[] };
    assert.deepEqual(list.secrets, []);
    assert.equal((await call("GET", "/private", reader)).status, 200);
  });

  test("bad requests: oversized values, bad names, wrong methods", async () => {
    assert.equal((await call("PUT", "/big", writer, Buffer.alloc(70 * 1024))).status, 413);
    assert.equal((await call("PUT", "/bad%20name", writer, Buffer.from("v"))).status, 400);
    assert.equal((await call("POST", "/x", writer, Buffer.from("v"))).status, 405);
    assert.equal((await call("PUT", "", writer, Buffer.from("v"))).status, 405);
    assert.equal((await call("PUT", "/x?purpose=Not%20Valid", writer, Buffer.from("v"))).status, 400);
  });

  test("every access is logged as an event with the secret's name, never its value", async () => {
    await call("PUT", "/logged", writer, Buffer.from("value-that-must-not-be-logged"));
    await call("GET", "/logged", reader);
    await call("GET", "/logged", noScopes);
    const events = gw.logs.flatMap((line) => line.split("\n")).filter((l) => l.includes('"vault_access"')).map((l) => JSON.parse(l) as Record<string, string>);
    const logged = events.filter((e) => e.entry === "logged");
    assert.deepEqual(logged.map((e) => [e.action, e.outcome]), [["write", "ok"], ["read", "ok"], ["read", "denied"]]);
    assert.ok(logged.every((e) => e.tenant_id && e.principal));
    assert.ok(!gw.logs.join("").includes("value-that-must-not-be-logged"));
  });

  test("the vault path is served by the gateway, never forwarded", async () => {
    const response = await call("GET", "/nothing-here", writer);
    assert.equal(response.status, 404);
    assert.equal(response.headers.get("content-type"), "application/problem+json");
  });

  test("the vault prefix matches as routes do: another spelling of it is the vault, never the upstream", async () => {
    for (const prefix of ["/Portcullis/v1/vault/secrets", "/PORTCULLIS/V1/VAULT/SECRETS"]) {
      const response = await fetch(`${gw.url}${prefix}/nothing-here`, { headers: { authorization: `Bearer ${writer}` } });
      assert.equal(response.status, 404, prefix);
      assert.equal(response.headers.get("content-type"), "application/problem+json", prefix);
    }
    assert.equal((await fetch(`${gw.url}/Portcullis/v1/vault/secrets/x`)).status, 401, "and it needs a credential");
  });
});
