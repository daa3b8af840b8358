import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultPolicy, loadPolicyFile, parsePolicy, PolicyError } from "../../src/policy/load.js";

async function policyFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-policy-"));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function issuesOf(name: string, text: string): Promise<string[]> {
  const file = await policyFile(name, text);
  try {
    await loadPolicyFile(file);
  } catch (error) {
    assert.ok(error instanceof PolicyError);
    assert.equal(error.file, file);
    assert.ok(error.message.startsWith(file), "the message names the file");
    return [...error.issues];
  }
  assert.fail("the policy was accepted");
}

test("a valid YAML policy loads with defaults filled in", async () => {
  const file = await policyFile(
    "p.yaml",
    `version: 1
upstream: http://127.0.0.1:3000
routes:
  - name: public
    match: { path: /public/**, methods: [GET] }
    authenticate: none
  - name: admin
    match: { path: /admin/** }
    authenticate: { methods: [apiKey], keyEnv: live }
    authorize: { scopes: [admin], onDenied: not_found }
`,
  );
  const policy = await loadPolicyFile(file);
  assert.equal(policy.routes.length, 2);
  assert.equal(policy.routes[1]!.forward.connectTimeoutMs, 5000);
  assert.equal(policy.routes[1]!.headers.frameOptions, "DENY");
  assert.deepEqual(policy.cors.allowOrigins, []);
  assert.equal(policy.paths.caseSensitive, false);
});

test("the default policy requires authentication on every path", () => {
  const policy = defaultPolicy();
  assert.equal(policy.routes.length, 1);
  assert.equal(policy.routes[0]!.match.path, "/**");
  assert.equal(policy.routes[0]!.authenticate, undefined, "absent means: authenticate by every configured method");
});

test("unknown fields are errors that name the path inside the file", async () => {
  const issues = await issuesOf(
    "p.yaml",
    `version: 1
routes:
  - name: r
    match: { path: /x }
    authenticate: { methods: [apiKey], kenv: live }
    authorise: { scopes: [a] }
`,
  );
  assert.ok(issues.some((i) => i.startsWith("routes[0].authenticate") && i.includes('"kenv"')), issues.join("\n"));
  assert.ok(issues.some((i) => i.startsWith("routes[0]") && i.includes('"authorise"')), issues.join("\n"));
});

test("wrong values name what is wrong and where", async () => {
  const issues = await issuesOf(
    "p.json",
    JSON.stringify({
      version: 2,
      routes: [
        { name: "bad name!", match: { path: "admin" }, authenticate: { methods: ["password"] } },
        { name: "x", match: { path: "/a/**/b", methods: ["FETCH"] }, forward: { upstream: "ftp://x" } },
      ],
    }),
  );
  for (const expected of ["version", "routes[0].name", "routes[0].match.path", "routes[0].authenticate", "routes[1].match.path", "routes[1].match.methods[0]", "routes[1].forward.upstream"]) {
    assert.ok(issues.some((i) => i.startsWith(expected)), `${expected} in:\n${issues.join("\n")}`);
  }
});

test("cross-field mistakes are caught: duplicate names, jwt without issuers, scopes without authentication", () => {
  assert.throws(
    () =>
      parsePolicy(
        {
          version: 1,
          routes: [
            { name: "a", match: { path: "/a" }, authenticate: { methods: ["jwt"] } },
            { name: "a", match: { path: "/b" }, authenticate: "none", authorize: { scopes: ["x"] } },
          ],
        },
        "inline",
      ),
    (e: PolicyError) => {
      assert.equal(e.issues.length, 3, e.issues.join("\n"));
      return true;
    },
  );
});

test("a limit whose cost no bucket can hold is an error, not a route that refuses everything", () => {
  const limits = (limit: Record<string, unknown>) => ({
    version: 1,
    routes: [{ name: "c", match: { path: "/c" }, limits: [{ name: "l", by: ["ip"], rate: 2, per: "second", ...limit }] }],
  });
  assert.throws(() => parsePolicy(limits({ cost: 3 }), "inline"), (e: PolicyError) => {
    assert.deepEqual(e.issues, ["routes[0].limits[0].cost: cost must not exceed burst (rate, when burst is not set): no request could ever be admitted"]);
    return true;
  });
  assert.throws(() => parsePolicy(limits({ cost: 2, burst: 1 }), "inline"), PolicyError);
  parsePolicy(limits({ cost: 2 }), "inline");
  parsePolicy(limits({ cost: 3, burst: 5 }), "inline");
});

test("malformed YAML, duplicate keys and unreadable files are clear errors", async () => {
  const [syntax] = await issuesOf("p.yaml", "version: 1\nroutes: [\n");
  assert.match(syntax!, /not valid YAML/);
  const [duplicate] = await issuesOf("p.yaml", "version: 1\nversion: 1\nroutes: []\n");
  assert.match(duplicate!, /not valid YAML/);
  await assert.rejects(loadPolicyFile("/nonexistent/policy.yaml"), (e: PolicyError) => e.issues[0]!.includes("ENOENT"));
  const [empty] = await issuesOf("p.yaml", "");
  assert.match(empty!, /top level/);
});

test("a route that can never be reached, and a word range no text fits, are refused at load", () => {
  const refused = (routes: unknown[]) => {
    try {
      parsePolicy({ version: 1, routes }, "p");
    } catch (error) {
      assert.ok(error instanceof PolicyError);
      return error.issues.join("\n");
    }
    return "";
  };
  assert.match(refused([{ name: "a", match: { path: "/x/:id" } }, { name: "b", match: { path: "/X/:other" } }]), /route "b" can never be reached: route "a"/);
  assert.match(refused([{ name: "a", match: { path: "/x", methods: ["GET", "POST"] } }, { name: "b", match: { path: "/x", methods: ["POST"] } }]), /route "b" can never be reached/);
  assert.equal(refused([{ name: "a", match: { path: "/x", methods: ["GET"] } }, { name: "b", match: { path: "/x", methods: ["POST"] } }]), "");
  assert.equal(refused([{ name: "a", match: { path: "/x", methods: ["GET"] } }, { name: "b", match: { path: "/x" } }]), "", "b still takes every other method");
  assert.equal(refused([{ name: "a", match: { path: "/x" } }, { name: "b", match: { path: "/x", methods: ["GET"] } }]), "", "b is more specific and wins for GET");
  assert.match(refused([{ name: "a", match: { path: "/**" }, shield: { words: { fields: ["bio"], min: 10, max: 5 } } }]), /routes\[0\]\.shield\.words\.min: min must not exceed max/);
});
