import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

/** A refusal with its per-request id taken out: what is left must not tell one failure from another. */
async function shape(response: Response): Promise<string> {
  const body = (await response.json()) as Record<string, unknown>;
  delete body.request_id;
  return `${response.status} ${response.headers.get("content-type")} ${JSON.stringify(body)}`;
}

describe("enumeration safety: every authentication and session refusal reads the same, whatever exists", () => {
  let gw: TestGateway;
  let tenantId: string;
  let issuerKey: string;
  before(async () => {
    gw = await startTestGateway({ version: 1, routes: [{ name: "api", match: { path: "/**" } }] });
    const issuer = await tenantWithKey(gw, { scopes: ["sessions:write"] });
    tenantId = issuer.tenantId;
    issuerKey = issuer.key;
  });
  after(() => gw.close());

  const issue = async (subject: string) =>
    (await (
      await fetch(`${gw.url}/portcullis/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${issuerKey}`, "content-type": "application/json" }, body: JSON.stringify({ subject }) })
    ).json()) as { access_token: string; refresh_token: string };
  const refresh = (token: string) =>
    fetch(`${gw.url}/portcullis/v1/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&refresh_token=${token}` });

  test("access tokens: unknown, forged, of a revoked session, of a signed-out subject", async () => {
    const revoked = await issue("a");
    await fetch(`${gw.url}/portcullis/v1/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${revoked.refresh_token}` });
    const signedOut = await issue("b");
    await gw.admin("POST", `/admin/v1/tenants/${tenantId}/subjects/b/sessions/revoke`);
    const live = await issue("c");
    const forged = live.access_token.slice(0, -4) + (live.access_token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const shapes = new Set<string>();
    for (const token of [revoked.access_token, signedOut.access_token, forged, `${live.access_token.split(".")[0]}.e30.${randomBytes(32).toString("base64url")}`, "sk_test_" + randomBytes(24).toString("base64url")]) {
      shapes.add(await shape(await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${token}` } })));
    }
    assert.equal(shapes.size, 1, [...shapes].join("\n"));
    assert.match([...shapes][0]!, /^401 .*UNAUTHENTICATED/);
  });

  test("refresh tokens: unknown, forged, spent, of a revoked family", async () => {
    const spent = await issue("d");
    await refresh(spent.refresh_token);
    const revoked = await issue("e");
    await fetch(`${gw.url}/portcullis/v1/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${revoked.refresh_token}` });
    const live = await issue("f");
    const answers = new Set<string>();
    for (const token of [spent.refresh_token, revoked.refresh_token, "rt1_" + randomBytes(68).toString("base64url"), live.refresh_token.slice(0, -2) + "AA", "rt1_x"]) {
      const r = await refresh(token);
      answers.add(`${r.status} ${await r.text()}`);
    }
    assert.equal(answers.size, 1, [...answers].join("\n"));
  });
});
