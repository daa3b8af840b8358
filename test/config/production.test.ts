import assert from "node:assert/strict";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { adminTokenChecker, isWeakAdminToken, resolveAdminToken } from "../../src/admin/token.js";
import { productionProblems } from "../../src/config/production.js";
import { parsePolicy } from "../../src/policy/load.js";

const STRONG = "Zq3vR8nW2pL5tY7kB1mC4xD6fG9hJ0sA";
const policy = (extra: object = {}) => parsePolicy({ version: 1, routes: [{ name: "d", match: { path: "/**" } }], ...extra }, "p");

test("production refuses a missing or weak admin token, wildcard CORS with credentials, a database without TLS", () => {
  const ok = { policy: policy(), adminTokenFromEnv: STRONG, databaseUrl: undefined, allowInsecureDatabase: false };
  assert.deepEqual(productionProblems(ok), []);
  assert.match(productionProblems({ ...ok, adminTokenFromEnv: undefined })[0]!, /PORTCULLIS_ADMIN_TOKEN is not set/);
  assert.match(productionProblems({ ...ok, adminTokenFromEnv: "short" })[0]!, /weak/);
  assert.match(productionProblems({ ...ok, adminTokenFromEnv: "a".repeat(64) })[0]!, /weak/);
  const cors = policy({ cors: { allowOrigins: ["*"], allowCredentials: true } });
  assert.match(productionProblems({ ...ok, policy: cors })[0]!, /any origin/);
  assert.deepEqual(productionProblems({ ...ok, policy: policy({ cors: { allowOrigins: ["*"] } }) }), []);
  assert.match(productionProblems({ ...ok, databaseUrl: "postgres://db/app" })[0]!, /TLS/);
  assert.match(productionProblems({ ...ok, databaseUrl: "postgres://db/app?sslmode=prefer" })[0]!, /TLS/);
  assert.deepEqual(productionProblems({ ...ok, databaseUrl: "postgres://db/app?sslmode=verify-full" }), []);
  assert.deepEqual(productionProblems({ ...ok, databaseUrl: "postgres://db/app", allowInsecureDatabase: true }), []);
  const jwt = policy({ jwt: { issuers: [{ issuer: "i", jwksUri: "http://idp/jwks", audience: "a" }] } });
  assert.match(productionProblems({ ...ok, policy: jwt })[0]!, /https/);
  const insecureIdp = policy({
    connections: { publicUrl: "https://gw.example", providers: { idp: { issuer: "http://idp.example", clientId: "c", clientSecretEnv: "IDP_SECRET", allowInsecureHttp: true } } },
  });
  assert.match(productionProblems({ ...ok, policy: insecureIdp })[0]!, /allowInsecureHttp/);
});

test("connection providers: a policy without the callback's public URL, or without issuer or endpoints, is refused", () => {
  assert.throws(() => policy({ connections: { providers: { idp: { issuer: "https://idp.example", clientId: "c", clientSecretEnv: "IDP_SECRET" } } } }), /publicUrl/);
  assert.throws(() => policy({ connections: { publicUrl: "https://gw.example", providers: { idp: { clientId: "c", clientSecretEnv: "IDP_SECRET" } } } }), /issuer/);
  assert.throws(() => policy({ connections: { publicUrl: "https://gw.example/path", providers: {} } }), /origin/);
});

test("no problem message repeats the secret it complains about", () => {
  const weak = "hunter2-hunter2";
  const problems = productionProblems({ policy: policy(), adminTokenFromEnv: weak, databaseUrl: "postgres://u:pw-secret@db/app", allowInsecureDatabase: false });
  assert.ok(!problems.join("\n").includes(weak));
  assert.ok(!problems.join("\n").includes("pw-secret"));
});

test("a generated admin token is strong, stored with mode 0600 and reused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-token-"));
  const first = await resolveAdminToken(dir, undefined);
  assert.ok(first.generatedAt);
  assert.equal(isWeakAdminToken(first.token), false);
  assert.equal((await stat(join(dir, "admin-token"))).mode & 0o777, 0o600);
  const second = await resolveAdminToken(dir, undefined);
  assert.equal(second.token, first.token);
  assert.equal(second.generatedAt, undefined, "shown only when generated");
  assert.equal((await readFile(join(dir, "admin-token"), "utf8")).trim(), first.token);
  assert.equal((await resolveAdminToken(dir, STRONG)).token, STRONG, "the environment wins");
});

test("the admin token check accepts exactly the token", () => {
  const check = adminTokenChecker(STRONG);
  assert.equal(check(`Bearer ${STRONG}`), true);
  for (const bad of [undefined, "", STRONG, `Bearer ${STRONG} `, `bearer  ${STRONG}`, `Bearer ${STRONG.slice(1)}`, `Bearer ${STRONG}\u0000`]) {
    assert.equal(check(bad), false, JSON.stringify(bad));
  }
});
