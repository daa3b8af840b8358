import assert from "node:assert/strict";
import { test } from "node:test";
import { responseHeaders } from "../../src/forward/forwarder.js";

test("the upstream's answer loses hop-by-hop headers, X-Powered-By, CORS headers and its own x-request-id; the route's headers win", () => {
  const out = responseHeaders(
    {
      "content-type": "application/json",
      connection: "keep-alive, x-upstream-hop",
      "keep-alive": "timeout=5",
      "x-upstream-hop": "1",
      "x-powered-by": "Express",
      "x-request-id": "upstream-chosen",
      "x-frame-options": "ALLOWALL",
      "set-cookie": ["a=1", "b=2"],
      "access-control-allow-origin": "*",
      "access-control-allow-credentials": "true",
    },
    { "x-frame-options": "DENY" },
  );
  assert.deepEqual(out, { "content-type": "application/json", "set-cookie": ["a=1", "b=2"], "x-frame-options": "DENY" });
});
