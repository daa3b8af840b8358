import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { quotaPeriod } from "../../src/quota/quota.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

/** An upstream that prices each request: `?cost=N` comes back as `x-cost: N`. */
function pricedUpstream(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const cost = new URL(req.url ?? "/", "http://x").searchParams.get("cost") ?? "0";
    res.writeHead(200, { "x-cost": cost, "content-type": "text/plain" }).end("ok");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

describe("quotas and budget caps", () => {
  let upstream: { url: string; server: Server };
  let gw: TestGateway;
  before(async () => {
    upstream = await pricedUpstream();
    gw = await startTestGateway(
      {
        version: 1,
        routes: [
          { name: "calls", match: { path: "/calls/**" }, quotas: [{ name: "daily-calls", by: "tenant", limit: 5, per: "day", warnAt: [0.6] }] },
          { name: "priced", match: { path: "/priced/**" }, quotas: [{ name: "monthly-spend", by: "key", limit: 10, per: "month", cost: { header: "X-Cost" } }] },
        ],
      },
      { upstreamUrl: upstream.url },
    );
  });
  after(async () => {
    await gw.close();
    upstream.server.close();
  });

  const get = async (path: string, key: string) => {
    const response = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await response.text();
    return { status: response.status, body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  test("a daily cap admits exactly its limit, refuses with QUOTA_EXCEEDED, warns once at the threshold, and shows in usage", async () => {
    const { tenantId, key } = await tenantWithKey(gw);
    const other = await tenantWithKey(gw);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await get("/calls/x", key)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    for (let i = 0; i < 3; i++) {
      const refused = await get("/calls/x", key);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.code, "QUOTA_EXCEEDED");
      assert.equal(refused.body.quota, "daily-calls");
    }
    assert.equal((await get("/calls/x", other.key)).status, 200, "another tenant has its own quota");

    const usage = (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/usage`)).json.usage as { name: string; used: number; limit: number; period: string; resets_at: string }[];
    const daily = usage.find((u) => u.name === "daily-calls")!;
    assert.equal(daily.used, 5, "refused requests are not charged");
    assert.equal(daily.limit, 5);
    assert.equal(daily.period, quotaPeriod("day", Date.now()).id);
    assert.ok(Date.parse(daily.resets_at) > Date.now());

    const events = (await gw.admin("GET", "/admin/v1/security-events")).json.events as { type: string; tenant_id: string; detail: Record<string, unknown> }[];
    const mine = events.filter((e) => e.tenant_id === tenantId);
    assert.equal(mine.filter((e) => e.type === "quota_threshold").length, 1, "one warning at 60 %, not one per request");
    assert.equal(mine.filter((e) => e.type === "quota_exhausted").length, 1);
    assert.equal((await gw.admin("GET", "/admin/v1/tenants/00000000-0000-4000-8000-000000000000/usage")).status, 404);
  });

  test("a cost the upstream states is charged per key after it answers; at the cap, the next request is refused", async () => {
    const { tenantId, key, keyId } = await tenantWithKey(gw);
    assert.equal((await get("/priced/a?cost=4", key)).status, 200);
    assert.equal((await get("/priced/a?cost=4", key)).status, 200);
    assert.equal((await get("/priced/a?cost=not-a-number", key)).status, 200, "an unreadable price charges nothing");
    assert.equal((await get("/priced/a?cost=4", key)).status, 200, "8 of 10 used: admitted, and the cap is passed by this one");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await get("/priced/a?cost=1", key);
    assert.equal(refused.body.code, "QUOTA_EXCEEDED");
    const usage = (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/usage`)).json.usage as { name: string; subject: string; used: number }[];
    assert.deepEqual(usage.filter((u) => u.name === "monthly-spend").map((u) => [u.subject, u.used]), [[keyId, 12]]);
  });

  test("a policy with a quota on a route without authentication is refused at load", async () => {
    await assert.rejects(
      startTestGateway({ version: 1, routes: [{ name: "r", match: { path: "/**" }, authenticate: "none", quotas: [{ name: "q", by: "tenant", limit: 1, per: "day" }] }] }),
      /quotas are per tenant or key/,
    );
  });
});

test("quota periods are calendar periods in UTC", () => {
  const at = Date.UTC(2026, 11, 31, 23, 59, 59);
  assert.deepEqual(quotaPeriod("day", at), { id: "2026-12-31", endsAt: Date.UTC(2027, 0, 1) });
  assert.deepEqual(quotaPeriod("month", at), { id: "2026-12", endsAt: Date.UTC(2027, 0, 1) });
  assert.deepEqual(quotaPeriod("month", Date.UTC(2028, 1, 29, 12)), { id: "2028-02", endsAt: Date.UTC(2028, 2, 1) });
});
