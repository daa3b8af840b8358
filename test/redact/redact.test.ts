import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { Redactor } from "../../src/redact/index.js";
import { startTestGateway } from "../helpers/gateway.js";

const key = randomBytes(32);
const mask = new Redactor();

describe("the redaction engine", () => {
  test("each entity in the forms it is written in", () => {
    const cases: [string, string][] = [
      ["mail alice.o'neil+tag@mail.example.co.uk now", "mail [EMAIL] now"],
      ["GET /users/alice%40example.com/orders", "GET /users/[EMAIL]/orders"],
      ["call +1 415-555-2671, (212) 555-0187, +44 20 7946 0958 or 030 901820", "call [PHONE], [PHONE], [PHONE] or [PHONE]"],
      ["phone=2125550187", "phone=[PHONE]"],
      // An extension written onto the number is part of it: the number is not left whole beside a word.
      ["desk +1 415-555-2671x204, cell (212) 555-0187ext12", "desk [PHONE], cell [PHONE]"],
      ["pan 4111 1111 1111 1111 / 5500-0000-0000-0004 / 378282246310005", "pan [CARD] / [CARD] / [CARD]"],
      ["iban GB82 WEST 1234 5698 7654 32, DE89370400440532013000", "iban [IBAN], [IBAN]"],
      ["ssn 078-05-1120", "ssn [SSN]"],
      ["from 203.0.113.9 and 2001:db8::7 and [fe80::1%eth0]:443", "from [IP] and [IP] and [[IP]]:443"],
      ["jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt [JWT]"],
      ["Authorization: Bearer 8f4e2a9c1b7d3e5f6a8b", "Authorization: Bearer [TOKEN]"],
      ["aws AKIAIOSFODNN7EXAMPLE gh ghp_0123456789abcdefghijABCDEFGHIJ012345 stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "aws [SECRET] gh [SECRET] stripe [SECRET]"],
      ['{"password":"hunter2","clientSecret":"x","apiKey":"y","idempotency_key":"k1"}', '{"password":"[REDACTED]","clientSecret":"[REDACTED]","apiKey":"[REDACTED]","idempotency_key":"k1"}'],
      ["login?user=bob&password=s3cret&next=/", "login?user=bob&password=[REDACTED]&next=/"],
    ];
    for (const [input, expected] of cases) assert.equal(mask.text(input), expected, input);
  });

  test("look-alikes stay: times, versions, ids, Luhn-valid numbers that no card network issues, excluded SSNs", () => {
    const negatives = [
      "2026-12-01T18:05:23.123Z 18:05:23 1733076323 1733076323123",
      "v1.2.3 10.2.3-rc.1 1.2.3.4.5 OID 1.3.6.1.4.1.311",
      "req 550e8400-e29b-41d4-a716-446655440000 sha 3f786850e387550fdab836ed7e6dc881de23001b",
      "order 4155552671 ORD-12345678 #1234567 tracking 7992739871300001",
      "ssn-like 000-12-3456 666-12-3456 912-34-5678 123-00-4567",
      "mac 00:1a:2b:3c:4d:5e std::vector a::b @media @scope/pkg user@localhost",
      "price 1,234.56 EUR 12.345 ms port 8080 zip 94103",
    ];
    for (const text of negatives) assert.equal(mask.text(text), text);
  });

  test("a private key without its footer is redacted to the end of its line or JSON string, never beyond", () => {
    assert.equal(mask.text('{"k":"-----BEGIN PRIVATE KEY-----\\nMIIE","n":1}'), '{"k":"[SECRET]","n":1}');
    assert.equal(mask.text("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- ok"), "[SECRET] ok");
  });

  test("hash mode: a tenant's equal values correlate however written; tenants' hashes differ; a hash needs a key", () => {
    const hashing = new Redactor({ entities: { email: "hash", phone: "hash" } }, key);
    const a = hashing.text("Alice@Example.com alice@example.com", "t1");
    const [first, second] = a.split(" ");
    assert.match(first!, /^\[EMAIL:[0-9a-f]{12}\]$/);
    assert.equal(first, second);
    assert.notEqual(hashing.text("alice@example.com", "t2"), first);
    assert.equal(hashing.text("+1 415 555 2671", "t1"), hashing.text("+1-415-555-2671", "t1"));
    assert.throws(() => new Redactor({ entities: { email: "hash" } }), /hash mode needs a key/);
  });

  test("drop and keep, and a tenant's own settings over the defaults", () => {
    const r = new Redactor({ entities: { ip: "keep", email: "drop" }, tenants: { t9: { entities: { ip: "mask" } } } });
    assert.equal(r.text("a@b.io at 192.0.2.1"), " at 192.0.2.1");
    assert.equal(r.text("a@b.io at 192.0.2.1", "t9"), " at [IP]");
  });

  test("values under sensitive names go whatever they hold; the rest of a document is scanned; a deep document is cut", () => {
    const redacted = mask.value({ user: { email: "x@y.org", password: { nested: ["a"] }, session_id: 42, note: "ring 030 901820" }, cookies: null, list: ["ok"] });
    assert.deepEqual(redacted, { user: { email: "[EMAIL]", password: "[REDACTED]", session_id: "[REDACTED]", note: "ring [PHONE]" }, cookies: null, list: ["ok"] });
    let deep: unknown = "x";
    for (let i = 0; i < 200; i++) deep = { d: deep };
    assert.ok(JSON.stringify(mask.value(deep)).includes("[REDACTED]"));
  });

  test("worst-case inputs are linear: a megabyte of any one trigger character finishes", () => {
    for (const ch of ["@", "1", ":", "=", "a", "-", "(", "1.", "1 ", "A1", "eyJ", "sk_"]) {
      const text = ch.repeat(Math.ceil(1_048_576 / ch.length));
      assert.equal(typeof mask.text(text), "string");
    }
    assert.equal(mask.text(`${"a".repeat(100_000)}@example.com`), `${"a".repeat(100_000 - 64)}[EMAIL]`);
  });
});

describe("the gateway's log lines through the redaction engine", () => {
  test("no email, phone or card from a request reaches a log line; with ips: mask, no client address either", async () => {
    const gw = await startTestGateway({ version: 1, logs: { redact: { ips: "mask" } }, blocking: { enabled: true, threshold: 1, windowSeconds: 60, blockSeconds: 1 }, routes: [{ name: "default", match: { path: "/**" }, authenticate: { methods: ["apiKey"] } }] });
    try {
      await fetch(`${gw.url}/users/alice%40example.com/cards/4111111111111111?phone=%2B14155552671`, { headers: { "x-forwarded-for": "198.51.100.23" } });
      await fetch(`${gw.url}/users/bob@example.org`);
      await fetch(`${gw.url}/users/carol%40example%2Eorg`);
      await fetch(`${gw.url}/users/dave%2540example.org`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const logs = gw.logs.join("");
      assert.match(logs, /"path":"\/users\/\[EMAIL\]\/cards\/\[CARD\]"/);
      assert.match(logs, /client_blocked/, "a security event with the client's address was logged");
      for (const leaked of ["alice", "bob@example.org", "carol", "dave", "4111111111111111", "4155552671", "127.0.0.1"]) assert.ok(!logs.includes(leaked), leaked);
      for (const line of gw.logs.join("").split("\n").filter((l) => l !== "")) JSON.parse(line);
    } finally {
      await gw.close();
    }
  });
});
