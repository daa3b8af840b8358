import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

describe("HEAD through the gateway", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      version: 1,
      routes: [
        { name: "reports", match: { path: "/reports/**", methods: ["GET"] }, authorize: { scopes: ["reports:read"] }, limits: [{ name: "reports", by: ["key"], rate: 2, per: "minute" }] },
        { name: "site", match: { path: "/**" }, authenticate: "none" },
      ],
    });
  });
  after(() => gw.close());

  test("a GET-only route's authentication, scope and limit hold for HEAD: it never falls to the open catch-all", async () => {
    for (const method of ["GET", "HEAD"]) {
      const response = await fetch(`${gw.url}/reports/q3`, { method });
      assert.equal(response.status, 401, method);
      assert.equal(response.headers.get("x-echo-method"), null);
    }
    const { tenantId, key } = await tenantWithKey(gw);
    assert.equal((await fetch(`${gw.url}/reports/q3`, { method: "HEAD", headers: { authorization: `Bearer ${key}` } })).status, 403);
    const reader = String((await gw.admin("POST", `/admin/v1/tenants/${tenantId}/keys`, { env: "test", scopes: ["reports:read"] })).json.key);
    const statuses = [];
    for (const method of ["HEAD", "GET", "HEAD"]) statuses.push((await fetch(`${gw.url}/reports/q3`, { method, headers: { authorization: `Bearer ${reader}` } })).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal((await fetch(`${gw.url}/about`, { method: "HEAD" })).status, 200);
  });
});
