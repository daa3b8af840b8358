/**
 * Whether a refusal's timing tells an attacker what exists: for each credential kind, requests
 * with something unknown and with something known but wrong (revoked, spent), interleaved one by
 * one through a running gateway, latency of each measured on the client. Reported: the medians, their
 * difference, and the noise floor (the difference of medians between the two halves of the same
 * class, alternate requests). A difference below the noise floor is "within noise".
 */
import { randomBytes } from "node:crypto";
import { Agent, request } from "undici";
import { Gateway } from "../src/gateway/index.js";
import { generateApiKey } from "../src/identity/api-keys/format.js";
import { createLogger } from "../src/observability/logger.js";
import { parsePolicy } from "../src/policy/load.js";
import { sessionRequestSchema } from "../src/sessions/sessions.js";

const SAMPLES = 1_500;
const gateway = await Gateway.create({
  policy: parsePolicy({ version: 1, blocking: { enabled: false }, routes: [{ name: "api", match: { path: "/**" } }] }, "bench"),
  upstream: "http://127.0.0.1:9",
  adminToken: randomBytes(24).toString("hex"),
  production: false,
  logger: createLogger({ level: "silent" }),
});
const listening = await gateway.listen({ port: 0, host: "127.0.0.1", adminPort: 0, adminHost: "127.0.0.1" });
const dispatcher = new Agent({ connections: 1 });
try {
  const tenant = await gateway.tenants.create("bench");
  const revokedKey = await gateway.keys.create(tenant.id, { env: "test", scopes: [] });
  await gateway.keys.revoke(revokedKey.id);
  const sessions = gateway.core.sessions;
  const revokedSession = await sessions.issue(tenant.id, sessionRequestSchema.parse({ subject: "u" }));
  await sessions.revokeToken(revokedSession.refresh_token);

  const timed = async (path: string, init: { method?: "GET" | "POST"; headers: Record<string, string>; body?: string }): Promise<number> => {
    const started = performance.now();
    const r = await request(listening.url + path, { dispatcher, method: init.method ?? "GET", headers: init.headers, body: init.body });
    await r.body.dump();
    return performance.now() - started;
  };
  const bearer = (token: string) => () => timed("/x", { headers: { authorization: `Bearer ${token}` } });
  const grant = (token: string) => () =>
    timed("/portcullis/v1/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&refresh_token=${token}` });
  const comparisons: [string, () => Promise<number>, () => Promise<number>][] = [
    ["API key: unknown vs revoked", bearer(generateApiKey("test").key), bearer(revokedKey.key)],
    ["access token: forged vs revoked session", bearer(revokedSession.access_token.slice(0, -4) + "AAAA"), bearer(revokedSession.access_token)],
    ["refresh token: unknown vs revoked family", grant("rt1_" + randomBytes(68).toString("base64url")), grant(revokedSession.refresh_token)],
  ];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log("refusal timing, µs (median of %d each, interleaved):", SAMPLES);
  for (const [name, unknown, known] of comparisons) {
    for (let i = 0; i < 200; i++) await Promise.all([unknown(), known()].map((p) => p));
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      a.push(await unknown());
      b.push(await known());
    }
    const noise = Math.max(
      Math.abs(median(a.filter((_, i) => i % 2 === 0)) - median(a.filter((_, i) => i % 2 === 1))),
      Math.abs(median(b.filter((_, i) => i % 2 === 0)) - median(b.filter((_, i) => i % 2 === 1))),
    );
    const difference = median(b) - median(a);
    const us = (ms: number) => (ms * 1000).toFixed(0);
    console.log(`  ${name.padEnd(42)} ${us(median(a))} vs ${us(median(b))}: difference ${us(difference)}, noise floor ${us(noise)} → ${Math.abs(difference) <= noise ? "within noise" : "DISTINGUISHABLE"}`);
  }
} finally {
  await dispatcher.close();
  await gateway.close();
}
