import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startFlakyUpstream } from "../helpers/flaky-upstream.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

const route = (forward: Record<string, unknown>) => ({
  version: 1,
  routes: [{ name: "api", match: { path: "/**" }, authenticate: "none", forward }],
});

describe("retries to a failing upstream", () => {
  let upstream: Awaited<ReturnType<typeof startFlakyUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startFlakyUpstream();
    gw = await startTestGateway(route({ retries: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 }, circuitBreaker: { enabled: false } }), { upstreamUrl: upstream.url });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test("an idempotent request cut before its answer is sent again and succeeds", async () => {
    upstream.mode = "reset-once";
    upstream.resetNext = true;
    upstream.received = 0;
    for (const method of ["GET", "PUT", "DELETE"]) {
      const response = await fetch(`${gw.url}/things/1`, { method });
      assert.equal(response.status, 200, method);
      assert.deepEqual(await response.json(), { method });
    }
    assert.equal(upstream.received, 6, "each one twice: cut, then answered");
  });

  test("a POST the upstream may have received is never sent again, not even with an Idempotency-Key", async () => {
    upstream.mode = "reset-once";
    upstream.resetNext = true;
    upstream.received = 0;
    const post = await fetch(`${gw.url}/things`, { method: "POST" });
    assert.equal(post.status, 502);
    assert.equal(((await post.json()) as { code: string }).code, "UPSTREAM_UNAVAILABLE");
    assert.equal(upstream.received, 1);
    upstream.resetNext = true;
    // The key is the client's promise to retry safely, not the upstream's: on a route without the
    // idempotency control the upstream may keep no record at all.
    const keyed = await fetch(`${gw.url}/things`, { method: "POST", headers: { "idempotency-key": "k-1" } });
    assert.equal(keyed.status, 502);
    await keyed.text();
    assert.equal(upstream.received, 2);
  });

  test("a streamed body is not sent twice: a PUT with a body the gateway did not read whole is not retried", async () => {
    upstream.mode = "reset-once";
    upstream.resetNext = true;
    upstream.received = 0;
    const response = await fetch(`${gw.url}/things/1`, { method: "PUT", body: "payload", headers: { "content-type": "text/plain" } });
    assert.equal(response.status, 502);
    await response.text();
    assert.equal(upstream.received, 1);
  });

  test("retries are bounded: a dead upstream gets the first try and the configured two more", async () => {
    upstream.mode = "reset";
    upstream.received = 0;
    const response = await fetch(`${gw.url}/things/1`);
    assert.equal(response.status, 502);
    await response.text();
    assert.equal(upstream.received, 3);
  });

  test("never after the upstream has begun to answer: a body cut midway is not retried, the client's connection is cut", async () => {
    upstream.mode = "cut-body";
    upstream.received = 0;
    const response = await fetch(`${gw.url}/things/1`);
    assert.equal(response.status, 200);
    await assert.rejects(response.text());
    assert.equal(upstream.received, 1);
  });

  test("an answer of the upstream's own, even a 503, is passed on and not retried", async () => {
    upstream.mode = "503";
    upstream.received = 0;
    const response = await fetch(`${gw.url}/things/1`);
    assert.equal(response.status, 503);
    assert.equal(await response.text(), "busy");
    assert.equal(upstream.received, 1);
  });
});

describe("retries of an idempotent POST the gateway keeps the record of", () => {
  let upstream: Awaited<ReturnType<typeof startFlakyUpstream>>;
  let gw: TestGateway;
  let key: string;

  before(async () => {
    upstream = await startFlakyUpstream();
    gw = await startTestGateway(
      {
        version: 1,
        routes: [{ name: "api", match: { path: "/**" }, idempotency: {}, forward: { headersTimeoutMs: 1_000, retries: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, circuitBreaker: { enabled: false } } }],
      },
      { upstreamUrl: upstream.url },
    );
    key = (await tenantWithKey(gw)).key;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test("an upstream slower than the headers timeout sees the POST once, and the client is told it timed out", async () => {
    upstream.mode = "slow";
    upstream.received = 0;
    const response = await fetch(`${gw.url}/orders`, { method: "POST", headers: { authorization: `Bearer ${key}`, "idempotency-key": "slow-1", "content-type": "application/json" }, body: "{}" });
    assert.equal(response.status, 504);
    assert.equal(((await response.json()) as { code: string }).code, "UPSTREAM_TIMEOUT");
    // Long enough for a retry the gateway might have sent after its backoff to have arrived.
    await sleep(1_700);
    assert.equal(upstream.received, 1);
  });

  test("a connection cut after sending is not retried either; a retry by the client with the same key is answered 409 while the claim holds", async () => {
    upstream.mode = "reset";
    upstream.received = 0;
    const response = await fetch(`${gw.url}/orders`, { method: "POST", headers: { authorization: `Bearer ${key}`, "idempotency-key": "cut-1", "content-type": "application/json" }, body: "{}" });
    assert.equal(response.status, 502);
    await response.text();
    assert.equal(upstream.received, 1);
    const again = await fetch(`${gw.url}/orders`, { method: "POST", headers: { authorization: `Bearer ${key}`, "idempotency-key": "cut-1", "content-type": "application/json" }, body: "{}" });
    assert.equal(again.status, 409);
    await again.text();
    assert.equal(upstream.received, 1);
  });
});

describe("the circuit breaker", () => {
  let upstream: Awaited<ReturnType<typeof startFlakyUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startFlakyUpstream();
    gw = await startTestGateway(route({ retries: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 400 } }), { upstreamUrl: upstream.url });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const metric = async () => {
    const text = await (await fetch(`${gw.adminUrl}/health/metrics`, { headers: { authorization: "Bearer test-admin-token-0123456789abcdefghijklmnop" } })).text();
    return /portcullis_upstream_circuit_state\{upstream="[^"]+"\} (\d)/.exec(text)?.[1];
  };

  test("opens after failures in a row, answers 503 with Retry-After without calling the upstream, probes once after the pause, closes on success", async () => {
    upstream.mode = "reset";
    upstream.received = 0;
    for (let i = 0; i < 3; i++) {
      const failed = await fetch(`${gw.url}/x`);
      assert.equal(failed.status, 502);
      await failed.text();
    }
    assert.equal(await metric(), "1");
    const paused = await Promise.all(Array.from({ length: 10 }, () => fetch(`${gw.url}/x`)));
    for (const response of paused) {
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "1");
      assert.equal(((await response.json()) as { code: string }).code, "UPSTREAM_CIRCUIT_OPEN");
    }
    assert.equal(upstream.received, 3, "nothing reached the upstream while the circuit was open");

    // Half-open: the probe fails, so the circuit opens again at once.
    await sleep(450);
    const probe = await fetch(`${gw.url}/x`);
    assert.equal(probe.status, 502);
    await probe.text();
    assert.equal(upstream.received, 4);
    const again = await fetch(`${gw.url}/x`);
    assert.equal(again.status, 503);
    await again.text();

    // The upstream recovers; the next probe succeeds and the circuit closes.
    upstream.mode = "ok";
    await sleep(450);
    for (let i = 0; i < 3; i++) {
      const ok = await fetch(`${gw.url}/x`);
      assert.equal(ok.status, 200);
      await ok.text();
    }
    assert.equal(await metric(), "0");
    const listed = await gw.admin("GET", "/admin/v1/security-events");
    const events = listed.json as { events: { type: string }[] };
    const types = events.events.map((e) => e.type);
    assert.ok(types.includes("upstream_circuit_open") && types.includes("upstream_circuit_closed"), types.join(","));
  });

  test("the upstream's own 502/503/504 answers count against it too", async () => {
    upstream.mode = "503";
    for (let i = 0; i < 3; i++) await (await fetch(`${gw.url}/y`)).text();
    const paused = await fetch(`${gw.url}/y`);
    assert.equal(paused.status, 503);
    assert.equal(((await paused.json()) as { code: string }).code, "UPSTREAM_CIRCUIT_OPEN");
    upstream.mode = "ok";
    await sleep(450);
    assert.equal((await fetch(`${gw.url}/y`)).status, 200);
  });
});

describe("which failures allow sending a request again", () => {
  test("a POST may go again only when it provably never left: refused, yes; cut after sending, no; an idempotent method, always", async () => {
    const { request } = await import("undici");
    const { maySendAgain } = await import("../../src/resilience/index.js");
    const closed = await startFlakyUpstream();
    const port = closed.port;
    await closed.close();
    const refused = await request(`http://127.0.0.1:${port}/`, { method: "POST", body: "x" }).catch((error: unknown) => error);
    assert.equal(maySendAgain("POST", refused), true);
    const cutting = await startFlakyUpstream();
    cutting.mode = "reset";
    const cut = await request(`${cutting.url}/`, { method: "POST", body: "x" }).catch((error: unknown) => error);
    await cutting.close();
    assert.equal(cutting.received, 1);
    assert.equal(maySendAgain("POST", cut), false);
    assert.equal(maySendAgain("PATCH", cut), false);
    assert.equal(maySendAgain("PUT", cut), true);
    assert.equal(maySendAgain("GET", cut), true);
  });
});
