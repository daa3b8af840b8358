import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const LIBRARIES = [process.env.PORTCULLIS_TEST_PKCS11_LIBRARY, "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];

export interface SoftHsmToken {
  library: string;
  tokenLabel: string;
  pin: string;
}

/**
 * A fresh SoftHSM2 token in a directory of its own, so runs cannot collide. `SOFTHSM2_CONF` is
 * set for this process, which must happen before the first PKCS#11 call. Where SoftHSM2 is not
 * installed CI fails; a developer's run gets the reason to skip with.
 */
export async function createSoftHsmToken(): Promise<SoftHsmToken | string> {
  const library = (await Promise.all(LIBRARIES.map(async (l) => (l && (await exists(l)) ? l : undefined)))).find((l) => l !== undefined);
  if (library === undefined) {
    const reason = "SoftHSM2 is not installed (apt-get install softhsm2)";
    if (process.env.CI === "true") throw new Error(`${reason}; CI requires it`);
    return reason;
  }
  const dir = await mkdtemp(join(tmpdir(), "portcullis-softhsm-"));
  const conf = join(dir, "softhsm2.conf");
  await writeFile(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const token = { library, tokenLabel: `pc-${randomBytes(4).toString("hex")}`, pin: randomBytes(6).toString("hex") };
  await promisify(execFile)("softhsm2-util", ["--init-token", "--free", "--label", token.tokenLabel, "--pin", token.pin, "--so-pin", randomBytes(6).toString("hex")], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
  });
  return token;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
