import { createHmac, randomBytes } from "node:crypto";

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * The `webhook-signature` header for one delivery: `v1,<base64 HMAC-SHA256>` over
 * `{id}.{timestamp}.{body}` for each secret, space-separated, so that during a rotation a
 * receiver holding either the old or the new secret verifies it (Standard Webhooks §signature).
 */
export function signStandardWebhook(id: string, timestampSeconds: number, body: Uint8Array, secrets: readonly string[]): string {
  return secrets
    .map((secret) => {
      const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
      const mac = createHmac("sha256", key).update(`${id}.${timestampSeconds}.`).update(body).digest("base64");
      return `v1,${mac}`;
    })
    .join(" ");
}
