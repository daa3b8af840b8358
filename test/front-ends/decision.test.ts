import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { Gateway, parsePolicy, PolicyError } from "../../src/gateway/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { startTestGateway, tenantWithKey, ADMIN_TOKEN, type TestGateway } from "../helpers/gateway.js";
import { rawRequest } from "../helpers/raw-http.js";

/** The decision API's own protocol, spoken directly, the way an attacker on the proxy's side could. */
describe("decision API protocol", () => {
  let gw: TestGateway;
  let key: string;
  before(async () => {
    gw = await startTestGateway(
      {
        version: 1,
        routes: [
          { name: "open", match: { path: "/open" }, authenticate: "none" },
          { name: "api", match: { path: "/api/**" }, limits: [{ name: "one", by: ["key"], rate: 1, per: "minute" }] },
        ],
      },
      { decision: true },
    );
    ({ key } = await tenantWithKey(gw));
  });
  after(() => gw.close());

  const decide = (headers: Record<string, string>) => fetch(`${gw.decisionUrl}/anything`, { headers });
  /** The refusal's code, whichever way it came: directly, or carried for nginx's error page. */
  const codeOf = async (response: Response): Promise<string> => {
    const carried = response.headers.get("x-portcullis-problem");
    const answer = carried === null ? response : await fetch(`${gw.decisionUrl}/`, { headers: { "x-portcullis-problem": carried } });
    return ((await answer.json()) as { code: string }).code;
  };

  test("Caddy/Traefik headers get the real refusal; nginx headers get 401/403 with the refusal carried for the error page", async () => {
    const caddy = await decide({ "x-forwarded-uri": "/api/x", "x-forwarded-method": "GET" });
    assert.equal(caddy.status, 401);
    assert.equal(caddy.headers.get("x-portcullis-problem"), null);

    assert.equal((await decide({ "x-forwarded-uri": "/api/x", "x-forwarded-method": "GET", "x-api-key": key })).status, 200);
    const limited = await decide({ "x-forwarded-uri": "/api/x", "x-forwarded-method": "GET", "x-api-key": key });
    assert.equal(limited.status, 429, "Caddy passes this to the client as it is");
    assert.equal(((await limited.json()) as { code: string }).code, "RATE_LIMITED");

    const nginx = await decide({ "x-original-uri": "/api/x", "x-original-method": "GET", "x-api-key": key });
    assert.equal(nginx.status, 403, "auth_request knows only 401 and 403");
    const carried = nginx.headers.get("x-portcullis-problem")!;
    const rendered = await fetch(`${gw.decisionUrl}/api/x`, { headers: { "x-portcullis-problem": carried } });
    assert.equal(rendered.status, 429);
    assert.ok(Number(rendered.headers.get("retry-after")) >= 1);
    const body = (await rendered.json()) as { code: string; limit: string };
    assert.deepEqual([body.code, body.limit], ["RATE_LIMITED", "one"]);
  });

  test("an allowed decision answers 200 with the identity, the request id and no body", async () => {
    const { key: fresh } = await tenantWithKey(gw);
    const allowed = await decide({ "x-original-uri": "/api/y?x=1", "x-original-method": "POST", authorization: `Bearer ${fresh}` });
    assert.equal(allowed.status, 200);
    assert.match(allowed.headers.get("x-portcullis-identity") ?? "", /^ey/);
    assert.equal(decodeJwt(allowed.headers.get("x-portcullis-identity")!).aud, new URL(gw.upstreamUrl).origin, "the same audience as the gateway's for this route");
    assert.match(allowed.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(await allowed.text(), "");
    const line = gw.logs.find((l) => l.includes(`"req_id":"${allowed.headers.get("x-request-id")}"`)) ?? "";
    assert.match(line, /"outcome":"allowed"/, "the access log says the decision, not that something was served");
    assert.match(line, /"path":"\/api\/y"/, "and the decided request's path, not the sub-request's");
    const open = await decide({ "x-original-uri": "/open", "x-original-method": "GET" });
    assert.equal(open.status, 200);
    assert.equal(open.headers.get("x-portcullis-identity"), "");
  });

  test("two descriptions that differ, a header sent twice, or no method are refused, never decided", async () => {
    const conflicts: Record<string, string>[] = [
      { "x-original-uri": "/open", "x-forwarded-uri": "/api/x", "x-original-method": "GET" },
      { "x-original-uri": "/open", "x-original-method": "GET", "x-forwarded-method": "DELETE" },
      { "x-forwarded-uri": "/open", "x-forwarded-method": "GET", "x-original-method": "POST" },
      // ingress-nginx names the target in X-Original-URL and passes a client's X-Original-URI on.
      { "x-original-url": "https://api.example.com/api/x", "x-original-uri": "/open", "x-original-method": "GET" },
      { "x-forwarded-uri": "/open" },
    ];
    for (const headers of conflicts) {
      const response = await decide(headers);
      assert.ok(response.status === 400 || response.status === 403, JSON.stringify(headers));
      assert.equal(await codeOf(response), "BAD_REQUEST", JSON.stringify(headers));
    }
    const twice = await rawRequest(
      gw.decisionUrl!,
      "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Uri: /open\r\nX-Forwarded-Uri: /api/x\r\nX-Forwarded-Method: GET\r\nConnection: close\r\n\r\n",
    );
    assert.equal(twice.status, 400);
  });

  test("a method the proxy was told is logged only as a standard method: personal data in the header never reaches the log", async () => {
    const response = await decide({ "x-forwarded-uri": "/open", "x-forwarded-method": "alice.smith@example.com 4111111111111111" });
    assert.equal(response.status >= 400, true);
    const lines = gw.logs.join("");
    assert.ok(!lines.includes("alice.smith"), "no address");
    assert.ok(!lines.includes("4111111111111111"), "no card number");
    assert.ok(gw.logs.some((line) => line.includes('"method":"OTHER"')));
  });

  test("a described target gets the gateway's path rules: dot segments, encoded slashes, trailing dots", async () => {
    for (const uri of ["/api/../open", "/open%2f..", "/api./x", "//open", "open", "http://evil/open"]) {
      const response = await decide({ "x-original-uri": uri, "x-original-method": "GET", "x-api-key": key });
      assert.equal(response.status, 403, uri);
      assert.equal(await codeOf(response), "INVALID_PATH", uri);
    }
    // ingress-nginx sends the whole URL; its target is what is decided.
    const whole = await decide({ "x-original-url": "https://api.example.com/open?a=1", "x-original-method": "GET" });
    assert.equal(whole.status, 200);
  });

  test("a forged refusal header can only ever produce a refusal, with only a refusal's headers", async () => {
    const forge = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
    const cases = [
      forge({ code: "NOT_A_CODE" }),
      forge({ code: "constructor" }),
      forge("not json"),
      "%%%",
      forge({ code: "RATE_LIMITED", headers: { "set-cookie": "a=b", location: "https://evil", "retry-after": "5\r\nx: y" }, extra: { status: 200, code: "OK", note: "x" } }),
      "A".repeat(10_000),
    ];
    for (const carried of cases) {
      const response = await fetch(`${gw.decisionUrl}/`, { headers: { "x-portcullis-problem": carried } });
      assert.ok(response.status >= 400, `${carried.slice(0, 40)} → ${response.status}`);
      assert.equal(response.headers.get("set-cookie"), null);
      assert.equal(response.headers.get("location"), null);
      const body = (await response.json()) as { status: number; code: string };
      assert.equal(body.status, response.status, "the body's status is the answer's");
    }
    const withExtras = await fetch(`${gw.decisionUrl}/`, { headers: { "x-portcullis-problem": cases[4]! } });
    assert.equal(withExtras.status, 429);
    assert.equal(withExtras.headers.get("retry-after"), null, "a header value with a line break is dropped");
    assert.equal(((await withExtras.json()) as { code: string }).code, "RATE_LIMITED");
  });

  test("the decision port's own liveness probe answers; any other undescribed request is refused", async () => {
    assert.equal((await fetch(`${gw.decisionUrl}/health/live`)).status, 200);
    assert.equal((await fetch(`${gw.decisionUrl}/health/status`)).status, 404, "status and metrics are the admin port's");
    assert.equal((await fetch(`${gw.decisionUrl}/api/x`, { headers: { "x-api-key": key } })).status, 400);
  });
});

describe("decision API at load", () => {
  const create = (routes: unknown[], upstream?: string) =>
    Gateway.create({
      policy: parsePolicy({ version: 1, routes }, "test-policy"),
      upstream,
      adminToken: ADMIN_TOKEN,
      production: false,
      logger: createLogger({ level: "silent" }),
      decision: true,
    });

  test("a route whose controls need the body or the upstream's answer is refused, saying which and why", async () => {
    await assert.rejects(create([{ name: "s", match: { path: "/**" }, shield: {} }]), (error: unknown) => {
      assert.ok(error instanceof PolicyError);
      assert.match(error.message, /route "s": the shield inspects request bodies \(set shield.inspectBody: false/);
      return true;
    });
    await assert.rejects(create([{ name: "q", match: { path: "/**" }, quotas: [{ name: "tokens", by: "tenant", limit: 10, per: "day", cost: { header: "x-cost" } }] }]), /route "q": quota "tokens" is charged from the upstream's x-cost header/);
  });

  test("without an upstream, only the decision API is served", async () => {
    const gateway = await create([{ name: "s", match: { path: "/**" }, shield: { inspectBody: false } }]);
    try {
      const listening = await gateway.listen({ port: 0, host: "127.0.0.1", adminPort: 0, adminHost: "127.0.0.1", decisionPort: 0 });
      assert.equal(listening.url, undefined);
      assert.equal((await fetch(`${listening.decisionUrl!}/`, { headers: { "x-forwarded-uri": "/x", "x-forwarded-method": "GET" } })).status, 401);
    } finally {
      await gateway.close();
    }
  });
});
