import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { startEchoUpstream } from "../../src/echo/echo-upstream.js";
import { Pkcs11KeyProvider } from "../../src/vault/providers/pkcs11.js";
import { CLI, run, startCli, stop } from "../helpers/cli.js";
import { createSoftHsmToken, type SoftHsmToken } from "../helpers/softhsm.js";

describe("CLI end to end with the vault's KEK in an HSM (SoftHSM2)", () => {
  let token: SoftHsmToken | string;
  let dataDir: string;
  let echo: Awaited<ReturnType<typeof startEchoUpstream>>;

  before(async () => {
    token = await createSoftHsmToken();
    if (typeof token === "string") return;
    for (const keyLabel of ["kek-2026", "kek-2027"]) await Pkcs11KeyProvider.generateKey({ ...token, keyLabel });
    dataDir = await mkdtemp(join(tmpdir(), "portcullis-e2e-hsm-"));
    echo = await startEchoUpstream();
  });
  after(() => {
    echo?.server.closeAllConnections();
    echo?.server.close();
  });

  const providerEnv = (t: SoftHsmToken, keyLabel: string, previous = "") => ({
    PORTCULLIS_KEY_PROVIDER: "pkcs11",
    PORTCULLIS_PKCS11_LIBRARY: t.library,
    PORTCULLIS_PKCS11_TOKEN_LABEL: t.tokenLabel,
    PORTCULLIS_PKCS11_PIN: t.pin,
    PORTCULLIS_PKCS11_KEY_LABEL: keyLabel,
    PORTCULLIS_PKCS11_PREVIOUS_KEY_LABELS: previous,
  });

  /** One gateway run: starts it, hands the caller its URLs and a CLI bound to it, stops it. */
  async function withGateway(env: Record<string, string>, work: (g: { gatewayUrl: string; cli: (...args: string[]) => Promise<string> }) => Promise<void>) {
    const { child, banner } = await startCli(["--upstream", echo.url, "--data-dir", dataDir], env);
    try {
      const adminUrl = /admin API listening on (\S+)/.exec(banner)![1]!;
      const cli = async (...args: string[]) =>
        (await run(process.execPath, [CLI, ...args, "--data-dir", dataDir, "--json"], { env: { ...process.env, PORTCULLIS_ADMIN_URL: adminUrl, PORTCULLIS_ADMIN_TOKEN: "" } }))
          .stdout;
      await work({ gatewayUrl: /gateway listening on (\S+)/.exec(banner)![1]!, cli });
    } finally {
      await stop(child);
    }
  }

  test("secrets sealed under one HSM key survive a KEK rotation done with the CLI", async (t: TestContext) => {
    if (typeof token === "string") return void t.skip(token);
    const hsm = token;
    let tenant = "";
    let key = "";
    const secret = (gatewayUrl: string, name: string, method = "GET", body?: string) =>
      fetch(`${gatewayUrl}/portcullis/v1/vault/secrets/${name}`, { method, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { body }) });

    await withGateway(providerEnv(hsm, "kek-2026"), async ({ gatewayUrl, cli }) => {
      tenant = (JSON.parse(await cli("tenants", "create", "--name", "hsm")) as { id: string }).id;
      key = (JSON.parse(await cli("keys", "create", "--tenant", tenant, "--env", "live", "--scopes", "vault:read,vault:write")) as { key: string }).key;
      for (const n of ["stripe", "github"]) assert.equal((await secret(gatewayUrl, n, "PUT", `value-${n}`)).status, 200);
    });

    await withGateway(providerEnv(hsm, "kek-2027", "kek-2026"), async ({ gatewayUrl, cli }) => {
      const before = JSON.parse(await cli("vault", "status")) as { current: string; keks: { kek_id: string; keys: number }[] };
      assert.equal(before.current, `pkcs11:${hsm.tokenLabel}/kek-2027`);
      assert.deepEqual(before.keks.map((k) => [k.kek_id, k.keys]), [[`pkcs11:${hsm.tokenLabel}/kek-2026`, 1]]);
      assert.deepEqual(JSON.parse(await cli("vault", "rewrap-keks")), { tenants: 1, keys: 1 });
      assert.equal(await (await secret(gatewayUrl, "stripe")).text(), "value-stripe");
    });

    await withGateway(providerEnv(hsm, "kek-2027"), async ({ gatewayUrl }) => {
      for (const n of ["stripe", "github"]) assert.equal(await (await secret(gatewayUrl, n)).text(), `value-${n}`, "the old KEK is no longer needed");
    });
  });

  test("a wrong PIN stops the gateway with a clear message that does not repeat the PIN", async (t: TestContext) => {
    if (typeof token === "string") return void t.skip(token);
    const wrongPin = "31415926535";
    const error = (await run(process.execPath, [CLI, "start", "--upstream", echo.url, "--port", "0", "--admin-port", "0", "--data-dir", dataDir], {
      env: { ...process.env, PORTCULLIS_ADMIN_TOKEN: "", DATABASE_URL: "", ...providerEnv(token, "kek-2027"), PORTCULLIS_PKCS11_PIN: wrongPin },
    }).catch((e: unknown) => e)) as { code: number; stderr: string; stdout: string };
    assert.equal(error.code, 2);
    assert.match(error.stderr, /key provider could not start: KEY_PROVIDER_AUTH_FAILED/);
    assert.ok(!error.stderr.includes(wrongPin) && !error.stdout.includes(wrongPin));
  });
});
