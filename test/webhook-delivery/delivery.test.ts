import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { signStandardWebhook } from "../../src/webhook-delivery/index.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver whose answers the test scripts per path (a queue of statuses, then 200); it records every delivery. */
async function startReceiver(): Promise<{ url: string; port: number; received: Received[]; script: Map<string, { status: number; headers?: Record<string, string> }[]>; server: Server }> {
  const received: Received[] = [];
  const script = new Map<string, { status: number; headers?: Record<string, string> }[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const next = script.get(path)?.shift() ?? { status: 200 };
      res.writeHead(next.status, next.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, port, received, script, server };
}

const policyFor = (port: number, allowAddresses = ["127.0.0.1"]) => ({
  version: 1,
  egress: { schemes: ["http"], ports: { allow: [port] }, allowAddresses },
  webhookDelivery: { pollMs: 20, retryScheduleSeconds: [0.05, 0.05, 0.05], leaseSeconds: 5 },
  routes: [{ name: "api", match: { path: "/**" } }],
});

async function until<T>(what: () => T | undefined | Promise<T | undefined>, label: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await what();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`gave up waiting for ${label}`);
}

test("signing reproduces the Standard Webhooks specification's test vector; two secrets give two signatures", () => {
  const body = Buffer.from('{"test": 2432232314}');
  assert.equal(signStandardWebhook("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  assert.equal(signStandardWebhook("msg_1", 1, body, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]).split(" ").length, 2);
});

describe("outbound webhooks", () => {
  let gw: TestGateway;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let acme: { id: string; key: string };
  let globex: { id: string; key: string };
  let reader: string;

  before(async () => {
    receiver = await startReceiver();
    gw = await startTestGateway(policyFor(receiver.port));
    const tenant = async (name: string) => {
      const t = await gw.gateway.tenants.create(name);
      return { id: t.id, key: (await gw.gateway.keys.create(t.id, { env: "live", scopes: ["webhooks:write"] })).key };
    };
    acme = await tenant("acme");
    globex = await tenant("globex");
    reader = (await gw.gateway.keys.create(acme.id, { env: "live", scopes: ["webhooks:read"] })).key;
  });
  after(async () => {
    await gw.close();
    receiver.server.closeAllConnections();
    receiver.server.close();
  });

  const call = async (key: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${gw.url}/portcullis/v1/webhooks${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> };
  };
  const register = async (key: string, path: string, extra: Record<string, unknown> = {}) => {
    const created = await call(key, "POST", "/endpoints", { url: `${receiver.url}${path}`, ...extra });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return created.json as { endpoint: { id: string }; secret: string };
  };
  const deliveries = async (tenantId: string) => (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/webhooks/deliveries`)).json.deliveries as {
    id: string;
    endpoint_id: string;
    message_id: string;
    state: string;
    next_attempt_at: string;
    attempt_log: { status: number | null; error: string | null; at: string }[];
  }[];
  const receivedAt = (path: string) => receiver.received.filter((r) => r.path === path);

  test("a message is signed as Standard Webhooks says and verifies with the standardwebhooks package; the attempt is logged", async () => {
    const { endpoint, secret } = await register(acme.key, "/hooks/a");
    assert.match(secret, /^whsec_/);
    const sent = await call(acme.key, "POST", "/messages", { eventType: "invoice.paid", payload: { invoice: "in_1", amount: 100 } });
    assert.equal(sent.status, 202);
    const [got] = await until(() => (receivedAt("/hooks/a").length > 0 ? receivedAt("/hooks/a") : undefined), "the delivery");
    const verified = new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>) as { type: string; data: unknown };
    assert.equal(verified.type, "invoice.paid");
    assert.deepEqual(verified.data, { invoice: "in_1", amount: 100 });
    assert.equal(got!.headers["webhook-id"], sent.json.id);
    const logged = await until(async () => (await deliveries(acme.id)).find((d) => d.endpoint_id === endpoint.id && d.state === "delivered"), "the log");
    assert.deepEqual(logged.attempt_log.map((a) => a.status), [200]);
    // The secret is shown once: listing never carries it.
    const listed = await call(acme.key, "GET", "/endpoints");
    assert.ok(!JSON.stringify(listed.json).includes(secret.slice(6)));
    assert.equal((await call(reader, "GET", "/endpoints")).status, 200, "webhooks:read may read");
    assert.equal((await call(reader, "POST", "/messages", { eventType: "x", payload: {} })).status, 403, "but not send");
  });

  test("a message id sent twice is queued once; a rotation signs with both secrets through the overlap", async () => {
    const { endpoint, secret: old } = await register(acme.key, "/hooks/rotate");
    const rotated = await call(acme.key, "POST", `/endpoints/${endpoint.id}/rotate`);
    assert.equal(rotated.status, 200);
    const fresh = (rotated.json as { secret: string }).secret;
    const first = await call(acme.key, "POST", "/messages", { id: "msg_order_42", eventType: "order.created", payload: { n: 1 }, endpointId: endpoint.id });
    const again = await call(acme.key, "POST", "/messages", { id: "msg_order_42", eventType: "order.created", payload: { n: 1 }, endpointId: endpoint.id });
    assert.equal((first.json.deliveries as unknown[]).length, 1);
    assert.equal((again.json.deliveries as unknown[]).length, 0);
    const [got] = await until(() => (receivedAt("/hooks/rotate").length > 0 ? receivedAt("/hooks/rotate") : undefined), "the delivery");
    assert.equal(String(got!.headers["webhook-signature"]).split(" ").length, 2);
    for (const secret of [old, fresh]) new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>);
    await sleep(200);
    assert.equal(receivedAt("/hooks/rotate").length, 1);
  });

  test("two rotations at once: one wins, the other is told so, and the winner's secret is the one that signs", async () => {
    const { endpoint } = await register(acme.key, "/hooks/race");
    const [a, b] = await Promise.all([call(acme.key, "POST", `/endpoints/${endpoint.id}/rotate`), call(acme.key, "POST", `/endpoints/${endpoint.id}/rotate`)]);
    const statuses = [a.status, b.status].sort();
    assert.ok(statuses[0] === 200 && (statuses[1] === 200 || statuses[1] === 409), statuses.join(","));
    const winners = [a, b].filter((r) => r.status === 200).map((r) => r.json as { secret: string; endpoint: { secret_version: number } });
    const latest = winners.sort((x, y) => y.endpoint.secret_version - x.endpoint.secret_version)[0]!;
    await call(acme.key, "POST", "/messages", { eventType: "t", payload: { race: true }, endpointId: endpoint.id });
    const [got] = await until(() => (receivedAt("/hooks/race").length > 0 ? receivedAt("/hooks/race") : undefined), "the delivery");
    new Webhook(latest.secret).verify(got!.body, got!.headers as Record<string, string>);
  });

  test("failures are retried on the schedule until a 2xx; Retry-After pushes the next attempt back; the schedule's end fails the delivery", async () => {
    receiver.script.set("/hooks/flaky", [{ status: 500 }, { status: 503 }]);
    receiver.script.set("/hooks/busy", [{ status: 429, headers: { "retry-after": "2" } }]);
    receiver.script.set("/hooks/down", [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }]);
    const flaky = await register(acme.key, "/hooks/flaky");
    const busy = await register(acme.key, "/hooks/busy");
    const down = await register(acme.key, "/hooks/down");
    for (const target of [flaky, busy, down]) await call(acme.key, "POST", "/messages", { eventType: "t", payload: {}, endpointId: target.endpoint.id });
    const flakyDone = await until(async () => (await deliveries(acme.id)).find((d) => d.endpoint_id === flaky.endpoint.id && d.state === "delivered"), "the flaky delivery");
    assert.deepEqual(flakyDone.attempt_log.map((a) => a.status), [500, 503, 200]);
    const downDone = await until(async () => (await deliveries(acme.id)).find((d) => d.endpoint_id === down.endpoint.id && d.state === "failed"), "the failing delivery");
    assert.equal(downDone.attempt_log.length, 4, "the first attempt and the schedule's three retries");
    const waiting = await until(async () => (await deliveries(acme.id)).find((d) => d.endpoint_id === busy.endpoint.id && d.attempt_log.length === 1), "the busy attempt");
    assert.equal(waiting.state, "pending");
    const wait = Date.parse(waiting.next_attempt_at) - Date.parse(waiting.attempt_log[0]!.at);
    assert.ok(wait >= 1_900, `Retry-After 2 s honoured over the 50 ms schedule: ${wait} ms`);
  });

  test("a 410 disables the endpoint: nothing more is queued for it", async () => {
    receiver.script.set("/hooks/gone", [{ status: 410 }]);
    const gone = await register(acme.key, "/hooks/gone");
    await call(acme.key, "POST", "/messages", { eventType: "t", payload: {}, endpointId: gone.endpoint.id });
    const endpoint = await until(async () => {
      const e = (await call(acme.key, "GET", `/endpoints/${gone.endpoint.id}`)).json as { state: string; disabled_reason: string };
      return e.state === "disabled" ? e : undefined;
    }, "the endpoint disabled");
    assert.match(endpoint.disabled_reason, /410/);
    const later = await call(acme.key, "POST", "/messages", { eventType: "t", payload: {}, endpointId: gone.endpoint.id });
    assert.deepEqual(later.json.deliveries, []);
  });

  test("tenants stay apart: another tenant's key cannot read, rotate, delete or send to an endpoint, and its messages never reach it", async () => {
    const mine = await register(acme.key, "/hooks/mine");
    for (const [method, path] of [["GET", `/endpoints/${mine.endpoint.id}`], ["POST", `/endpoints/${mine.endpoint.id}/rotate`], ["DELETE", `/endpoints/${mine.endpoint.id}`]] as const) {
      assert.equal((await call(globex.key, method, path)).status, 404, `${method} ${path}`);
    }
    const theirs = await call(globex.key, "POST", "/messages", { eventType: "t", payload: { secret: "globex data" }, endpointId: mine.endpoint.id });
    assert.deepEqual(theirs.json.deliveries, []);
    await call(globex.key, "POST", "/messages", { eventType: "t", payload: { secret: "globex data" } });
    assert.equal((await call(globex.key, "POST", "/messages", { tenantId: acme.id, eventType: "t", payload: {} })).status, 422, "a tenant named in the body is refused");
    await sleep(200);
    assert.ok(!receiver.received.some((r) => r.body.includes("globex data")));
  });

  test("endpoint URLs are checked against the tenant's egress rules when registered; bad input is refused with the reason", async () => {
    for (const url of ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://0x7f.1:22/", "file:///etc/passwd", "http://user:pw@127.0.0.1/"]) {
      const refused = await call(acme.key, "POST", "/endpoints", { url });
      assert.equal(refused.status, 422, url);
      assert.match(String(refused.json.egress_code), /^EGRESS_/, url);
    }
    assert.equal((await call(acme.key, "POST", "/endpoints", { url: `${receiver.url}/x`, eventTypes: ["bad type!"] })).status, 422);
    assert.equal((await call(acme.key, "POST", "/messages", { eventType: "t" })).status, 422, "a payload is required");
    assert.equal((await call(acme.key, "POST", "/messages", { eventType: "t", payload: "x".repeat(300 * 1024) })).status, 413);
    assert.equal((await call("pk_live_bogus", "GET", "/endpoints")).status, 401);
  });

  test("deleting an endpoint deletes its secrets from the vault", async () => {
    const doomed = await register(acme.key, "/hooks/doomed");
    assert.equal((await call(acme.key, "POST", `/endpoints/${doomed.endpoint.id}/rotate`)).status, 200);
    assert.equal((await call(acme.key, "DELETE", `/endpoints/${doomed.endpoint.id}`)).status, 204);
    const names = (await gw.gateway.vault!.list(acme.id)).map((s) => s.name);
    assert.ok(!names.some((n) => n.includes(doomed.endpoint.id)), names.join(","));
  });

  test("a key with every vault scope can neither list, read, overwrite nor delete the signing secrets the gateway keeps in the same vault", async () => {
    const { endpoint, secret } = await register(acme.key, "/hooks/guarded");
    const vaultKey = (await gw.gateway.keys.create(acme.id, { env: "live", scopes: ["vault:read", "vault:write"] })).key;
    const names = (await gw.gateway.vault!.list(acme.id)).map((s) => s.name).filter((n) => n.includes(endpoint.id));
    assert.equal(names.length, 1, "the gateway keeps the secret in the tenant's vault");
    const vault = (method: string, path: string, body?: string) =>
      fetch(`${gw.url}/portcullis/v1/vault/secrets${path}`, { method, headers: { authorization: `Bearer ${vaultKey}` }, ...(body === undefined ? {} : { body }) });
    const listed = (await (await vault("GET", "")).json()) as { secrets: { name: string }[] };
    assert.ok(!listed.secrets.some((s) => s.name.startsWith("webhooks/")), JSON.stringify(listed));
    for (const name of [names[0]!, "webhooks/endpoints", "connections/x/tokens", "portcullis/anything"]) {
      for (const [method, body] of [["GET", undefined], ["PUT", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="], ["DELETE", undefined]] as const) {
        const response = await vault(method, `/${name}`, body);
        assert.equal(response.status, 404, `${method} ${name}`);
        assert.ok(!(await response.text()).includes(secret.slice(6)));
      }
    }
    // A dot segment is resolved before the name is taken: it cannot walk into the gateway's namespace.
    assert.equal((await vault("GET", `/mine/../${names[0]!}`)).status, 404);
    assert.equal(await gw.gateway.vault!.getString(acme.id, names[0]!), secret, "the secret is untouched");
    assert.ok(gw.logs.some((line) => line.includes('"vault_reserved_access"')), "each attempt is a security event");
  });
});

describe("outbound webhooks: the destination is checked again at delivery", () => {
  test("a name that resolves to a refused address at delivery fails the delivery, logged with the egress code", async () => {
    const receiver = await startReceiver();
    // Loopback is not allowed here, so "localhost" passes registration (a name) and is refused when resolved.
    const gw = await startTestGateway(policyFor(receiver.port, []));
    try {
      const tenant = await gw.gateway.tenants.create("acme");
      const key = (await gw.gateway.keys.create(tenant.id, { env: "live", scopes: ["webhooks:write"] })).key;
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const created = await fetch(`${gw.url}/portcullis/v1/webhooks/endpoints`, { method: "POST", headers, body: JSON.stringify({ url: `http://localhost:${receiver.port}/x` }) });
      assert.equal(created.status, 201);
      await fetch(`${gw.url}/portcullis/v1/webhooks/messages`, { method: "POST", headers, body: JSON.stringify({ eventType: "t", payload: {} }) });
      const failed = await until(async () => {
        const list = (await gw.admin("GET", `/admin/v1/tenants/${tenant.id}/webhooks/deliveries`)).json.deliveries as { state: string; attempt_log: { error: string }[] }[];
        return list.find((d) => d.state === "failed");
      }, "the refused delivery");
      assert.equal(failed.attempt_log[0]!.error, "EGRESS_ADDRESS_DENIED");
      assert.equal(receiver.received.length, 0);
    } finally {
      await gw.close();
      receiver.server.close();
    }
  });
});
