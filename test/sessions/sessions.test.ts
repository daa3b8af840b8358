import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { SessionTokens, type AccessClaims } from "../../src/sessions/index.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";

interface Pair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

const POLICY = (reuseIntervalSeconds = 0) => ({
  version: 1,
  sessions: { reuseIntervalSeconds },
  roles: { admin: ["everything"] },
  routes: [
    { name: "payouts", match: { path: "/payouts/**" }, authenticate: { methods: ["session"] }, stepUp: { maxAgeSeconds: 300, acr: ["mfa"] } },
    { name: "keys-only", match: { path: "/keys-only/**" }, authenticate: { methods: ["apiKey"] } },
    { name: "admin-only", match: { path: "/admin-only/**" }, authorize: { permissions: ["everything"] } },
    { name: "api", match: { path: "/**" } },
  ],
});

function sessionClient(gw: TestGateway, issuerKey: string) {
  const issue = async (body: unknown, key = issuerKey) =>
    fetch(`${gw.url}/portcullis/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const form = (path: string, fields: Record<string, string>, contentType = "application/x-www-form-urlencoded") =>
    fetch(`${gw.url}/portcullis/v1/${path}`, { method: "POST", headers: { "content-type": contentType }, body: new URLSearchParams(fields).toString() });
  return {
    issue,
    async pair(body: unknown = { subject: "user-1" }): Promise<Pair> {
      const r = await issue(body);
      assert.equal(r.status, 201, await r.clone().text());
      return (await r.json()) as Pair;
    },
    refresh: (refreshToken: string, extra: Record<string, string> = {}) => form("token", { grant_type: "refresh_token", refresh_token: refreshToken, ...extra }),
    revoke: (token: string) => form("revoke", { token }),
    form,
    call: (path: string, accessToken: string) => fetch(gw.url + path, { headers: { authorization: `Bearer ${accessToken}` } }),
  };
}

describe("gateway sessions: issue, authenticate, rotate, detect reuse, revoke", () => {
  let gw: TestGateway;
  let tenantId: string;
  let client: ReturnType<typeof sessionClient>;
  let plainKey: string;

  before(async () => {
    gw = await startTestGateway(POLICY());
    const issuer = await tenantWithKey(gw, { scopes: ["sessions:write"] });
    tenantId = issuer.tenantId;
    plainKey = (await tenantWithKey(gw)).key;
    client = sessionClient(gw, issuer.key);
  });
  after(() => gw.close());

  test("a key scoped sessions:write gets a pair for its own tenant; the access token authenticates and reaches the upstream as a session", async () => {
    const pair = await client.pair({ subject: "alice", roles: ["admin"], scopes: ["orders:read"], acr: "mfa", amr: ["pwd", "otp"] });
    assert.equal(pair.token_type, "Bearer");
    assert.ok(pair.expires_in > 500 && pair.expires_in <= 600);
    assert.ok(Buffer.from(pair.refresh_token.slice(4), "base64url").length >= 32, "the refresh token carries ≥ 128 bits no one can guess");
    const claims = decodeJwt(pair.access_token);
    assert.equal(claims.tid, tenantId);
    assert.equal(claims.sub, "alice");
    const r = await client.call("/orders", pair.access_token);
    assert.equal(r.status, 200);
    const identity = decodeJwt(String(((await r.json()) as { headers: Record<string, string> }).headers["x-portcullis-identity"]));
    assert.equal(identity.auth, "session");
    assert.equal(identity.sub, "alice");
    assert.equal(identity.tenant_id, tenantId);
    assert.equal(identity.scope, "orders:read");
  });

  test("issuing is refused without the scope, with a session token, and with a tenant named in the body", async () => {
    assert.equal((await client.issue({ subject: "x" }, plainKey)).status, 403);
    const pair = await client.pair();
    assert.equal((await client.issue({ subject: "x" }, pair.access_token)).status, 403);
    const withTenant = await client.issue({ subject: "x", tenant_id: "00000000-0000-4000-8000-000000000000" });
    assert.equal(withTenant.status, 422);
    assert.equal((await client.issue({ subject: "x", auth_time: Math.floor(Date.now() / 1000) + 3600 })).status, 422, "a sign-in from the future");
    assert.equal((await client.issue({ subject: "" })).status, 422);
  });

  test("each refresh rotates; a spent refresh token revokes the family, the live access token included, and raises an event", async () => {
    const first = await client.pair({ subject: "bob" });
    const second = (await (await client.refresh(first.refresh_token)).json()) as Pair;
    assert.notEqual(second.refresh_token, first.refresh_token);
    const third = (await (await client.refresh(second.refresh_token)).json()) as Pair;
    assert.equal((await client.call("/x", third.access_token)).status, 200);
    // The thief replays the first token.
    const replay = await client.refresh(first.refresh_token);
    assert.equal(replay.status, 400);
    assert.deepEqual(await replay.json(), { error: "invalid_grant", error_description: "The refresh token is invalid, expired or revoked." });
    assert.equal(replay.headers.get("cache-control"), "no-store");
    assert.equal((await client.call("/x", third.access_token)).status, 401, "the pair in use dies with its family");
    assert.equal((await client.refresh(third.refresh_token)).status, 400);
    const events = await gw.admin("GET", "/admin/v1/security-events");
    assert.ok((events.json.events as { type: string; tenant_id?: string }[]).some((e) => e.type === "refresh_token_reuse" && e.tenant_id === tenantId));
  });

  test("every refusal of the token endpoint reads the same, whatever was wrong with the token", async () => {
    const pair = await client.pair();
    const tampered = pair.refresh_token.slice(0, 10) + (pair.refresh_token[10] === "A" ? "B" : "A") + pair.refresh_token.slice(11);
    const bodies = new Set<string>();
    for (const token of [tampered, "rt1_" + randomBytes(68).toString("base64url"), "nonsense", pair.access_token, "rt1_"]) {
      const r = await client.refresh(token);
      assert.equal(r.status, 400);
      bodies.add(await r.text());
    }
    assert.equal(bodies.size, 1);
    assert.equal((await client.refresh(pair.refresh_token)).status, 200, "the real one still works");
  });

  test("the token endpoint speaks RFC 6749: form encoding, grant types, no repeated parameters", async () => {
    const pair = await client.pair();
    const json = await fetch(`${gw.url}/portcullis/v1/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "refresh_token", refresh_token: pair.refresh_token }) });
    assert.equal(((await json.json()) as { error: string }).error, "invalid_request");
    assert.equal(((await (await client.form("token", { grant_type: "password", username: "a", password: "b" })).json()) as { error: string }).error, "unsupported_grant_type");
    const twice = await fetch(`${gw.url}/portcullis/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}&refresh_token=${pair.refresh_token}`,
    });
    assert.equal(((await twice.json()) as { error: string }).error, "invalid_request");
    assert.equal((await fetch(`${gw.url}/portcullis/v1/token`)).status, 405);
    assert.equal((await fetch(`${gw.url}/Portcullis/V1/Token`, { method: "POST" })).status, 400, "the prefix cannot be dodged by case");
  });

  test("a refresh token bound to a client works for that client only", async () => {
    const pair = await client.pair({ subject: "carol", client_id: "web-app" });
    assert.equal((await client.refresh(pair.refresh_token)).status, 400);
    assert.equal((await client.refresh(pair.refresh_token, { client_id: "mobile" })).status, 400);
    // A refusal spends nothing: the real client's refresh still works, and is no reuse.
    const reuseEvents = () => gw.logs.filter((line) => line.includes('"refresh_token_reuse"')).length;
    const before = reuseEvents();
    const rotated = await client.refresh(pair.refresh_token, { client_id: "web-app" });
    assert.equal(rotated.status, 200);
    const next = ((await rotated.json()) as { refresh_token: string }).refresh_token;
    assert.equal((await client.refresh(next, { client_id: "web-app" })).status, 200, "the family lives on");
    assert.equal(reuseEvents(), before, "no false reuse alarm");
  });

  test("revocation (RFC 7009) answers 200 for any token and ends the session everywhere", async () => {
    const pair = await client.pair();
    assert.equal((await client.revoke("not-a-token")).status, 200);
    assert.equal((await client.revoke(pair.refresh_token)).status, 200);
    assert.equal((await client.call("/x", pair.access_token)).status, 401);
    assert.equal((await client.refresh(pair.refresh_token)).status, 400);
    const other = await client.pair();
    assert.equal((await client.revoke(other.access_token)).status, 200, "an access token names its session too");
    assert.equal((await client.refresh(other.refresh_token)).status, 400);
  });

  test("forged access tokens: another key, a changed payload, alg none", async () => {
    const pair = await client.pair({ subject: "dave", scopes: ["read"] });
    const foreign = new SessionTokens(randomBytes(32)).access({ ...(decodeJwt(pair.access_token) as unknown as AccessClaims), scope: "admin" });
    assert.equal((await client.call("/x", foreign)).status, 401);
    const [h, , s] = pair.access_token.split(".");
    const payload = Buffer.from(JSON.stringify({ ...decodeJwt(pair.access_token), scope: "admin" })).toString("base64url");
    assert.equal((await client.call("/x", `${h}.${payload}.${s}`)).status, 401);
    const none = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString("base64url")}.${payload}.`;
    assert.equal((await client.call("/x", none)).status, 401);
    assert.equal((await client.call("/keys-only/x", pair.access_token)).status, 401, "a route that takes keys only refuses sessions");
  });

  test("step-up reads the session's auth_time and acr", async () => {
    const old = await client.pair({ subject: "erin", acr: "mfa", auth_time: Math.floor(Date.now() / 1000) - 3600 });
    const refused = await client.call("/payouts/1", old.access_token);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, "STEP_UP_REQUIRED");
    assert.match(refused.headers.get("www-authenticate") ?? "", /error="insufficient_user_authentication".*max_age="300".*acr_values="mfa"/);
    const weak = await client.pair({ subject: "erin", acr: "pwd" });
    assert.equal((await client.call("/payouts/1", weak.access_token)).status, 401);
    const fresh = await client.pair({ subject: "erin", acr: "mfa" });
    assert.equal((await client.call("/payouts/1", fresh.access_token)).status, 200);
  });

  test("the admin API lists a user's sessions and signs them out everywhere; another tenant's id revokes nothing", async () => {
    const a = await client.pair({ subject: "frank" });
    const b = await client.pair({ subject: "frank" });
    const listed = await gw.admin("GET", `/admin/v1/tenants/${tenantId}/subjects/frank/sessions`);
    assert.equal((listed.json.sessions as unknown[]).length, 2);
    const sid = String(decodeJwt(a.access_token).sid);
    const otherTenant = await tenantWithKey(gw);
    assert.deepEqual((await gw.admin("POST", `/admin/v1/tenants/${otherTenant.tenantId}/sessions/${sid}/revoke`)).json, { revoked: false });
    assert.equal((await client.call("/x", a.access_token)).status, 200);
    const out = await gw.admin("POST", `/admin/v1/tenants/${tenantId}/subjects/frank/sessions/revoke`);
    assert.equal((out.json.revoked as string[]).length, 2);
    assert.equal((await client.call("/x", a.access_token)).status, 401);
    assert.equal((await client.call("/x", b.access_token)).status, 401);
    assert.equal(((await gw.admin("GET", `/admin/v1/tenants/${tenantId}/subjects/frank/sessions`)).json.sessions as unknown[]).length, 0);
  });

  test("a suspended tenant's sessions stop working", async () => {
    const issuer = await tenantWithKey(gw, { scopes: ["sessions:write"] });
    const own = sessionClient(gw, issuer.key);
    const pair = await own.pair();
    await gw.admin("POST", `/admin/v1/tenants/${issuer.tenantId}/suspend`);
    assert.equal((await own.call("/x", pair.access_token)).status, 401);
    assert.equal((await own.refresh(pair.refresh_token)).status, 400);
  });
});

describe("the reuse interval, for concurrent tabs", () => {
  let gw: TestGateway;
  let client: ReturnType<typeof sessionClient>;
  before(async () => {
    gw = await startTestGateway(POLICY(5));
    client = sessionClient(gw, (await tenantWithKey(gw, { scopes: ["sessions:write"] })).key);
  });
  after(() => gw.close());

  test("the immediate predecessor again gets the same child pair, never a new branch; an older token still revokes", async () => {
    const first = await client.pair();
    const child = (await (await client.refresh(first.refresh_token)).json()) as Pair;
    const again = (await (await client.refresh(first.refresh_token)).json()) as Pair;
    assert.equal(again.refresh_token, child.refresh_token);
    assert.equal(again.access_token, child.access_token);
    const grandchild = (await (await client.refresh(child.refresh_token)).json()) as Pair;
    assert.equal((await client.refresh(first.refresh_token)).status, 400, "two generations back is reuse");
    assert.equal((await client.call("/x", grandchild.access_token)).status, 401);
  });
});

describe("rotation across two nodes on one Postgres", () => {
  let database: TestDatabase | string;
  const nodes: TestGateway[] = [];
  before(async () => {
    database = await createTestDatabase();
    if (typeof database === "string") return;
    process.env.PORTCULLIS_IDENTITY_KEY = (await import("node:crypto")).generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    try {
      for (let i = 0; i < 2; i++) nodes.push(await startTestGateway(POLICY(), { databaseUrl: database.url }));
    } finally {
      delete process.env.PORTCULLIS_IDENTITY_KEY;
    }
  });
  after(async () => {
    for (const node of nodes) await node.close();
    if (typeof database === "object") await database.drop();
  });

  test("the same refresh token at both nodes at once yields at most one child", async (t) => {
    if (typeof database === "string") return void t.skip(database);
    const issuer = await tenantWithKey(nodes[0]!, { scopes: ["sessions:write"] });
    const clients = nodes.map((node) => sessionClient(node, issuer.key));
    for (let round = 0; round < 5; round++) {
      const pair = await clients[round % 2]!.pair();
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => clients[i % 2]!.refresh(pair.refresh_token)));
      const children = answers.filter((r) => r.status === 200);
      assert.ok(children.length <= 1, `round ${round}: ${children.length} children`);
      for (const r of answers) await r.arrayBuffer();
    }
    // And a session issued by one node is honoured by the other (a shared identity key).
    const pair = await clients[0]!.pair();
    assert.equal((await clients[1]!.call("/x", pair.access_token)).status, 200);
    assert.equal((await clients[1]!.refresh(pair.refresh_token)).status, 200);
  });

  test("a demotion made through one node applies on the other within a second; so does signing out", async (t) => {
    if (typeof database === "string") return void t.skip(database);
    const issuer = await tenantWithKey(nodes[0]!, { scopes: ["sessions:write"] });
    const clients = nodes.map((node) => sessionClient(node, issuer.key));
    const roles = (node: number, list: string[]) => nodes[node]!.admin("PUT", `/admin/v1/tenants/${issuer.tenantId}/roles/users/grace`, { roles: list });
    assert.equal((await roles(0, ["admin"])).status, 200);
    const pair = await clients[0]!.pair({ subject: "grace", roles: ["admin"] });
    assert.equal((await clients[1]!.call("/admin-only/x", pair.access_token)).status, 200);
    await roles(0, []);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await clients[1]!.call("/admin-only/x", pair.access_token)).status, 403, "node B, demoted through node A");
    assert.equal((await clients[1]!.call("/x", pair.access_token)).status, 200);
    await nodes[0]!.admin("POST", `/admin/v1/tenants/${issuer.tenantId}/subjects/grace/sessions/revoke`);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await clients[1]!.call("/x", pair.access_token)).status, 401, "node B, signed out through node A");
  });
});
