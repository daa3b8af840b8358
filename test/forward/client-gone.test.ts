import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import { once } from "node:events";
import { connect } from "node:net";
import { test } from "node:test";
import { Agent } from "undici";
import { relayResponse } from "../../src/forward/response-relay.js";
import { isCallerGone, UpstreamGuard } from "../../src/resilience/guard.js";

test("a client gone before its request is forwarded: nothing reaches the upstream, and the breaker does not count it", async () => {
  let received = 0;
  const upstream = createServer((_req, res) => {
    received++;
    res.end("ok");
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  const origin = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const pool = new Agent();
  const guard = new UpstreamGuard(origin, { retries: { attempts: 0, baseDelayMs: 10, maxDelayMs: 10 }, circuitBreaker: { enabled: true, consecutiveFailures: 1, halfOpenAfterMs: 60_000 } });
  const gone: ServerResponse[] = [];
  const front = createServer((_req, res) => gone.push(res));
  front.listen(0, "127.0.0.1");
  await once(front, "listening");
  for (let i = 0; i < 3; i++) {
    // A client that sends a request and hangs up before the gateway forwards it.
    const socket = connect((front.address() as { port: number }).port, "127.0.0.1");
    socket.end("POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}");
    while (gone.length <= i) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    const res = gone[i]!;
    if (!res.destroyed) await once(res, "close");
    const outcome = await guard
      .run(async () => {
        await relayResponse(pool, { origin, method: "POST", path: "/x", body: "{}" }, res, () => undefined);
        return { value: undefined, failed: false };
      }, undefined)
      .catch((error: unknown) => error);
    assert.ok(isCallerGone(outcome), "rejected as the caller's own stop");
    assert.equal(res.statusCode, 499);
  }
  assert.equal(received, 0, "the upstream got nothing");
  // With one failure enough to open it, the breaker is still closed: the next request goes through.
  const ok = await guard.run(async () => {
    const answer = await pool.request({ origin, method: "GET", path: "/" });
    await answer.body.dump();
    return { value: answer.statusCode, failed: false };
  }, undefined);
  assert.equal(ok, 200);
  await pool.close();
  front.close();
  upstream.close();
});
