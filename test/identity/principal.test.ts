import assert from "node:assert/strict";
import { test } from "node:test";
import { callerId, type Principal } from "../../src/identity/principal.js";

const jwt = (issuer: string, sub: string, tenantId = "t-1"): Principal => ({ kind: "jwt", tenantId, id: sub, scopes: new Set(), issuer });

test("the caller id used for rate limits and quotas tells every caller apart", () => {
  const ids = [
    callerId(jwt("https://idp", "8443:alice")),
    callerId(jwt("https://idp:8443", "alice")),
    callerId(jwt("https://idp", "alice")),
    callerId(jwt("https://other-idp", "alice")),
    callerId(jwt("https://idp", "alice", "t-2")),
    callerId({ kind: "api_key", tenantId: "t-1", id: "alice", scopes: new Set(), env: "live" }),
  ];
  assert.equal(new Set(ids).size, ids.length, ids.join("\n"));
  assert.equal(callerId({ kind: "api_key", tenantId: "t-1", id: "k-1", scopes: new Set(), env: "live" }), "k-1", "a key is counted by its id, as the usage report lists it");
});
