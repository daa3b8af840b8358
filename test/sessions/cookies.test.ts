import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { withoutSessionCookies } from "../../src/sessions/cookies.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

interface CookieSession {
  csrf_token: string;
  set_cookie: string[];
  expires_in: number;
}

/** The name=value part of each Set-Cookie, as a browser would send them back. */
const cookieHeader = (setCookies: string[]) => setCookies.map((c) => c.split(";")[0]).join("; ");

describe("sessions for browser apps, in cookies, with CSRF protection", () => {
  let gw: TestGateway;
  let issuerKey: string;

  before(async () => {
    gw = await startTestGateway({ version: 1, sessions: { cookies: { enabled: true, sameSite: "Lax" } }, routes: [{ name: "api", match: { path: "/**" } }] });
    issuerKey = (await tenantWithKey(gw, { scopes: ["sessions:write"] })).key;
  });
  after(() => gw.close());

  const issue = async (): Promise<CookieSession> => {
    const r = await fetch(`${gw.url}/portcullis/v1/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${issuerKey}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: "u1", delivery: "cookie" }),
    });
    assert.equal(r.status, 201);
    return (await r.json()) as CookieSession;
  };
  const call = (method: string, cookies: string, headers: Record<string, string> = {}) => fetch(`${gw.url}/things`, { method, headers: { cookie: cookies, ...headers } });

  test("cookie delivery answers Set-Cookie values with the right attributes and no token in the body", async () => {
    const session = await issue();
    assert.equal((session as unknown as Record<string, unknown>).access_token, undefined);
    assert.equal((session as unknown as Record<string, unknown>).refresh_token, undefined);
    const [access, refresh, csrf] = session.set_cookie;
    assert.match(access!, /^__Host-pc_at=[^;]+; Path=\/; Secure; SameSite=Lax; HttpOnly; Max-Age=\d+$/);
    assert.match(refresh!, /^__Secure-pc_rt=rt1_[^;]+; Path=\/portcullis\/v1; Secure; SameSite=Lax; HttpOnly; Max-Age=\d+$/);
    assert.match(csrf!, /^__Host-pc_csrf=[^;]+; Path=\/; Secure; SameSite=Lax; Max-Age=\d+$/);
    assert.ok(csrf!.includes(session.csrf_token));
  });

  test("the access cookie authenticates safe methods; unsafe ones need the session's CSRF token", async () => {
    const session = await issue();
    const cookies = cookieHeader(session.set_cookie);
    assert.equal((await call("GET", cookies)).status, 200);
    assert.equal((await call("POST", cookies)).status, 403);
    assert.equal((await call("POST", cookies, { "x-csrf-token": "A".repeat(session.csrf_token.length) })).status, 403);
    const other = await issue();
    assert.equal((await call("POST", cookies, { "x-csrf-token": other.csrf_token })).status, 403, "another session's CSRF token");
    assert.equal((await call("DELETE", cookies, { "x-csrf-token": session.csrf_token })).status, 200);
  });

  test("the upstream never sees the session cookies, only the application's own", async () => {
    const session = await issue();
    const r = await call("GET", `theme=dark; ${cookieHeader(session.set_cookie)}; lang=en`);
    const seen = ((await r.json()) as { headers: Record<string, string> }).headers;
    assert.equal(seen.cookie, "theme=dark; lang=en");
    assert.ok(seen["x-portcullis-identity"]);
    assert.equal(withoutSessionCookies("__Host-pc_at=x"), undefined);
  });

  test("a session cookie sent twice is refused", async () => {
    const session = await issue();
    const access = session.set_cookie[0]!.split(";")[0]!;
    const r = await call("GET", `${access}; __Host-pc_at=forged`);
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { code: string }).code, "AMBIGUOUS_CREDENTIALS");
  });

  test("a browser refreshes with its cookie and the CSRF token; without the token nothing is spent", async () => {
    const session = await issue();
    const refreshCookie = session.set_cookie[1]!.split(";")[0]!;
    const refresh = (headers: Record<string, string>) =>
      fetch(`${gw.url}/portcullis/v1/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", cookie: refreshCookie, ...headers }, body: "grant_type=refresh_token" });
    const forged = await refresh({});
    assert.equal(forged.status, 400);
    assert.equal(((await forged.json()) as { error: string }).error, "invalid_grant");
    const ok = await refresh({ "x-csrf-token": session.csrf_token });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as Record<string, unknown>;
    assert.equal(body.access_token, undefined);
    assert.equal(body.csrf_token, session.csrf_token, "the CSRF token is the session's, for its whole life");
    const renewed = ok.headers.getSetCookie();
    assert.equal(renewed.length, 3);
    assert.equal((await call("GET", cookieHeader(renewed))).status, 200);
    // The old refresh cookie is spent now: presenting it is reuse.
    assert.equal((await refresh({ "x-csrf-token": session.csrf_token })).status, 400);
    assert.equal((await call("GET", cookieHeader(renewed))).status, 401);
  });

  test("a refresh cookie planted from a sibling subdomain neither blocks the real session's refresh nor swaps in another session", async () => {
    const victim = await issue();
    const attacker = await issue();
    const victimCookie = victim.set_cookie[1]!.split(";")[0]!;
    const planted = attacker.set_cookie[1]!.split(";")[0]!;
    const refresh = (cookie: string, csrf: string | undefined) =>
      fetch(`${gw.url}/portcullis/v1/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie, ...(csrf === undefined ? {} : { "x-csrf-token": csrf }) },
        body: "grant_type=refresh_token",
      });
    // A sibling's cookie with a longer path comes first in the browser's Cookie header.
    const both = `${planted}; ${victimCookie}`;
    const withoutCsrf = await refresh(both, undefined);
    assert.equal(withoutCsrf.status, 400);
    const ok = await refresh(both, victim.csrf_token);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { csrf_token: string }).csrf_token, victim.csrf_token, "the victim's own session was refreshed");
    // The attacker's session was not touched: its own refresh still works once.
    assert.equal((await refresh(planted, attacker.csrf_token)).status, 200);
    // Two cookies of one session's CSRF token cannot both match: refused.
    assert.equal((await refresh(`${victimCookie}; ${victimCookie}`, victim.csrf_token)).status, 400);
  });

  test("signing out by cookie needs the CSRF token, then clears the cookies and ends the session", async () => {
    const session = await issue();
    const cookies = cookieHeader(session.set_cookie);
    const signOut = (headers: Record<string, string>) =>
      fetch(`${gw.url}/portcullis/v1/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookies, ...headers }, body: "" });
    const forged = await signOut({});
    assert.equal(forged.status, 200);
    assert.deepEqual(forged.headers.getSetCookie(), []);
    assert.equal((await call("GET", cookies)).status, 200, "a cross-site POST signed nobody out");
    const real = await signOut({ "x-csrf-token": session.csrf_token });
    assert.equal(real.status, 200);
    assert.ok(real.headers.getSetCookie().every((c) => /Max-Age=0/.test(c)));
    assert.equal((await call("GET", cookies)).status, 401);
  });
});

describe("with cookie delivery off", () => {
  test("the access cookie authenticates nothing, and delivery: cookie is refused", async () => {
    const gw = await startTestGateway({ version: 1, routes: [{ name: "api", match: { path: "/**" } }] });
    try {
      const key = (await tenantWithKey(gw, { scopes: ["sessions:write"] })).key;
      const refused = await fetch(`${gw.url}/portcullis/v1/sessions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ subject: "u1", delivery: "cookie" }),
      });
      assert.equal(refused.status, 422);
      const pair = (await (
        await fetch(`${gw.url}/portcullis/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ subject: "u1" }) })
      ).json()) as { access_token: string };
      assert.equal((await fetch(`${gw.url}/x`, { headers: { cookie: `__Host-pc_at=${pair.access_token}` } })).status, 401);
    } finally {
      await gw.close();
    }
  });
});
