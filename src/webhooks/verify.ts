import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, type KeyObject } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * Verification of inbound webhooks over the raw bytes, written here rather than taken from the
 * providers' packages: `standardwebhooks` knows no Ed25519 (`v1a`) and takes one secret, Stripe's
 * SDK is a whole API client, and neither answers synchronously with a reason that can be logged.
 * Both are used in the tests to sign what this verifies.
 */

/** A secret as configured: Standard Webhooks `whsec_…` (HMAC) or `whpk_…` (an Ed25519 public key); Stripe's `whsec_…`. */
export type WebhookKey = { readonly kind: "hmac"; readonly key: Buffer } | { readonly kind: "ed25519"; readonly key: KeyObject };

export type WebhookScheme = "standard" | "stripe";

/** Why a delivery was refused: for the security event and the log, never for the sender. */
export type WebhookFailure = "missing_headers" | "bad_timestamp" | "too_old" | "too_new" | "no_valid_signature";

export interface Verified {
  /** What identifies the delivery for the replay cache. */
  readonly id: string;
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const MAX_SIGNATURES = 10;

/** Reads a configured secret; throws with a message naming the fault (never the secret) for the policy loader. */
export function parseWebhookKey(scheme: WebhookScheme, secret: string): WebhookKey {
  if (scheme === "stripe") {
    if (!secret.startsWith("whsec_") || secret.length < 16) throw new Error("a Stripe endpoint secret starts with whsec_");
    // Stripe signs with the secret string itself as the HMAC key.
    return { kind: "hmac", key: Buffer.from(secret, "utf8") };
  }
  if (secret.startsWith("whsec_")) {
    const key = Buffer.from(secret.slice(6), "base64");
    if (key.length < 24 || key.length > 64) throw new Error("a Standard Webhooks secret is whsec_ and 24-64 bytes in base64");
    return { kind: "hmac", key };
  }
  if (secret.startsWith("whpk_")) {
    const raw = Buffer.from(secret.slice(5), "base64");
    if (raw.length !== 32) throw new Error("a Standard Webhooks public key is whpk_ and 32 bytes in base64");
    return { kind: "ed25519", key: createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" }) };
  }
  throw new Error("a Standard Webhooks secret starts with whsec_ (HMAC) or whpk_ (Ed25519 public key)");
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === "string" ? value : undefined;
}

function timestampProblem(text: string, nowSeconds: number, toleranceSeconds: number): WebhookFailure | undefined {
  if (!/^\d{1,12}$/.test(text)) return "bad_timestamp";
  const timestamp = Number(text);
  if (timestamp < nowSeconds - toleranceSeconds) return "too_old";
  if (timestamp > nowSeconds + toleranceSeconds) return "too_new";
  return undefined;
}

function equalBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated
 * `v1,<base64 HMAC-SHA256>` / `v1a,<base64 Ed25519>`), over `id.timestamp.body`. Any listed
 * signature made with any configured key passes (rotation); every comparison is constant-time.
 */
export function verifyStandardWebhook(headers: IncomingHttpHeaders, body: Buffer, keys: readonly WebhookKey[], nowSeconds: number, toleranceSeconds: number): Verified | WebhookFailure {
  const id = single(headers, "webhook-id");
  const timestamp = single(headers, "webhook-timestamp");
  const signatures = single(headers, "webhook-signature");
  if (id === undefined || timestamp === undefined || signatures === undefined || id === "" || id.length > 256) return "missing_headers";
  const late = timestampProblem(timestamp, nowSeconds, toleranceSeconds);
  if (late !== undefined) return late;
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  const listed = signatures.split(" ").slice(0, MAX_SIGNATURES);
  for (const key of keys) {
    const expected = key.kind === "hmac" ? createHmac("sha256", key.key).update(signed).digest() : undefined;
    for (const entry of listed) {
      const comma = entry.indexOf(",");
      const version = entry.slice(0, comma);
      const signature = Buffer.from(entry.slice(comma + 1), "base64");
      if (key.kind === "hmac" && version === "v1" && equalBytes(signature, expected!)) return { id };
      if (key.kind === "ed25519" && version === "v1a" && signature.length === 64 && verifySignature(null, signed, key.key, signature)) return { id };
    }
  }
  return "no_valid_signature";
}

/**
 * Stripe: `Stripe-Signature: t=<seconds>,v1=<hex HMAC-SHA256>[,v1=…]` over `t.body`. Only `v1`
 * counts (`v0` is Stripe's test scheme on a key no endpoint should accept).
 */
export function verifyStripeWebhook(headers: IncomingHttpHeaders, body: Buffer, keys: readonly WebhookKey[], nowSeconds: number, toleranceSeconds: number): Verified | WebhookFailure {
  const header = single(headers, "stripe-signature");
  if (header === undefined) return "missing_headers";
  let timestamp: string | undefined;
  const signatures: Buffer[] = [];
  for (const item of header.split(",").slice(0, MAX_SIGNATURES + 2)) {
    const eq = item.indexOf("=");
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (name === "t") {
      if (timestamp !== undefined) return "bad_timestamp";
      timestamp = value;
    } else if (name === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) return "missing_headers";
  const late = timestampProblem(timestamp, nowSeconds, toleranceSeconds);
  if (late !== undefined) return late;
  const signed = Buffer.concat([Buffer.from(`${timestamp}.`), body]);
  for (const key of keys) {
    if (key.kind !== "hmac") continue;
    const expected = createHmac("sha256", key.key).update(signed).digest();
    // The delivery's identity is what was signed, not which signature matched: during a secret
    // rotation one delivery carries a signature per secret, and a replay keeping only the other
    // one would otherwise count as a new delivery.
    if (signatures.some((signature) => equalBytes(signature, expected))) return { id: `${timestamp}.${createHash("sha256").update(body).digest("hex")}` };
  }
  return "no_valid_signature";
}
