import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addressListControl, tenantAddressListControl, TenantIpRuleStore } from "../../src/access/index.js";
import { authorizeControl } from "../../src/authorize/index.js";
import { blockingControl, ClientBlocking } from "../../src/blocking/index.js";
import { corsControl, corsSchema } from "../../src/cors/index.js";
import { MemoryCounterStore } from "../../src/counters/index.js";
import { OutageReporter, SecurityEvents } from "../../src/events/security-events.js";
import { ApiKeyAuthenticator } from "../../src/identity/api-keys/authenticator.js";
import { ApiKeyStore } from "../../src/identity/api-keys/store.js";
import { authenticateControl } from "../../src/identity/index.js";
import { JwtVerifier } from "../../src/identity/jwt/verifier.js";
import type { Principal } from "../../src/identity/principal.js";
import { createLogger } from "../../src/observability/logger.js";
import { quotaControl, QuotaLedger, quotaSchema } from "../../src/quota/index.js";
import { LimitOverrideStore, rateLimitControl, rateLimitSchema } from "../../src/rate-limit/index.js";
import { methodControl } from "../../src/routing/index.js";
import { shieldControl, shieldSchema } from "../../src/shield/index.js";
import { openDatabase, type Database } from "../../src/store/index.js";
import { TenantDirectory } from "../../src/tenants/directory.js";
import { TenantStore } from "../../src/tenants/store.js";
import { contextFor, outcome } from "../helpers/context.js";

const logger = createLogger({ level: "silent" });
const noSessions = { authenticate: (): never => { throw new Error("no sessions here"); } };
const principal = (over: Partial<Principal> = {}): Principal => ({ kind: "api_key", tenantId: "11111111-1111-4111-8111-111111111111", id: "key-1", scopes: new Set(["read"]), env: "test", ...over });

describe("controls, one at a time, against constructed contexts", () => {
  let db: Database;
  let store: MemoryCounterStore;
  let events: SecurityEvents;
  before(async () => {
    db = await openDatabase({});
    store = new MemoryCounterStore();
    events = new SecurityEvents({ store, logger });
  });
  after(() => db.close());

  test("authenticate: no credential, two credentials, a malformed one, a key of the wrong kind", async () => {
    const tenants = new TenantStore(db);
    const keys = new ApiKeyStore(db);
    const tenant = await tenants.create("t");
    const { key } = await keys.create(tenant.id, { env: "test", scopes: [] });
    const authenticators = { apiKeys: new ApiKeyAuthenticator(keys), jwt: new JwtVerifier([], new TenantDirectory(tenants)), sessions: noSessions };
    const any = authenticateControl({ methods: ["apiKey"], keyEnv: "any" }, authenticators);
    const liveOnly = authenticateControl({ methods: ["apiKey"], keyEnv: "live" }, authenticators);
    const jwtOnly = authenticateControl({ methods: ["jwt"], keyEnv: "any" }, authenticators);
    const run = (control: typeof any, headers: [string, string][]) => outcome(() => control.run(contextFor({ headers })));
    assert.equal(await run(any, []), "UNAUTHENTICATED");
    assert.equal(await run(any, [["x-api-key", key], ["x-api-key", key]]), "AMBIGUOUS_CREDENTIALS");
    assert.equal(await run(any, [["authorization", `Bearer ${key}`], ["x-api-key", key]]), "AMBIGUOUS_CREDENTIALS");
    assert.equal(await run(any, [["authorization", `Basic ${key}`]]), "MALFORMED_CREDENTIALS");
    assert.equal(await run(any, [["x-api-key", `${key}"`]]), "MALFORMED_CREDENTIALS");
    // The last character changed (to another one, whatever it was): the checksum no longer matches.
    assert.equal(await run(any, [["x-api-key", `${key.slice(0, -1)}${key.endsWith("x") ? "y" : "x"}`]]), "UNAUTHENTICATED");
    assert.equal(await run(liveOnly, [["x-api-key", key]]), "FORBIDDEN");
    assert.equal(await run(jwtOnly, [["x-api-key", key]]), "UNAUTHENTICATED");
    const ctx = contextFor({ headers: [["x-api-key", key]] });
    assert.equal(await outcome(() => any.run(ctx)), "passed");
    assert.equal(ctx.principal?.tenantId, tenant.id);
    await authenticators.apiKeys.close();
  });

  test("authorize: every scope must be held; not_found hides that the route exists", async () => {
    const forbidden = authorizeControl({ scopes: ["read", "write"], onDenied: "forbidden" });
    const hidden = authorizeControl({ scopes: ["admin"], onDenied: "not_found" });
    const ctx = contextFor();
    assert.equal(await outcome(() => forbidden.run(ctx)), "FORBIDDEN", "no principal at all");
    ctx.principal = principal();
    assert.equal(await outcome(() => forbidden.run(ctx)), "FORBIDDEN");
    assert.equal(await outcome(() => hidden.run(ctx)), "NOT_FOUND");
    ctx.principal = principal({ scopes: new Set(["read", "write"]) });
    assert.equal(await outcome(() => forbidden.run(ctx)), "passed");
  });

  test("rate limit: one refusing limit gives back what the others took, and claims cannot spell another bucket", async () => {
    const limits = [
      rateLimitSchema.parse({ name: "wide", by: ["tenant"], rate: 100, per: "minute" }),
      rateLimitSchema.parse({ name: "narrow", by: ["claim:team"], rate: 1, per: "minute" }),
    ];
    const control = rateLimitControl(limits, { store, fallback: new MemoryCounterStore(), overrides: new LimitOverrideStore(db), events, outage: new OutageReporter(events, "memory") });
    const ctxFor = (team: string) => {
      const ctx = contextFor({ route: "r" });
      ctx.principal = principal({ kind: "jwt", id: "u", claims: { team } });
      return ctx;
    };
    const first = ctxFor("a");
    assert.equal(await outcome(() => control.run(first)), "passed");
    assert.match(first.responseHeaders?.ratelimit ?? "", /^"wide";r=99;t=\d+, "narrow";r=0;t=\d+$/);
    const second = ctxFor("a");
    assert.equal(await outcome(() => control.run(second)), "RATE_LIMITED");
    assert.match(second.responseHeaders?.ratelimit ?? "", /^"wide";r=99;/, "the wide limit was given back");
    assert.ok(Number(second.responseHeaders?.["retry-after"]) >= 1);
    assert.equal(await outcome(() => control.run(ctxFor("a|c:b"))), "passed", "a claim with a separator in it is its own bucket");
    assert.equal(await outcome(() => control.run(ctxFor("b"))), "passed");
  });

  test("quota: all or nothing across quotas; an upstream-priced quota charges from the answer's head", async () => {
    const ledger = new QuotaLedger(store, events, logger);
    const fixed = quotaSchema.parse({ name: `fixed-${Date.now()}`, by: "tenant", limit: 2, per: "day" });
    const priced = quotaSchema.parse({ name: `priced-${Date.now()}`, by: "tenant", limit: 10, per: "day", cost: { header: "X-Cost" } });
    const control = quotaControl([fixed, priced], ledger);
    assert.match(control.needsResponse ?? "", /x-cost/);
    const ctx = contextFor();
    ctx.principal = principal();
    assert.equal(await outcome(() => control.run(ctx)), "passed");
    for (const cost of ["12", "-3", "1e3", "abc"]) control.onResponse!(ctx, { status: 200, headers: { "x-cost": cost } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const usage = await ledger.usage([fixed, priced], ctx.principal.tenantId, []);
    assert.deepEqual(usage.map((u) => [u.name, u.used]), [[fixed.name, 1], [priced.name, 12]], "only a plain whole number is a cost");
    assert.equal(await outcome(() => control.run(ctx)), "QUOTA_EXCEEDED", "the priced quota is spent, so nothing is charged");
    assert.equal((await ledger.usage([fixed], ctx.principal.tenantId, []))[0]!.used, 1, "the fixed charge was taken back");
  });

  test("quota: a counter store that cannot answer refuses (a cap that lets traffic through when it cannot count is no cap)", async () => {
    const broken = new MemoryCounterStore();
    broken.count = () => Promise.reject(new Error("down"));
    const control = quotaControl([quotaSchema.parse({ name: "q", by: "key", limit: 5, per: "month" })], new QuotaLedger(broken, events, logger));
    const ctx = contextFor();
    ctx.principal = principal();
    assert.equal(await outcome(() => control.run(ctx)), "STORE_UNAVAILABLE");
  });

  test("address lists: deny wins, a non-empty allow list admits only its members; a tenant's lists apply to its callers", async () => {
    const global = addressListControl({ allow: ["192.0.2.0/24"], deny: ["192.0.2.66"] });
    assert.equal(await outcome(() => global.run(contextFor({ client: "192.0.2.1" }))), "passed");
    assert.equal(await outcome(() => global.run(contextFor({ client: "192.0.2.66" }))), "IP_DENIED");
    assert.equal(await outcome(() => global.run(contextFor({ client: "::ffff:192.0.2.66" }))), "IP_DENIED", "a mapped IPv4 address is that address");
    assert.equal(await outcome(() => global.run(contextFor({ client: "198.51.100.1" }))), "IP_DENIED");
    const tenant = await new TenantStore(db).create("lists");
    const rules = new TenantIpRuleStore(db);
    await rules.replace(tenant.id, { allow: [], deny: ["198.51.100.0/24"] });
    const ctx = contextFor({ client: "198.51.100.9" });
    const perTenant = tenantAddressListControl(rules);
    assert.equal(await outcome(() => perTenant.run(ctx)), "passed", "before authentication there is no tenant to ask");
    ctx.principal = principal({ tenantId: tenant.id });
    assert.equal(await outcome(() => perTenant.run(ctx)), "IP_DENIED");
  });

  test("blocks: a blocked client is refused with Retry-After, its IPv6 neighbours in the same /64 too", async () => {
    const blocking = new ClientBlocking({ enabled: true, threshold: 3, windowSeconds: 60, blockSeconds: 60 }, new MemoryCounterStore(), events);
    const control = blockingControl(blocking);
    await blocking.block(contextFor({ client: "2001:db8::1" }).clientAddress.holder, 60, { reason: "test" });
    const ctx = contextFor({ client: "2001:db8::ffff" });
    assert.equal(await outcome(() => control.run(ctx)), "BLOCKED");
    assert.ok(Number(ctx.responseHeaders?.["retry-after"]) >= 50, "about the block's remaining minute");
    assert.equal(await outcome(() => control.run(contextFor({ client: "2001:db8:0:1::1" }))), "passed");
    for (let i = 0; i < 3; i++) await blocking.recordRejection("192.0.2.9", "UNAUTHENTICATED", { route: "r", tenantId: undefined });
    assert.equal(await outcome(() => control.run(contextFor({ client: "192.0.2.9" }))), "BLOCKED", "violations past the threshold block");
    await blocking.recordRejection("192.0.2.10", "NOT_FOUND", { route: "r", tenantId: undefined });
  });

  test("cors: an origin off the list gets no CORS headers; a preflight is answered; * never comes with credentials", async () => {
    const control = corsControl(corsSchema.parse({ allowOrigins: ["https://app.example.com"], allowCredentials: true }));
    const stranger = contextFor({ headers: [["origin", "https://evil.example"]] });
    control.run(stranger);
    assert.deepEqual(stranger.responseHeaders, { vary: "Origin" });
    const preflight = contextFor({ method: "OPTIONS", headers: [["origin", "https://app.example.com"], ["access-control-request-method", "DELETE"]] });
    control.run(preflight);
    assert.equal(preflight.answer?.status, 204);
    assert.equal(preflight.responseHeaders?.["access-control-allow-credentials"], "true");
    const wildcard = corsControl(corsSchema.parse({ allowOrigins: ["*"], allowCredentials: false }));
    const ctx = contextFor({ headers: [["origin", "https://any.example"]] });
    wildcard.run(ctx);
    assert.equal(ctx.responseHeaders?.["access-control-allow-origin"], "*");
    assert.equal(ctx.responseHeaders?.["access-control-allow-credentials"], undefined);
  });

  test("cors: a request shaped like a preflight is one only when CORS is on and the origin allowed; otherwise it is an ordinary OPTIONS for the route's controls", () => {
    const shaped = () => contextFor({ method: "OPTIONS", headers: [["origin", "https://evil.example"], ["access-control-request-method", "POST"]] });
    const listed = corsControl(corsSchema.parse({ allowOrigins: ["https://app.example.com"] }));
    const off = corsControl(corsSchema.parse({}));
    for (const control of [listed, off]) {
      const ctx = shaped();
      control.run(ctx);
      assert.equal(ctx.answer, undefined);
      assert.equal(ctx.responseHeaders?.["access-control-allow-origin"], undefined);
    }
    const fromApp = contextFor({ method: "OPTIONS", headers: [["origin", "https://app.example.com"], ["access-control-request-method", "POST"]] });
    off.run(fromApp);
    assert.equal(fromApp.answer, undefined, "CORS off: no origin is allowed, so nothing is a preflight");
  });

  test("method: unnameable methods are 405, overrides in headers or the query are refused", async () => {
    const control = methodControl();
    assert.equal(await outcome(() => control.run(contextFor({ method: "TRACE" }))), "METHOD_NOT_ALLOWED");
    assert.equal(await outcome(() => control.run(contextFor({ method: "PROPFIND" }))), "METHOD_NOT_ALLOWED");
    assert.equal(await outcome(() => control.run(contextFor({ method: "POST", headers: [["x-http-method-override", "DELETE"]] }))), "BAD_REQUEST");
    assert.equal(await outcome(() => control.run(contextFor({ method: "POST", url: "/x?%5Fmethod=DELETE" }))), "BAD_REQUEST");
    assert.equal(await outcome(() => control.run(contextFor({ method: "POST", url: "/x?a=1;_method=DELETE" }))), "BAD_REQUEST");
    assert.equal(await outcome(() => control.run(contextFor({ method: "POST", url: "/x?_methods=1" }))), "passed");
  });

  test("shield: attacks anywhere (path, query, header, cookie, body) are refused; monitor mode only logs; bodies are read as sent", async () => {
    const block = shieldControl(shieldSchema.parse({}), logger);
    const refusedFor = (spec: Parameters<typeof contextFor>[0]) => outcome(() => block.run(contextFor(spec)));
    assert.equal(await refusedFor({ url: "/search?q=%3Cscript%3Ealert(1)%3C/script%3E" }), "MALICIOUS_INPUT");
    assert.equal(await refusedFor({ headers: [["cookie", "a=1; b=' UNION SELECT password FROM users--"]] }), "MALICIOUS_INPUT");
    assert.equal(await refusedFor({ headers: [["x-note", "; cat /etc/passwd"]] }), "MALICIOUS_INPUT");
    assert.equal(await refusedFor({ method: "POST", headers: [["content-type", "application/json"]], body: '{"a":{"__proto__":{"admin":true}}}' }), "MALICIOUS_INPUT");
    assert.equal(await refusedFor({ method: "POST", headers: [["content-type", "application/json"]], body: '{"a":1,"a":2}' }), "INVALID_ENCODING");
    assert.equal(await refusedFor({ method: "POST", headers: [["content-type", "application/json; charset=utf-7"]], body: '{"a":"+ADw-script+AD4-"}' }), "INVALID_ENCODING");
    assert.equal(await refusedFor({ method: "POST", headers: [["content-type", "application/json"], ["content-type", "text/plain"]], body: "{}" }), "INVALID_ENCODING");
    const clean = contextFor({ method: "POST", headers: [["content-type", "application/json"]], body: '{"name":"widget"}' });
    assert.equal(await outcome(() => block.run(clean)), "passed");
    assert.equal(String(clean.forwardBody), '{"name":"widget"}', "the body goes on as the shield read it");
    const monitor = shieldControl(shieldSchema.parse({ mode: "monitor" }), logger);
    assert.equal(await outcome(() => monitor.run(contextFor({ url: "/?q=1'%20OR%201=1--" }))), "passed");
    const consumed = contextFor({ method: "POST", headers: [["content-type", "application/json"], ["content-length", "12"]] });
    assert.equal(await outcome(() => block.run(consumed)), "INTERNAL", "a body someone else already read is not passed as inspected");
    const headersOnly = shieldControl(shieldSchema.parse({ inspectBody: false }), logger);
    assert.equal(headersOnly.needsBody, undefined);
    assert.equal(await outcome(() => headersOnly.run(contextFor({ method: "POST", headers: [["content-type", "application/json"]], body: '{"a":1,"a":2}' }))), "passed", "inspectBody: false reads no body");
  });
});
