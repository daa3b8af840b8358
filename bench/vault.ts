/**
 * Vault crypto with a cached DEK against raw AES-256-GCM from node:crypto, 1 KiB secrets, in
 * one process, interleaved rounds, medians. The goal: ≥ 80 % of raw throughput.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { dataKey, open, seal } from "../src/vault/envelope.js";

const ROUNDS = 7;
const OPS = 50_000;
const dek = randomBytes(32);
const cachedDek = dataKey(Buffer.from(dek));
const plaintext = randomBytes(1024);
const context = { tenantId: "5f0c7c1e-0000-4000-8000-000000000000", name: "stripe/api-key", purpose: "secret" };
const aad = Buffer.from("context of comparable size for the raw baseline, 70 bytes or so......");

function rawSeal(): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", dek, nonce);
  cipher.setAAD(aad);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function rawOpen(box: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", dek, box.subarray(0, 12));
  decipher.setAAD(aad);
  decipher.setAuthTag(box.subarray(box.length - 16));
  return Buffer.concat([decipher.update(box.subarray(12, box.length - 16)), decipher.final()]);
}

function opsPerSecond(work: () => unknown): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) work();
  return OPS / (Number(process.hrtime.bigint() - start) / 1e9);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

const rawBox = rawSeal();
const envelope = seal(cachedDek, 1, plaintext, context);
const cases: [string, () => unknown][] = [
  ["raw AES-256-GCM encrypt", rawSeal],
  ["vault envelope seal", () => seal(cachedDek, 1, plaintext, context)],
  ["raw AES-256-GCM decrypt", () => rawOpen(rawBox)],
  ["vault envelope open", () => open(cachedDek, envelope, context)],
];
const runs = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (const [, work] of cases) opsPerSecond(work);
for (let round = 0; round < ROUNDS; round++) for (const [name, work] of cases) runs.get(name)!.push(opsPerSecond(work));

console.log(`vault crypto, 1 KiB secrets, cached DEK, median of ${ROUNDS} rounds of ${OPS} operations`);
const figure = (name: string) => median(runs.get(name)!);
for (const [name] of cases) console.log(`  ${name.padEnd(26)} ${figure(name).toFixed(0).padStart(8)} ops/s`);
console.log(`  seal / raw encrypt  ${(figure("vault envelope seal") / figure("raw AES-256-GCM encrypt")).toFixed(3)}   (goal ≥ 0.80)`);
console.log(`  open / raw decrypt  ${(figure("vault envelope open") / figure("raw AES-256-GCM decrypt")).toFixed(3)}   (goal ≥ 0.80)`);
