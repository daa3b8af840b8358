import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { verifyExport } from "../../src/audit/index.js";
import { IdentitySigner } from "../../src/forward/identity-assertion.js";
import { CLI, run } from "../helpers/cli.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

describe("the gateway's audit trail", () => {
  let gw: TestGateway;
  let tenantId: string;
  let writer: string;

  before(async () => {
    gw = await startTestGateway();
    tenantId = String((await gw.admin("POST", "/admin/v1/tenants", { name: "acme" })).json.id);
    writer = String((await gw.admin("POST", `/admin/v1/tenants/${tenantId}/keys`, { env: "live", scopes: ["audit:write", "vault:read", "vault:write"] })).json.key);
  });
  after(async () => {
    await gw.close();
  });

  const records = async (query = "") => (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit${query}`)).json.records as { seq: number; action: string; actor_type: string; actor_id: string; target_type: string; target_id: string; request_id: string; ip: string | null; diff: unknown }[];
  const append = (key: string, body: unknown) =>
    fetch(`${gw.url}/portcullis/v1/audit/records`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  test("admin mutations on a tenant are on its trail, the tenant's creation first", async () => {
    const actions = (await records()).map((r) => r.action);
    assert.deepEqual(actions.slice(0, 2), ["admin.create_tenant", "admin.create_key"]);
    const [created] = await records("?action=admin.create_tenant");
    assert.deepEqual([created!.actor_type, created!.actor_id, created!.target_type, created!.target_id], ["admin", "admin-token", "tenant", tenantId]);
  });

  test("an upstream with audit:write appends with its before/after diff, to its own tenant only; the body cannot name another", async () => {
    const appended = await append(writer, { actorType: "user", actorId: "u_1", action: "campaign.update", targetType: "campaign", targetId: "c_9", diff: { before: { budget: 1 }, after: { budget: 2 } }, ip: "203.0.113.9" });
    assert.equal(appended.status, 201);
    const [record] = await records("?action=campaign.update");
    assert.deepEqual(record!.diff, { before: { budget: 1 }, after: { budget: 2 } });
    assert.equal(record!.ip, "203.0.113.9");
    assert.match(record!.request_id, /./);
    assert.equal((await append(writer, { tenantId: "00000000-0000-0000-0000-000000000000", actorType: "user", actorId: "u", action: "x.y" })).status, 422);
    assert.equal((await append(writer, { actorType: "nobody", actorId: "u", action: "x.y" })).status, 422);
    const reader = String((await gw.admin("POST", `/admin/v1/tenants/${tenantId}/keys`, { env: "live", scopes: ["vault:read"] })).json.key);
    assert.equal((await append(reader, { actorType: "user", actorId: "u", action: "x.y" })).status, 403);
  });

  test("a diff's personal values are hashed under the tenant's key and its credentials masked before they are chained", async () => {
    const diff = { before: { email: "old@example.com", phone: "+1 415 555 2671" }, after: { email: "New@Example.com", password: "hunter2", note: "card 4111 1111 1111 1111" } };
    assert.equal((await append(writer, { actorType: "user", actorId: "u_2", action: "profile.update", diff })).status, 201);
    assert.equal((await append(writer, { actorType: "user", actorId: "u_2", action: "profile.update", diff: { before: { email: "new@example.com" } } })).status, 201);
    const [first, second] = await records("?action=profile.update");
    const text = JSON.stringify([first, second]);
    for (const leaked of ["old@example.com", "New@Example.com", "4155552671", "hunter2", "4111"]) assert.ok(!text.includes(leaked), leaked);
    const stored = first!.diff as { before: { email: string }; after: { email: string; password: string; note: string } };
    assert.match(stored.before.email, /^\[EMAIL:[0-9a-f]{12}\]$/);
    assert.notEqual(stored.before.email, stored.after.email, "a change still shows");
    assert.equal((second!.diff as { before: { email: string } }).before.email, stored.after.email, "one address, one hash, however it is written");
    assert.equal(stored.after.password, "[REDACTED]");
    assert.equal(stored.after.note, "card [CARD:" + stored.after.note.slice(11));
    assert.equal(((await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit/verify`)).json as { ok: boolean }).ok, true);
  });

  test("vault reads and writes are recorded with the secret's name, never its value", async () => {
    const headers = { authorization: `Bearer ${writer}` };
    assert.equal((await fetch(`${gw.url}/portcullis/v1/vault/secrets/crm/token`, { method: "PUT", headers, body: "s3cr3t-value" })).status, 200);
    assert.equal((await fetch(`${gw.url}/portcullis/v1/vault/secrets/crm/token`, { headers })).status, 200);
    const vault = await records("?target_type=secret");
    assert.deepEqual(vault.map((r) => [r.action, r.target_id]), [["vault.write", "crm/token"], ["vault.read", "crm/token"]]);
    assert.ok(!JSON.stringify(await records()).includes("s3cr3t-value"));
  });

  test("verify through the admin API; an export with its signed checkpoint verifies offline, carries no personal data, and shows tampering", async () => {
    const verified = (await gw.admin("GET", "/admin/v1/audit/verify")).json as { ok: boolean; tenants: { tenant_id: string; ok: boolean; records: number }[] };
    assert.equal(verified.ok, true);
    assert.ok(verified.tenants.some((t) => t.tenant_id === tenantId && t.records >= 5));
    const { lines } = (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit/export`)).json as { lines: string[] };
    assert.ok(!lines.join("\n").includes("203.0.113.9"), "no ip in the export");
    const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: object[] };
    const offline = await verifyExport(lines, jwks as never);
    assert.equal(offline.ok, true);
    assert.equal(offline.records, lines.length - 2);

    const changed = lines.map((line) => (line.includes('"campaign.update"') ? line.replace('"budget":2', '"budget":20') : line));
    assert.deepEqual((await verifyExport(changed, jwks as never)).firstBad?.reason, "changed");
    const dropped = lines.filter((_, i) => i !== 2);
    assert.deepEqual((await verifyExport(dropped, jwks as never)).firstBad, { seq: 2, reason: "missing" });
    const extended = [...lines.slice(0, -1), lines[lines.length - 2]!.replace(/"seq":(\d+)/, (_, n) => `"seq":${Number(n) + 1}`), lines.at(-1)!];
    assert.equal((await verifyExport(extended, jwks as never)).firstBad?.reason, "beyond_checkpoint");
    const otherKey = await IdentitySigner.fromKey(generateKeyPairSync("ed25519").privateKey);
    await assert.rejects(verifyExport(lines, otherKey.jwks() as never));

    // The CLI, offline: exit 0 for the export, 1 for a tampered one.
    const dir = await mkdtemp(join(tmpdir(), "portcullis-audit-"));
    await writeFile(join(dir, "jwks.json"), JSON.stringify(jwks));
    await writeFile(join(dir, "trail.jsonl"), lines.join("\n"));
    await writeFile(join(dir, "tampered.jsonl"), changed.join("\n"));
    const good = await run(process.execPath, [CLI, "audit", "verify", "--file", join(dir, "trail.jsonl"), "--jwks", join(dir, "jwks.json")]);
    assert.match(good.stdout, /ok, \d+ records/);
    const bad = await run(process.execPath, [CLI, "audit", "verify", "--file", join(dir, "tampered.jsonl"), "--jwks", join(dir, "jwks.json")]).catch((error: { code: number; stdout: string }) => error);
    assert.equal((bad as { code: number }).code, 1);
    assert.match((bad as { stdout: string }).stdout, /BROKEN at record \d+ \(changed\)/);
  });

  test("a signed checkpoint from the admin API catches a tail cut off later", async () => {
    const checkpoint = (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit/checkpoint`)).json as { seq: number; head: string; jws: string };
    assert.match(checkpoint.jws, /^ey/);
    await gw.gateway.db.asOwner(async (q) => {
      await q.query("set local session_replication_role = replica");
      await q.query("delete from audit_personal where tenant_id = $1 and seq = $2", [tenantId, checkpoint.seq]);
      await q.query("delete from audit_records where tenant_id = $1 and seq = $2", [tenantId, checkpoint.seq]);
    });
    const verified = (await gw.admin("GET", `/admin/v1/tenants/${tenantId}/audit/verify?checkpoint_seq=${checkpoint.seq}&checkpoint_head=${checkpoint.head}`)).json as { ok: boolean; firstBad: { reason: string } };
    assert.deepEqual([verified.ok, verified.firstBad.reason], [false, "truncated"]);
  });
});
