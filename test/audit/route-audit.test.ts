import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parsePolicy } from "../../src/policy/load.js";
import { startCountingUpstream } from "../helpers/counting-upstream.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

describe("routes with audit: a record per mutating request, committed before the request goes on", () => {
  let gw: TestGateway;
  let tenantId: string;
  let key: string;
  let upstream: Awaited<ReturnType<typeof startCountingUpstream>>;

  before(async () => {
    upstream = await startCountingUpstream();
    gw = await startTestGateway({
      version: 1,
      routes: [
        { name: "orders", match: { path: "/orders/:orderId" }, audit: true },
        { name: "rest", match: { path: "/**" } },
      ],
    }, { upstreamUrl: upstream.url });
    tenantId = String((await gw.admin("POST", "/admin/v1/tenants", { name: "acme" })).json.id);
    key = String((await gw.admin("POST", `/admin/v1/tenants/${tenantId}/keys`, { env: "live", scopes: [] })).json.key);
  });
  after(async () => {
    await gw.close();
    upstream.server.closeAllConnections();
    upstream.server.close();
  });

  const records = async () => ((await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit?target_type=orders`)).json.records as { action: string; target_id: string; actor_type: string; outcome: string; ip: string }[]);

  test("a mutation is recorded with the route's action, its path parameters, the caller and the outcome; reads and other routes are not", async () => {
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    assert.equal((await fetch(`${gw.url}/orders/o-42`, { method: "POST", headers, body: JSON.stringify({ secret: "never recorded" }) })).status, 201);
    assert.equal((await fetch(`${gw.url}/orders/o-42`, { method: "DELETE", headers })).status, 200);
    assert.equal((await fetch(`${gw.url}/orders/o-42`, { headers })).status, 200);
    assert.equal((await fetch(`${gw.url}/other`, { method: "POST", headers })).status, 201);
    const got = await records();
    assert.deepEqual(got.map((r) => [r.action, r.target_id, r.actor_type, r.outcome]), [["orders.create", "o-42", "key", "attempted"], ["orders.delete", "o-42", "key", "attempted"]]);
    assert.ok(!JSON.stringify(got).includes("never recorded"), "no request body on the trail");
    assert.equal((await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit/verify`)).json.ok, true);
  });

  test("when the record cannot be written the request is refused with 503 and never reaches the upstream", async () => {
    await gw.gateway.db.asOwner((q) => q.query("revoke insert on audit_records from portcullis_app"));
    try {
      const response = await fetch(`${gw.url}/orders/o-43`, { method: "PUT", headers: { authorization: `Bearer ${key}` } });
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { code: string }).code, "STORE_UNAVAILABLE");
      assert.equal(upstream.hits.get("/orders/o-43"), undefined, "the upstream never saw it");
    } finally {
      await gw.gateway.db.asOwner((q) => q.query("grant insert on audit_records to portcullis_app"));
    }
    assert.ok(!(await records()).some((r) => r.target_id === "o-43"));
  });

  test("a route without authentication cannot ask for audit records", () => {
    assert.throws(() => parsePolicy({ version: 1, routes: [{ name: "open", match: { path: "/**" }, authenticate: "none", audit: true }] }, "p"), /audit/);
  });
});
