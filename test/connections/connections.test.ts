import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Provider from "oidc-provider";
import { randomBytes } from "node:crypto";
import { PortcullisCore } from "../../src/gateway/core.js";
import { parsePolicy } from "../../src/policy/load.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";

const PUBLIC = "https://gateway.example";
const CALLBACK = `${PUBLIC}/portcullis/v1/connections/idp/callback`;
const CLIENT_SECRET = "connections-test-client-secret-0123456789";
const APP = "https://app.example";

/**
 * A real authorization server (oidc-provider) on loopback. Its development login and consent
 * pages stand in for the user: `signIn` fills them in as a browser would.
 */
async function startAuthorizationServer(): Promise<{ issuer: string; server: Server; provider: Provider; grants: string[] }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const provider = new Provider(issuer, {
    clients: [
      { client_id: "portcullis", client_secret: CLIENT_SECRET, redirect_uris: [CALLBACK], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], scope: "openid offline_access api:read" },
    ],
    scopes: ["openid", "offline_access", "api:read"],
    pkce: { required: () => true },
    features: { revocation: { enabled: true }, devInteractions: { enabled: true } },
    issueRefreshToken: async () => true,
    rotateRefreshToken: true,
    // An access token is near expiry (refreshSkewSeconds: 60) one second after it is issued.
    ttl: { AccessToken: 61 },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    cookies: { keys: ["connections-test-cookie-key"] },
  });
  const grants: string[] = [];
  provider.on("grant.success", (ctx) => grants.push(String((ctx.oidc.params as { grant_type?: string } | undefined)?.grant_type)));
  server.on("request", provider.callback());
  return { issuer, server, provider, grants };
}

/** Follows the provider's pages as a browser would, signing in as `user`, until it redirects to the gateway's callback. */
async function signIn(authorizationUrl: string, user = "alice"): Promise<string> {
  const jar = new Map<string, string>();
  let url = authorizationUrl;
  let method = "GET";
  let body: string | undefined;
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      method,
      redirect: "manual",
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "), ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }) },
      body,
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = pair!.indexOf("=");
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const location = response.headers.get("location");
    if (location !== null) {
      const next = new URL(location, url).href;
      if (next.startsWith(PUBLIC)) return next;
      [url, method, body] = [next, "GET", undefined];
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    if (action === undefined || prompt === undefined) throw new Error(`unexpected page (${response.status}): ${html.slice(0, 200)}`);
    [url, method, body] = [new URL(action, url).href, "POST", new URLSearchParams({ prompt, login: user, password: "x" }).toString()];
  }
  throw new Error("too many steps at the authorization server");
}

describe("OAuth connections against a real authorization server", () => {
  let as: Awaited<ReturnType<typeof startAuthorizationServer>>;
  let gw: TestGateway;
  let acme: { id: string; key: string };
  let globex: { id: string; key: string };

  before(async () => {
    as = await startAuthorizationServer();
    process.env.TEST_IDP_SECRET = CLIENT_SECRET;
    const port = Number(new URL(as.issuer).port);
    gw = await startTestGateway({
      version: 1,
      egress: { schemes: ["http", "https"], ports: { allow: [port] }, allowAddresses: ["127.0.0.1"] },
      connections: {
        publicUrl: PUBLIC,
        returnOrigins: [APP],
        refreshSkewSeconds: 60,
        providers: { idp: { issuer: as.issuer, clientId: "portcullis", clientSecretEnv: "TEST_IDP_SECRET", scopes: ["openid", "offline_access", "api:read"], allowInsecureHttp: true } },
      },
      sessions: {},
      routes: [{ name: "api", match: { path: "/**" } }],
    });
    const tenant = async (name: string) => {
      const t = await gw.gateway.tenants.create(name);
      return { id: t.id, key: (await gw.gateway.keys.create(t.id, { env: "live", scopes: ["connections:write", "connections:read"] })).key };
    };
    acme = await tenant("acme");
    globex = await tenant("globex");
  });
  after(async () => {
    await gw.close();
    as.server.closeAllConnections();
    as.server.close();
  });

  const authorize = async (key: string, returnTo = `${APP}/settings`) =>
    fetch(`${gw.url}/portcullis/v1/connections/idp/authorize?return_to=${encodeURIComponent(returnTo)}`, { headers: { authorization: `Bearer ${key}` }, redirect: "manual" });
  /** The provider's redirect, delivered to this gateway (the public URL stands for it). */
  const callback = async (callbackUrl: string, headers: Record<string, string> = {}) => fetch(callbackUrl.replace(PUBLIC, gw.url), { headers, redirect: "manual" });
  const startFlow = async (key: string) => {
    const started = await authorize(key);
    assert.equal(started.status, 302);
    return started.headers.get("location")!;
  };
  const connect = async (key: string) => {
    const done = await callback(await signIn(await startFlow(key)));
    assert.equal(done.status, 302, await done.clone().text());
    const back = new URL(done.headers.get("location")!);
    assert.equal(back.origin, APP);
    return back.searchParams.get("connection_id")!;
  };
  const token = (key: string, id: string) => fetch(`${gw.url}/portcullis/v1/connections/${id}/token`, { headers: { authorization: `Bearer ${key}` } });
  const code = async (response: Response) => ((await response.json()) as { code: string }).code;

  test("the authorization request has S256 PKCE and a signed state; the callback stores the tokens in the vault and returns the user", async () => {
    const location = new URL(await startFlow(acme.key));
    assert.equal(location.searchParams.get("code_challenge_method"), "S256");
    assert.match(location.searchParams.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
    assert.match(location.searchParams.get("state")!, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(location.searchParams.get("redirect_uri"), CALLBACK);
    const done = await callback(await signIn(location.href));
    assert.equal(done.status, 302);
    const id = new URL(done.headers.get("location")!).searchParams.get("connection_id")!;
    const listed = (await (await fetch(`${gw.url}/portcullis/v1/connections`, { headers: { authorization: `Bearer ${acme.key}` } })).json()) as { connections: { id: string; account: string; provider: string }[] };
    assert.deepEqual(listed.connections.map((c) => [c.id, c.provider, c.account]), [[id, "idp", "alice"]]);
    const stored = await gw.gateway.vault!.getString(acme.id, `connections/${id}/tokens`);
    const rows = await gw.gateway.db.asOwner((q) => q.query<{ envelope: Uint8Array }>("select envelope from vault_secrets where name = $1", [`connections/${id}/tokens`]));
    assert.ok(!Buffer.from(rows[0]!.envelope).toString("latin1").includes((JSON.parse(stored) as { access_token: string }).access_token), "encrypted at rest");
  });

  test("the upstream gets a usable token; concurrent requests refresh once, and the rotated refresh token is the one kept", async () => {
    const id = await connect(acme.key);
    const before = as.grants.filter((g) => g === "refresh_token").length;
    const fresh = await token(acme.key, id);
    assert.equal(fresh.status, 200);
    await fresh.text();
    assert.equal(as.grants.filter((g) => g === "refresh_token").length, before, "a fresh token is handed out as it is");
    await sleep(1_100);
    const answers = await Promise.all(Array.from({ length: 5 }, () => token(acme.key, id)));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as { access_token: string; token_type: string }[];
    assert.ok(answers.every((r) => r.status === 200));
    assert.equal(new Set(bodies.map((b) => b.access_token)).size, 1, "one refresh served everyone");
    assert.equal(as.grants.filter((g) => g === "refresh_token").length - before, 1);
    // The access token works at the provider.
    const userinfo = await fetch(`${as.issuer}/me`, { headers: { authorization: `Bearer ${bodies[0]!.access_token}` } });
    assert.equal(userinfo.status, 200);
    // And the next refresh uses the rotated refresh token (the old one would be refused as reused).
    await sleep(1_100);
    assert.equal((await token(acme.key, id)).status, 200);
    assert.equal(as.grants.filter((g) => g === "refresh_token").length - before, 2);
  });

  test("a state is good once: the same callback again is refused; a forged or tampered state is refused", async () => {
    const callbackUrl = await signIn(await startFlow(acme.key));
    assert.equal((await callback(callbackUrl)).status, 302);
    const replay = await callback(callbackUrl);
    assert.equal(replay.status, 400);
    assert.equal(await code(replay), "OAUTH_STATE_INVALID");
    const tampered = new URL(callbackUrl);
    const [body, mac] = tampered.searchParams.get("state")!.split(".");
    const forgedBody = Buffer.from(JSON.stringify([globex.id, "x".repeat(32), Date.now() + 60_000])).toString("base64url");
    for (const state of [`${forgedBody}.${mac}`, `${body}.${"A".repeat(43)}`, "random", ""]) {
      tampered.searchParams.set("state", state);
      const refused = await callback(tampered.href);
      assert.equal(refused.status, 400, state);
    }
    const events = (await gw.admin("GET", "/admin/v1/security-events")).json.events as { type: string; detail: { reason: string } }[];
    const reasons = new Set(events.filter((e) => e.type === "oauth_state_rejected").map((e) => e.detail.reason));
    assert.ok(reasons.has("forged") && reasons.has("expired_or_used"), [...reasons].join(","));
  });

  test("a code is good once: replayed under a fresh state, the provider refuses it and no connection is made", async () => {
    const first = await signIn(await startFlow(acme.key));
    assert.equal((await callback(first)).status, 302);
    const fresh = new URL(await signIn(await startFlow(acme.key)));
    fresh.searchParams.set("code", new URL(first).searchParams.get("code")!);
    const before = (await gw.gateway.core.connections!.list(acme.id)).length;
    const replayed = await callback(fresh.href);
    assert.equal(replayed.status, 502);
    assert.equal(((await replayed.json()) as { provider_error: string }).provider_error, "invalid_grant");
    assert.equal((await gw.gateway.core.connections!.list(acme.id)).length, before);
  });

  test("PKCE cannot be downgraded or swapped: the provider refuses a request without it, and a code bound to another verifier fails the exchange", async () => {
    const noPkce = new URL(await startFlow(acme.key));
    noPkce.searchParams.delete("code_challenge");
    noPkce.searchParams.delete("code_challenge_method");
    const refused = await fetch(noPkce, { redirect: "manual" });
    const to = new URL(refused.headers.get("location") ?? "http://x/", noPkce);
    assert.equal(to.searchParams.get("error"), "invalid_request", "the authorization server requires PKCE");
    // An attacker's own code (its own challenge) spliced into the victim's callback, with the victim's state.
    const attackers = new URL(await startFlow(globex.key));
    attackers.searchParams.set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    const attackerCode = new URL(await signIn(attackers.href, "mallory")).searchParams.get("code")!;
    const victim = new URL(await signIn(await startFlow(acme.key)));
    victim.searchParams.set("code", attackerCode);
    const spliced = await callback(victim.href);
    assert.equal(spliced.status, 502);
    assert.equal(((await spliced.json()) as { provider_error: string }).provider_error, "invalid_grant");
  });

  test("a callback carrying another tenant's credential is refused, and nothing is stored for either tenant", async () => {
    const callbackUrl = await signIn(await startFlow(acme.key));
    const countBefore = [(await gw.gateway.core.connections!.list(acme.id)).length, (await gw.gateway.core.connections!.list(globex.id)).length];
    const crossed = await callback(callbackUrl, { authorization: `Bearer ${globex.key}` });
    assert.equal(crossed.status, 400);
    assert.equal(await code(crossed), "OAUTH_STATE_INVALID");
    assert.deepEqual([(await gw.gateway.core.connections!.list(acme.id)).length, (await gw.gateway.core.connections!.list(globex.id)).length], countBefore);
  });

  test("a connection is its tenant's alone; deleting it revokes its tokens at the provider and deletes them here", async () => {
    const id = await connect(acme.key);
    assert.equal((await token(globex.key, id)).status, 404);
    assert.equal((await fetch(`${gw.url}/portcullis/v1/connections/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${globex.key}` } })).status, 404);
    const { refresh_token } = JSON.parse(await gw.gateway.vault!.getString(acme.id, `connections/${id}/tokens`)) as { refresh_token: string };
    const deleted = await fetch(`${gw.url}/portcullis/v1/connections/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${acme.key}` } });
    assert.deepEqual(await deleted.json(), { revoked: true });
    assert.equal((await token(acme.key, id)).status, 404);
    await assert.rejects(gw.gateway.vault!.getString(acme.id, `connections/${id}/tokens`));
    const reuse = await fetch(`${as.issuer}/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`portcullis:${CLIENT_SECRET}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token }).toString(),
    });
    assert.equal(((await reuse.json()) as { error: string }).error, "invalid_grant", "revoked at the provider");
  });

  test("a user reaches only the connections they made; the tenant's services (API keys) reach every one", async () => {
    const issuer = (await gw.gateway.keys.create(acme.id, { env: "live", scopes: ["sessions:write"] })).key;
    const user = async (subject: string) => {
      const issued = await fetch(`${gw.url}/portcullis/v1/sessions`, {
        method: "POST",
        headers: { authorization: `Bearer ${issuer}`, "content-type": "application/json" },
        body: JSON.stringify({ subject, scopes: ["connections:read", "connections:write"] }),
      });
      assert.equal(issued.status, 201, await issued.clone().text());
      return ((await issued.json()) as { access_token: string }).access_token;
    };
    const [alice, bob] = [await user("alice"), await user("bob")];
    const id = await connect(alice);
    assert.equal((await token(alice, id)).status, 200);
    const stolen = await token(bob, id);
    assert.equal(stolen.status, 404, "another user of the same tenant is told there is no such connection");
    assert.equal(await code(stolen), "NOT_FOUND");
    assert.equal((await fetch(`${gw.url}/portcullis/v1/connections/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${bob}` } })).status, 404);
    const listed = async (credential: string) =>
      ((await (await fetch(`${gw.url}/portcullis/v1/connections`, { headers: { authorization: `Bearer ${credential}` } })).json()) as { connections: { id: string }[] }).connections.map((c) => c.id);
    assert.ok((await listed(alice)).includes(id));
    assert.ok(!(await listed(bob)).includes(id));
    assert.ok((await listed(acme.key)).includes(id));
    assert.equal((await token(acme.key, id)).status, 200, "a service of the tenant reaches it");
  });

  test("return_to must be on the allowed origins; a key without connections:write cannot start a flow", async () => {
    for (const returnTo of ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", `${APP}.evil.example/`, "/relative"]) {
      const refused = await authorize(acme.key, returnTo);
      assert.equal(refused.status, 422, returnTo);
      assert.equal(await code(refused), "INVALID_RETURN_URL");
    }
    const readOnly = (await gw.gateway.keys.create(acme.id, { env: "live", scopes: ["connections:read"] })).key;
    assert.equal((await authorize(readOnly)).status, 403);
    assert.equal((await fetch(`${gw.url}/portcullis/v1/connections/nope/authorize?return_to=${encodeURIComponent(APP)}`, { headers: { authorization: `Bearer ${acme.key}` }, redirect: "manual" })).status, 404);
  });
});

describe("connections: two gateways on one Postgres", () => {
  test("near expiry, tokens asked of both nodes at once are refreshed once, and both hand out the same one", async () => {
    const database = await createTestDatabase();
    if (typeof database === "string") throw new Error(database);
    const as = await startAuthorizationServer();
    process.env.TEST_IDP_SECRET = CLIENT_SECRET;
    const kek = randomBytes(32);
    const document = {
      version: 1,
      egress: { schemes: ["http"], ports: { allow: [Number(new URL(as.issuer).port)] }, allowAddresses: ["127.0.0.1"] },
      connections: { publicUrl: PUBLIC, returnOrigins: [APP], refreshSkewSeconds: 60, providers: { idp: { issuer: as.issuer, clientId: "portcullis", clientSecretEnv: "TEST_IDP_SECRET", scopes: ["openid", "offline_access"], allowInsecureHttp: true } } },
      routes: [{ name: "api", match: { path: "/**" } }],
    };
    const nodes = [await startTestGateway(document, { databaseUrl: database.url, kek }), await startTestGateway(document, { databaseUrl: database.url, kek })];
    try {
      const tenant = await nodes[0]!.gateway.tenants.create("acme");
      const key = (await nodes[0]!.gateway.keys.create(tenant.id, { env: "live", scopes: ["connections:write", "connections:read"] })).key;
      const started = await fetch(`${nodes[0]!.url}/portcullis/v1/connections/idp/authorize?return_to=${encodeURIComponent(APP)}`, { headers: { authorization: `Bearer ${key}` }, redirect: "manual" });
      const done = await fetch((await signIn(started.headers.get("location")!)).replace(PUBLIC, nodes[0]!.url), { redirect: "manual" });
      const id = new URL(done.headers.get("location")!).searchParams.get("connection_id")!;
      await sleep(1_100);
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => fetch(`${nodes[i % 2]!.url}/portcullis/v1/connections/${id}/token`, { headers: { authorization: `Bearer ${key}` } })));
      const tokens = (await Promise.all(answers.map((r) => r.json()))) as { access_token: string }[];
      assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
      assert.equal(new Set(tokens.map((t) => t.access_token)).size, 1);
      assert.deepEqual(as.grants.filter((g) => g === "refresh_token"), ["refresh_token"], "one refresh for both nodes");
    } finally {
      for (const node of nodes) await node.close();
      as.server.closeAllConnections();
      as.server.close();
      await database.drop();
    }
  });
});

describe("connections: a provider that cannot work stops the start", () => {
  const document = (env: string) => ({
    version: 1,
    connections: { publicUrl: PUBLIC, returnOrigins: [APP], providers: { idp: { issuer: "https://idp.example", clientId: "c", clientSecretEnv: env } } },
    routes: [{ name: "api", match: { path: "/**" } }],
  });

  test("a client secret missing from the environment is named, never guessed around", async () => {
    delete process.env.UNSET_IDP_SECRET;
    await assert.rejects(startTestGateway(document("UNSET_IDP_SECRET")), /UNSET_IDP_SECRET.*not set/);
  });

  test("without the vault (which keeps the tokens) configured providers are refused", async () => {
    process.env.SET_IDP_SECRET = "secret";
    await assert.rejects(PortcullisCore.open({ policy: parsePolicy(document("SET_IDP_SECRET"), "p") }), /needs the vault/);
  });
});
