import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parsePolicy } from "../../src/adapters/in-process.js";
import { startCountingUpstream } from "../helpers/counting-upstream.js";
import { freePort } from "../helpers/ports.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

describe("idempotency keys through the gateway", () => {
  let gw: TestGateway;
  let upstream: Awaited<ReturnType<typeof startCountingUpstream>>;
  let key: string;
  let otherKeyOfTenant: string;
  let otherTenantKey: string;
  const policy = (deadUpstream: string) => ({
    version: 1,
    routes: [
      { name: "strict", match: { path: "/strict/**" }, idempotency: { required: true } },
      { name: "metered", match: { path: "/metered/**" }, idempotency: {}, quotas: [{ name: "daily", by: "tenant", limit: 2, per: "day" }] },
      { name: "down", match: { path: "/down/**" }, idempotency: {}, forward: { upstream: deadUpstream } },
      { name: "orders", match: { path: "/**" }, idempotency: { maxResponseBytes: 4096 } },
    ],
  });

  before(async () => {
    upstream = await startCountingUpstream();
    gw = await startTestGateway(policy(`http://127.0.0.1:${await freePort()}`), { upstreamUrl: upstream.url });
    const first = await tenantWithKey(gw);
    key = first.key;
    otherKeyOfTenant = String((await gw.admin("POST", `/admin/v1/tenants/${first.tenantId}/keys`, { env: "test", scopes: [] })).json.key);
    otherTenantKey = (await tenantWithKey(gw)).key;
  });
  after(async () => {
    await gw.close();
    upstream.server.closeAllConnections();
    upstream.server.close();
  });

  const post = (path: string, idempotencyKey: string | string[] | undefined, body = '{"amount":10}', credential = key) => {
    const headers = new Headers({ authorization: `Bearer ${credential}`, "content-type": "application/json" });
    for (const k of idempotencyKey === undefined ? [] : Array.isArray(idempotencyKey) ? idempotencyKey : [idempotencyKey]) headers.append("idempotency-key", k);
    return fetch(gw.url + path, { method: "POST", headers, body });
  };
  const code = async (response: Response) => ((await response.json()) as { code: string }).code;

  test("a retry gets the first answer, marked as a replay, and the upstream sees the request once", async () => {
    const first = await post("/orders/a", "k-1");
    assert.equal(first.status, 201);
    const firstBody = await first.text();
    assert.equal(first.headers.get("idempotent-replayed"), null);
    for (let i = 0; i < 3; i++) {
      const retry = await post("/orders/a", "k-1");
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get("idempotent-replayed"), "true");
      assert.equal(retry.headers.get("location"), "/orders/42");
      assert.equal(retry.headers.get("content-type"), "application/json");
      assert.equal(retry.headers.get("set-cookie"), null, "a cookie is never handed out twice");
      assert.equal(retry.headers.get("x-upstream-private"), null, "only the allow-listed headers are stored");
      assert.ok(retry.headers.get("x-request-id"), "a replay has its own request id");
      assert.equal(await retry.text(), firstBody);
    }
    assert.equal(upstream.hits.get("/orders/a"), 1);
  });

  test("the same key with another body, path or query is 422, not a replay and not a second run", async () => {
    assert.equal((await post("/orders/b", "k-2")).status, 201);
    for (const [path, body] of [["/orders/b", '{"amount":99}'], ["/orders/c", '{"amount":10}'], ["/orders/b?x=1", '{"amount":10}']] as const) {
      const reused = await post(path, "k-2", body);
      assert.equal(reused.status, 422);
      assert.equal(await code(reused), "IDEMPOTENCY_KEY_REUSED");
    }
    assert.equal(upstream.hits.get("/orders/c"), undefined);
  });

  test("one caller's key never replays another's answer: another key of the tenant, another tenant", async () => {
    assert.equal((await post("/orders/d", "k-3", '{"who":"a"}')).status, 201);
    const sameTenant = await post("/orders/d", "k-3", '{"who":"b"}', otherKeyOfTenant);
    assert.equal(sameTenant.status, 201);
    assert.equal(sameTenant.headers.get("idempotent-replayed"), null);
    assert.match(await sameTenant.text(), /"who\\":\\"b/);
    const otherTenant = await post("/orders/d", "k-3", '{"who":"c"}', otherTenantKey);
    assert.equal(otherTenant.headers.get("idempotent-replayed"), null);
    assert.equal(upstream.hits.get("/orders/d"), 3);
  });

  test("20 concurrent requests with one key reach the upstream once; the others wait (409 + Retry-After) or replay", async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => post("/orders/slow-1", "k-4")));
    assert.equal(upstream.hits.get("/orders/slow-1"), 1);
    let inProgress = 0;
    for (const r of responses) {
      if (r.status === 409) {
        inProgress++;
        assert.equal(await code(r), "IDEMPOTENCY_IN_PROGRESS");
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
      } else {
        assert.equal(r.status, 201);
        await r.arrayBuffer();
      }
    }
    assert.ok(inProgress >= 1, "the upstream takes 300 ms: some retries arrive while the first is in flight");
  });

  test("a 5xx the upstream gave is the answer too: replayed, not retried", async () => {
    assert.equal((await post("/orders/fail", "k-5")).status, 500);
    const retry = await post("/orders/fail", "k-5");
    assert.equal(retry.status, 500);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.equal(upstream.hits.get("/orders/fail"), 1);
  });

  test("a request never delivered (upstream down) stores nothing: the retry is tried again, not 409", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await post("/down/x", "k-6");
      assert.equal(r.status, 502);
      assert.equal(await code(r), "UPSTREAM_UNAVAILABLE");
    }
  });

  test("a replay is not charged to the quota; a fresh key is; a request the quota refuses leaves its key free", async () => {
    const fresh = await tenantWithKey(gw);
    assert.equal((await post("/metered/x", "m-1", "{}", fresh.key)).status, 201);
    for (let i = 0; i < 3; i++) assert.equal((await post("/metered/x", "m-1", "{}", fresh.key)).headers.get("idempotent-replayed"), "true");
    assert.equal((await post("/metered/x", "m-2", "{}", fresh.key)).status, 201, "the second charge of a quota of 2");
    for (let i = 0; i < 2; i++) {
      const refused = await post("/metered/x", "m-3", "{}", fresh.key);
      assert.equal(refused.status, 429);
      assert.equal(await code(refused), "QUOTA_EXCEEDED", "not IDEMPOTENCY_IN_PROGRESS: the refused request released its key");
    }
    assert.equal(upstream.hits.get("/metered/x"), 2);
  });

  test("keys: the structured-field and plain forms are one key; malformed, oversized and repeated keys are 400; required means required", async () => {
    assert.equal((await post("/orders/sf", '"k-7"')).status, 201);
    assert.equal((await post("/orders/sf", "k-7")).headers.get("idempotent-replayed"), "true");
    assert.equal((await post("/orders/sf", '"k-\\"8"')).status, 201, "an escaped quote");
    for (const bad of ['"k-9', '"k"9"', '"k\\n"', "k 9", "", "x".repeat(256), "k\u00e9", '"\\"'.slice(0, 2), '"\\"', '"k\\"']) {
      const r = await post("/orders/sf", bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(await code(r), "IDEMPOTENCY_KEY_INVALID");
    }
    const twice = await post("/orders/sf", ["a", "b"]);
    assert.equal(await code(twice), "IDEMPOTENCY_KEY_INVALID");
    const missing = await post("/strict/x", undefined);
    assert.equal(missing.status, 400);
    assert.equal(await code(missing), "IDEMPOTENCY_KEY_REQUIRED");
    assert.equal((await post("/strict/x", "s-1")).status, 201);
    assert.equal((await post("/orders/no-key", undefined)).status, 201, "optional: a request without a key is served as usual");
  });

  test("safe methods ignore the header: a GET is served every time", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${gw.url}/orders/get`, { headers: { authorization: `Bearer ${key}`, "idempotency-key": "g-1" } });
      assert.equal(r.headers.get("idempotent-replayed"), null);
      await r.arrayBuffer();
    }
    assert.equal(upstream.hits.get("/orders/get"), 2);
  });

  test("an answer over maxResponseBytes is replayed with its status and headers only", async () => {
    const big = "x".repeat(5000);
    const first = await post("/orders/big", "b-1", big);
    assert.equal(first.status, 201);
    assert.ok((await first.text()).length > 4096);
    const retry = await post("/orders/big", "b-1", big);
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.equal(await retry.text(), "");
    assert.equal(upstream.hits.get("/orders/big"), 1);
  });

  test("an answer whose record cannot be written is cut, never ended cleanly: the client never holds a success it would not retry", async () => {
    // The write of the record fails as it would in an outage; the claim before it succeeds.
    await gw.gateway.db.asOwner(async (q) => {
      await q.query(`create function refuse_idempotency_write() returns trigger language plpgsql as $$ begin raise exception 'store down'; end $$`);
      await q.query("create trigger refuse_idempotency_write before update on idempotency_records for each row when (new.state = 'done') execute function refuse_idempotency_write()");
    });
    try {
      // A short answer is held back whole, head included; a longer one would lose its last bytes.
      await assert.rejects(post("/orders/unstored", "u-1").then((response) => response.text()), "the answer is cut");
      // Nothing replays it, and the key is still held by the claim: the retry waits instead of running twice.
      const retry = await post("/orders/unstored", "u-1");
      assert.equal(retry.status, 409);
      await retry.text();
      assert.equal(upstream.hits.get("/orders/unstored"), 1);
    } finally {
      await gw.gateway.db.asOwner(async (q) => {
        await q.query("drop trigger refuse_idempotency_write on idempotency_records");
        await q.query("drop function refuse_idempotency_write()");
      });
    }
  });

  test("the decision API, which never sees the answer, refuses such a policy at load", async () => {
    await assert.rejects(startTestGateway(policy("http://127.0.0.1:1"), { upstreamUrl: upstream.url, decision: true }), /idempotency/);
    assert.throws(() => parsePolicy({ version: 1, routes: [{ name: "open", match: { path: "/**" }, authenticate: "none", idempotency: {} }] }, "p"), /idempotency keys are per caller/);
  });
});
