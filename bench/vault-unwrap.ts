/**
 * The cost of a cold unwrap per key provider: what a DEK cache miss adds to a vault read. Local
 * and PKCS#11 on SoftHSM2 always; other providers are network round trips and not measured here.
 */
import { randomBytes } from "node:crypto";
import type { KeyProvider } from "../src/vault/providers/key-provider.js";
import { LocalKeyProvider } from "../src/vault/providers/local.js";
import { Pkcs11KeyProvider } from "../src/vault/providers/pkcs11.js";
import { createSoftHsmToken } from "../test/helpers/softhsm.js";

const UNWRAPS = 5_000;
const context = Buffer.from("portcullis-vault/dek/v1|5f0c7c1e-0000-4000-8000-000000000000|1");

async function measure(provider: KeyProvider): Promise<{ perSecond: number; p50us: number; p99us: number }> {
  const { kekId, wrapped } = await provider.wrap(randomBytes(32), context);
  for (let i = 0; i < 200; i++) (await provider.unwrap(wrapped, context, kekId)).fill(0);
  const times: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < UNWRAPS; i++) {
    const t0 = process.hrtime.bigint();
    (await provider.unwrap(wrapped, context, kekId)).fill(0);
    times.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  times.sort((a, b) => a - b);
  return { perSecond: UNWRAPS / seconds, p50us: times[times.length >> 1]!, p99us: times[Math.floor(times.length * 0.99)]! };
}

const providers: [string, () => Promise<KeyProvider | string>][] = [
  ["local", async () => LocalKeyProvider.fromKeys(randomBytes(32))],
  [
    "pkcs11 (SoftHSM2)",
    async () => {
      const token = await createSoftHsmToken();
      if (typeof token === "string") return token;
      await Pkcs11KeyProvider.generateKey({ ...token, keyLabel: "bench" });
      return Pkcs11KeyProvider.open({ ...token, keyLabel: "bench" });
    },
  ],
];

console.log(`cold DEK unwrap per key provider, ${UNWRAPS} sequential unwraps`);
for (const [name, open] of providers) {
  const provider = await open();
  if (typeof provider === "string") {
    console.log(`  ${name.padEnd(20)} not measured: ${provider}`);
    continue;
  }
  const { perSecond, p50us, p99us } = await measure(provider);
  console.log(`  ${name.padEnd(20)} ${perSecond.toFixed(0).padStart(7)} unwraps/s   p50 ${p50us.toFixed(1)} µs   p99 ${p99us.toFixed(1)} µs`);
  await provider.close();
}
