import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { InProcessPortcullis, parsePolicy } from "../../src/adapters/in-process.js";
import { parseWebhookKey, verifyStandardWebhook, verifyStripeWebhook, webhookSchema } from "../../src/webhooks/index.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { createTestRedis, type TestRedis } from "../helpers/redis.js";

const NOW = 1_800_000_000;
const secret = () => `whsec_${randomBytes(32).toString("base64")}`;
const standardHeaders = (wh: Webhook, id: string, at: number, body: string): IncomingHttpHeaders => ({
  "webhook-id": id,
  "webhook-timestamp": String(at),
  "webhook-signature": wh.sign(id, new Date(at * 1000), body),
});

describe("Standard Webhooks verification", () => {
  test("the specification's test vector verifies", () => {
    const key = parseWebhookKey("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const headers = { "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330", "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" };
    assert.deepEqual(verifyStandardWebhook(headers, Buffer.from('{"test": 2432232314}'), [key], 1614265330, 300), { id: "msg_p5jXN8AQM9LWM0D4loKWxJek" });
  });

  test("what the standardwebhooks package signs verifies; a changed byte, another secret or id does not", () => {
    const s = secret();
    const wh = new Webhook(s);
    const body = '{"type":"invoice.paid","amount":100}';
    const headers = standardHeaders(wh, "msg_1", NOW, body);
    const key = parseWebhookKey("standard", s);
    assert.deepEqual(verifyStandardWebhook(headers, Buffer.from(body), [key], NOW, 300), { id: "msg_1" });
    assert.equal(verifyStandardWebhook(headers, Buffer.from(body.replace("100", "900")), [key], NOW, 300), "no_valid_signature");
    assert.equal(verifyStandardWebhook(headers, Buffer.from(body), [parseWebhookKey("standard", secret())], NOW, 300), "no_valid_signature");
    assert.equal(verifyStandardWebhook({ ...headers, "webhook-id": "msg_2" }, Buffer.from(body), [key], NOW, 300), "no_valid_signature");
    // Several secrets during a rotation: the old one's signature still passes.
    assert.deepEqual(verifyStandardWebhook(headers, Buffer.from(body), [parseWebhookKey("standard", secret()), key], NOW, 300), { id: "msg_1" });
    // Several signatures in the header: one valid among garbage passes.
    assert.deepEqual(verifyStandardWebhook({ ...headers, "webhook-signature": `v1,AAAA v2,xyz ${String(headers["webhook-signature"])}` }, Buffer.from(body), [key], NOW, 300), { id: "msg_1" });
  });

  test("timestamps: too old and too far ahead are both refused, and malformed ones", () => {
    const s = secret();
    const wh = new Webhook(s);
    const key = parseWebhookKey("standard", s);
    const at = (t: number) => verifyStandardWebhook(standardHeaders(wh, "m", t, "{}"), Buffer.from("{}"), [key], NOW, 300);
    assert.deepEqual(at(NOW - 300), { id: "m" });
    assert.equal(at(NOW - 301), "too_old");
    assert.equal(at(NOW + 301), "too_new");
    for (const bad of ["", "abc", "1.8e9", "-1", " 1800000000", "0x6b49d200"]) {
      assert.equal(verifyStandardWebhook({ "webhook-id": "m", "webhook-timestamp": bad, "webhook-signature": "v1,x" }, Buffer.from("{}"), [key], NOW, 300), "bad_timestamp", bad);
    }
    assert.equal(verifyStandardWebhook({ "webhook-timestamp": String(NOW), "webhook-signature": "v1,x" }, Buffer.from("{}"), [key], NOW, 300), "missing_headers");
  });

  test("v1a, Ed25519: a signature by the private key verifies against the configured public key; versions cannot be swapped", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    const key = parseWebhookKey("standard", `whpk_${raw.toString("base64")}`);
    const body = Buffer.from('{"a":1}');
    const signature = sign(null, Buffer.concat([Buffer.from(`msg_e.${NOW}.`), body]), privateKey).toString("base64");
    const headers = { "webhook-id": "msg_e", "webhook-timestamp": String(NOW), "webhook-signature": `v1a,${signature}` };
    assert.deepEqual(verifyStandardWebhook(headers, body, [key], NOW, 300), { id: "msg_e" });
    assert.equal(verifyStandardWebhook({ ...headers, "webhook-signature": `v1,${signature}` }, body, [key], NOW, 300), "no_valid_signature");
    assert.equal(verifyStandardWebhook(headers, Buffer.from('{"a":2}'), [key], NOW, 300), "no_valid_signature");
    // An HMAC key never checks a v1a signature (a public key is no secret).
    const hmacOfPublic = createHmac("sha256", raw).update(Buffer.concat([Buffer.from(`msg_e.${NOW}.`), body])).digest("base64");
    assert.equal(verifyStandardWebhook({ ...headers, "webhook-signature": `v1a,${hmacOfPublic}` }, body, [key], NOW, 300), "no_valid_signature");
  });

  test("secrets and settings are refused at load when unusable", () => {
    for (const bad of ["", "secret", "whsec_", "whsec_c2hvcnQ=", "whpk_AAAA"]) assert.throws(() => parseWebhookKey("standard", bad), bad);
    assert.throws(() => parseWebhookKey("stripe", "sk_live_123"));
    for (const toleranceSeconds of [Number.NaN, Number.POSITIVE_INFINITY, 0, -5, 1.5]) {
      assert.equal(webhookSchema.safeParse({ scheme: "standard", secretEnv: ["X"], toleranceSeconds }).success, false, String(toleranceSeconds));
    }
  });
});

describe("Stripe verification", () => {
  const stripe = new Stripe("sk_test_unused");
  test("headers made by Stripe's own library verify; tampered, foreign, old and v0-only ones do not", () => {
    const s = `whsec_${randomBytes(24).toString("hex")}`;
    const key = parseWebhookKey("stripe", s);
    const body = JSON.stringify({ id: "evt_1", object: "event" });
    const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: s, timestamp: NOW });
    const verified = verifyStripeWebhook({ "stripe-signature": header }, Buffer.from(body), [key], NOW, 300);
    assert.equal(typeof verified, "object");
    assert.equal(verifyStripeWebhook({ "stripe-signature": header }, Buffer.from(body + " "), [key], NOW, 300), "no_valid_signature");
    assert.equal(verifyStripeWebhook({ "stripe-signature": header }, Buffer.from(body), [parseWebhookKey("stripe", `whsec_${randomBytes(24).toString("hex")}`)], NOW, 300), "no_valid_signature");
    assert.equal(verifyStripeWebhook({ "stripe-signature": header }, Buffer.from(body), [key], NOW + 301, 300), "too_old");
    const v1 = /v1=([0-9a-f]+)/.exec(header)![1]!;
    assert.equal(verifyStripeWebhook({ "stripe-signature": `t=${NOW},v0=${v1}` }, Buffer.from(body), [key], NOW, 300), "missing_headers");
    assert.equal(verifyStripeWebhook({ "stripe-signature": `t=${NOW},t=${NOW + 1},v1=${v1}` }, Buffer.from(body), [key], NOW, 300), "bad_timestamp");
    // And what this verifies, Stripe's library accepts.
    assert.equal((stripe.webhooks.constructEvent(body, header, s, 300, undefined, NOW) as { id: string }).id, "evt_1");
  });

  test("during a rotation, a delivery signed with both secrets has one identity: replaying it with either signature alone is the same delivery", () => {
    const [oldSecret, newSecret] = [`whsec_${randomBytes(24).toString("hex")}`, `whsec_${randomBytes(24).toString("hex")}`];
    const keys = [parseWebhookKey("stripe", oldSecret), parseWebhookKey("stripe", newSecret)];
    const body = JSON.stringify({ id: "evt_2", object: "event" });
    const sig = (secret: string) => /v1=([0-9a-f]+)/.exec(stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: NOW }))![1]!;
    const [a, b] = [sig(oldSecret), sig(newSecret)];
    const ids = [`t=${NOW},v1=${a},v1=${b}`, `t=${NOW},v1=${b}`, `t=${NOW},v1=${a}`, `t=${NOW},v1=${b},v1=${a}`].map((header) => verifyStripeWebhook({ "stripe-signature": header }, Buffer.from(body), keys, NOW, 300));
    assert.ok(ids.every((id) => typeof id === "object"));
    assert.equal(new Set(ids.map((id) => (id as { id: string }).id)).size, 1);
    const other = verifyStripeWebhook({ "stripe-signature": `t=${NOW + 1},v1=${a}` }, Buffer.from(body), keys, NOW, 300);
    assert.equal(other, "no_valid_signature", "the timestamp is signed: it cannot be changed to make a new identity");
  });
});

describe("webhook routes through the gateway", () => {
  let redis: TestRedis | string;
  const nodes: TestGateway[] = [];
  const standardSecret = secret();
  const stripeSecret = `whsec_${randomBytes(24).toString("hex")}`;
  const policy = {
    version: 1,
    routes: [
      { name: "hooks", match: { path: "/hooks/standard", methods: ["POST"] }, authenticate: "none", webhook: { scheme: "standard", secretEnv: ["TEST_WH_STANDARD"] } },
      { name: "stripe", match: { path: "/hooks/stripe", methods: ["POST"] }, authenticate: "none", webhook: { scheme: "stripe", secretEnv: ["TEST_WH_STRIPE"] } },
      { name: "api", match: { path: "/**" } },
    ],
  };
  before(async () => {
    redis = await createTestRedis();
    process.env.TEST_WH_STANDARD = standardSecret;
    process.env.TEST_WH_STRIPE = stripeSecret;
    const shared = typeof redis === "string" ? {} : { redisUrl: redis.url, redisPrefix: redis.prefix };
    for (let i = 0; i < 2; i++) nodes.push(await startTestGateway(policy, shared));
  });
  after(async () => {
    for (const node of nodes) await node.close();
    if (typeof redis === "object") await redis.cleanup();
    delete process.env.TEST_WH_STANDARD;
    delete process.env.TEST_WH_STRIPE;
  });

  const deliver = (node: number, path: string, headers: IncomingHttpHeaders, body: string) =>
    fetch(nodes[node]!.url + path, { method: "POST", headers: { "content-type": "application/json", ...(headers as Record<string, string>) }, body });

  test("a signed delivery is forwarded once; its replay, to this node or another, is 401 and an event", async (t) => {
    if (typeof redis === "string") return void t.skip(redis);
    const wh = new Webhook(standardSecret);
    const body = '{"type":"user.created"}';
    const headers = standardHeaders(wh, `msg_${randomBytes(6).toString("hex")}`, Math.floor(Date.now() / 1000), body);
    const first = await deliver(0, "/hooks/standard", headers, body);
    assert.equal(first.status, 200);
    assert.equal(((await first.json()) as { body_bytes: number }).body_bytes, body.length, "the verified bytes are the ones forwarded");
    for (const node of [0, 1]) {
      const replay = await deliver(node, "/hooks/standard", headers, body);
      assert.equal(replay.status, 401);
      assert.equal(((await replay.json()) as { code: string }).code, "WEBHOOK_SIGNATURE_INVALID");
    }
    const events = (await nodes[0]!.admin("GET", "/admin/v1/security-events")).json.events as { type: string; detail?: { reason: string } }[];
    assert.ok(events.some((e) => e.type === "webhook_signature_invalid" && e.detail?.reason === "replayed"));
  });

  test("unsigned, tampered and Stripe-signed deliveries", async (t) => {
    if (typeof redis === "string") return void t.skip(redis);
    assert.equal((await deliver(0, "/hooks/standard", {}, "{}")).status, 401);
    const wh = new Webhook(standardSecret);
    const headers = standardHeaders(wh, "msg_t", Math.floor(Date.now() / 1000), '{"amount":1}');
    assert.equal((await deliver(1, "/hooks/standard", headers, '{"amount":9}')).status, 401);
    const body = JSON.stringify({ id: "evt_9" });
    const header = new Stripe("sk_test_unused").webhooks.generateTestHeaderString({ payload: body, secret: stripeSecret });
    assert.equal((await deliver(1, "/hooks/stripe", { "stripe-signature": header }, body)).status, 200);
    assert.equal((await deliver(0, "/hooks/stripe", { "stripe-signature": header }, body)).status, 401, "a Stripe replay, on the other node");
    assert.equal((await deliver(0, "/hooks/stripe", headers, '{"amount":1}')).status, 401, "a Standard Webhooks signature on the Stripe route");
  });

  test("a webhook route whose secret is missing stops the gateway and the adapters from starting", async () => {
    const missing = { version: 1, routes: [{ name: "hooks", match: { path: "/hooks" }, authenticate: "none", webhook: { scheme: "standard", secretEnv: ["TEST_WH_NOT_SET"] } }] };
    await assert.rejects(startTestGateway(missing), /TEST_WH_NOT_SET is not set/);
    await assert.rejects(InProcessPortcullis.create({ policy: parsePolicy(missing, "p") }), /TEST_WH_NOT_SET is not set/);
    await assert.rejects(startTestGateway(policy, { decision: true }), /webhook signatures are made over the request body/, "the decision API never sees the body");
    process.env.TEST_WH_BAD = "not-a-secret";
    try {
      await assert.rejects(startTestGateway({ ...missing, routes: [{ ...missing.routes[0]!, webhook: { scheme: "standard", secretEnv: ["TEST_WH_BAD"] } }] }), /TEST_WH_BAD is not usable/);
    } finally {
      delete process.env.TEST_WH_BAD;
    }
  });
});
