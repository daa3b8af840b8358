import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from "../helpers/gateway.js";

describe("admin API", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  test("every operation but health requires the admin token, compared whole", async () => {
    for (const authorization of [undefined, "Bearer wrong", `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, `Bearer ${ADMIN_TOKEN}x`, ADMIN_TOKEN, `Basic ${ADMIN_TOKEN}`]) {
      const response = await fetch(`${gw.adminUrl}/admin/v1/tenants`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify({ name: "x" }),
      });
      assert.equal(response.status, 401, String(authorization));
      assert.equal(response.headers.get("content-type"), "application/problem+json");
    }
    assert.equal((await fetch(`${gw.adminUrl}/admin/v1/openapi.json`)).status, 401);
    assert.equal((await fetch(`${gw.adminUrl}/health/ready`)).status, 200);
  });

  test("the admin API is not reachable through the gateway port", async () => {
    const response = await fetch(`${gw.url}/admin/v1/tenants`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(response.status, 401, "the gateway treats it as an ordinary route needing a tenant credential");
  });

  test("tenant and key lifecycle; the key is shown once", async () => {
    const created = await gw.admin("POST", "/admin/v1/tenants", { name: "  Acme  " });
    assert.equal(created.status, 201);
    assert.equal(created.json.name, "Acme");
    assert.equal(created.json.status, "active");
    const id = String(created.json.id);
    assert.equal((await gw.admin("GET", `/admin/v1/tenants/${id}`)).json.id, id);

    const issued = await gw.admin("POST", `/admin/v1/tenants/${id}/keys`, { env: "live", scopes: ["read"], expires_in: 3600 });
    assert.equal(issued.status, 201);
    assert.match(String(issued.json.key), /^sk_live_/);
    assert.ok(String(issued.json.key).startsWith(String(issued.json.prefix)));
    assert.ok(Date.parse(String(issued.json.expires_at)) > Date.now() + 3500_000);

    const listed = await gw.admin("GET", `/admin/v1/tenants/${id}/keys`);
    assert.equal(listed.status, 200);
    assert.ok(!JSON.stringify(listed.json).includes(String(issued.json.key)), "listing never shows the key");
    assert.ok(!("key" in (listed.json.keys as object[])[0]!));

    const rotated = await gw.admin("POST", `/admin/v1/keys/${String(issued.json.id)}/rotate`, { grace_seconds: 30 });
    assert.equal(rotated.status, 201);
    assert.notEqual(rotated.json.key, issued.json.key);
    const revoked = await gw.admin("POST", `/admin/v1/keys/${String(rotated.json.id)}/revoke`);
    assert.equal(revoked.status, 200);
    assert.ok(revoked.json.revoked_at);
    assert.equal((await gw.admin("POST", `/admin/v1/keys/${String(issued.json.id)}/rotate`, {})).status, 409);

    const suspended = await gw.admin("POST", `/admin/v1/tenants/${id}/suspend`);
    assert.equal(suspended.json.status, "suspended");
  });

  test("bad input gets a clear 4xx naming the field", async () => {
    const tenant = await gw.admin("POST", "/admin/v1/tenants", { name: "t" });
    const id = String(tenant.json.id);
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/admin/v1/tenants", {}, 422, "name"],
      ["POST", "/admin/v1/tenants", { name: "" }, 422, "name"],
      ["POST", "/admin/v1/tenants", { name: "x", extra: 1 }, 422, ""],
      ["POST", `/admin/v1/tenants/${id}/keys`, { env: "prod" }, 422, "env"],
      ["POST", `/admin/v1/tenants/${id}/keys`, { env: "live", scopes: ["a b"] }, 422, "scopes.0"],
      ["POST", `/admin/v1/tenants/${id}/keys`, { env: "live", expires_in: -5 }, 422, "expires_in"],
      ["POST", `/admin/v1/tenants/${id}/keys`, { env: "live", expires_in: "1h" }, 422, "expires_in"],
      ["GET", "/admin/v1/tenants/not-a-uuid", undefined, 404, ""],
      ["GET", "/admin/v1/tenants/00000000-0000-4000-8000-000000000000", undefined, 404, ""],
      ["POST", "/admin/v1/keys/00000000-0000-4000-8000-000000000000/revoke", undefined, 404, ""],
      ["POST", `/admin/v1/tenants/00000000-0000-4000-8000-000000000000/keys`, { env: "live" }, 404, ""],
      ["DELETE", "/admin/v1/tenants", undefined, 404, ""],
    ];
    for (const [method, path, body, status, field] of cases) {
      const response = await gw.admin(method, path, body);
      assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}`);
      if (field !== "") assert.ok(JSON.stringify(response.json.errors).includes(`"${field}"`), JSON.stringify(response.json));
    }
    const notJson = await fetch(`${gw.adminUrl}/admin/v1/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: "{name:",
    });
    assert.equal(notJson.status, 400);
    const wrongType = await fetch(`${gw.adminUrl}/admin/v1/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "text/plain" },
      body: '{"name":"x"}',
    });
    assert.equal(wrongType.status, 415);
    const huge = await fetch(`${gw.adminUrl}/admin/v1/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(100_000) }),
    });
    assert.equal(huge.status, 413);
  });

  test("the OpenAPI document describes every operation", async () => {
    const { status, json } = await gw.admin("GET", "/admin/v1/openapi.json");
    assert.equal(status, 200);
    assert.equal(json.openapi, "3.1.0");
    const paths = json.paths as Record<string, Record<string, { operationId: string }>>;
    const ids = Object.values(paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    for (const id of ["createTenant", "getTenant", "suspendTenant", "createKey", "listKeys", "rotateKey", "revokeKey"]) {
      assert.ok(ids.includes(id), id);
    }
    assert.ok(paths["/admin/v1/tenants/{id}/keys"]?.post);
  });

  test("the OpenAPI document gives a limit's name the policy's name pattern, an id the uuid format", async () => {
    const { json } = await gw.admin("GET", "/admin/v1/openapi.json");
    const op = (json.paths as Record<string, Record<string, { parameters: { name: string; schema: { format?: string; pattern?: string } }[] }>>)["/admin/v1/tenants/{id}/limits/{name}"]!.put!;
    const byName = Object.fromEntries(op.parameters.map((p) => [p.name, p.schema]));
    assert.equal(byName.id!.format, "uuid");
    assert.equal(byName.name!.format, undefined);
    assert.ok(new RegExp(byName.name!.pattern!).test("per-key"));
  });
});

