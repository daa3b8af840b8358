/**
 * Inbound webhook verifications per second, one core, against the `standardwebhooks` package on
 * the same deliveries (a 1 KiB JSON body, one v1 signature), interleaved rounds, medians.
 */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { parseWebhookKey, verifyStandardWebhook } from "../src/webhooks/verify.js";

const ROUNDS = 5;
const secret = `whsec_${randomBytes(32).toString("base64")}`;
const body = JSON.stringify({ type: "invoice.paid", data: { id: "in_1", lines: "x".repeat(950) } });
const bytes = Buffer.from(body);
const wh = new Webhook(secret);
const key = parseWebhookKey("standard", secret);

const rate = (verifyOnce: (headers: Record<string, string>) => void): number => {
  const at = new Date();
  const headers = { "webhook-id": "msg_bench", "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": wh.sign("msg_bench", at, body) };
  let n = 0;
  const end = performance.now() + 500;
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) verifyOnce(headers);
    n += 200;
  }
  return n / 0.5;
};
const ours = (headers: Record<string, string>) => {
  if (typeof verifyStandardWebhook(headers, bytes, [key], Math.floor(Date.now() / 1000), 300) === "string") throw new Error("refused");
};
const theirs = (headers: Record<string, string>) => void wh.verify(body, headers);
const a: number[] = [];
const b: number[] = [];
rate(ours);
rate(theirs);
for (let round = 0; round < ROUNDS; round++) {
  a.push(rate(ours));
  b.push(rate(theirs));
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log("webhook verifications per second, 1 KiB body (median of %d rounds):", ROUNDS);
console.log("  portcullis            %d", Math.round(median(a)));
console.log("  standardwebhooks      %d   ratio %s", Math.round(median(b)), (median(a) / median(b)).toFixed(2));
