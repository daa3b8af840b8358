import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Problem } from "../problem/index.js";

/**
 * Envelope format v1, all integers big-endian:
 *
 *   0      1 byte    format version (1)
 *   1      4 bytes   DEK version
 *   5     12 bytes   nonce, fresh from the CSPRNG for every encryption
 *  17     16 bytes   key commitment: HMAC-SHA256(DEK, "portcullis-vault/commit/v1")[0..16]
 *  33      n bytes   AES-256-GCM ciphertext
 *  33+n   16 bytes   GCM tag
 *
 * The additional authenticated data binds tenant, secret name and purpose (each length-prefixed,
 * so no two contexts encode alike): a ciphertext copied to another tenant's or another secret's
 * row fails to decrypt. AES-GCM alone is not key-committing (one ciphertext can be made to decrypt
 * under two keys); the commitment, checked before decryption, ties the envelope to one DEK: a
 * second key would have to collide with it in 128 bits. It depends on the key only, so it is
 * computed once per unwrapped DEK, not per operation.
 */
export const ENVELOPE_VERSION = 1;
const NONCE = 12;
const COMMIT = 16;
const TAG = 16;
const HEADER = 1 + 4 + NONCE + COMMIT;
const COMMIT_LABEL = Buffer.from("portcullis-vault/commit/v1");
const AAD_LABEL = "portcullis-vault/aad/v1";

/** An unwrapped DEK with its commitment; both are zeroed together when the key is dropped. */
export interface DataKey {
  key: Buffer;
  commitment: Buffer;
}

export function dataKey(key: Buffer): DataKey {
  return { key, commitment: createHmac("sha256", key).update(COMMIT_LABEL).digest().subarray(0, COMMIT) };
}

export function destroyDataKey(dek: DataKey): void {
  dek.key.fill(0);
  dek.commitment.fill(0);
}

export interface SecretContext {
  tenantId: string;
  name: string;
  purpose: string;
}

export function secretAad(context: SecretContext): Buffer {
  return lengthPrefixed([context.tenantId, context.name, context.purpose], AAD_PREFIX);
}

/**
 * Each part as a 4-byte length and its UTF-8 bytes, after `prefix` (itself already encoded so),
 * in one allocation: this runs on every encryption and decryption.
 */
export function lengthPrefixed(parts: readonly string[], prefix: Buffer = EMPTY): Buffer {
  let size = prefix.length;
  for (const part of parts) size += 4 + Buffer.byteLength(part, "utf8");
  const out = Buffer.allocUnsafe(size);
  prefix.copy(out);
  let offset = prefix.length;
  for (const part of parts) {
    const written = out.write(part, offset + 4, "utf8");
    out.writeUInt32BE(written, offset);
    offset += 4 + written;
  }
  return out;
}

const EMPTY = Buffer.alloc(0);
const AAD_PREFIX = lengthPrefixed([AAD_LABEL]);

export function seal(dek: DataKey, dekVersion: number, plaintext: Uint8Array, context: SecretContext): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", dek.key, nonce);
  cipher.setAAD(secretAad(context));
  // GCM is a stream mode: the ciphertext is as long as the plaintext, so the envelope is built
  // in one allocation instead of concatenating pieces (a tenth of the cost of a 1 KiB seal).
  const out = Buffer.allocUnsafe(HEADER + plaintext.length + TAG);
  out.writeUInt8(ENVELOPE_VERSION, 0);
  out.writeUInt32BE(dekVersion, 1);
  nonce.copy(out, 5);
  dek.commitment.copy(out, 5 + NONCE);
  let offset = HEADER + cipher.update(plaintext).copy(out, HEADER);
  offset += cipher.final().copy(out, offset);
  cipher.getAuthTag().copy(out, offset);
  return out;
}

/** Which DEK an envelope needs, read before any key is fetched. */
export function envelopeDekVersion(envelope: Uint8Array): number {
  return checkedEnvelope(envelope).readUInt32BE(1);
}

function checkedEnvelope(envelope: Uint8Array): Buffer {
  const bytes = Buffer.isBuffer(envelope) ? envelope : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  if (bytes.length < HEADER + TAG || bytes[0] !== ENVELOPE_VERSION) throw tampered();
  return bytes;
}

export function open(dek: DataKey, envelope: Uint8Array, context: SecretContext): Buffer {
  const bytes = checkedEnvelope(envelope);
  const nonce = bytes.subarray(5, 5 + NONCE);
  if (!timingSafeEqual(bytes.subarray(5 + NONCE, HEADER), dek.commitment)) throw tampered();
  const decipher = createDecipheriv("aes-256-gcm", dek.key, nonce);
  decipher.setAAD(secretAad(context));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
  try {
    const plaintext = decipher.update(bytes.subarray(HEADER, bytes.length - TAG));
    // final() checks the tag; for GCM it yields no bytes, so nothing needs joining.
    const rest = decipher.final();
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch {
    throw tampered();
  }
}

function tampered(): Problem {
  return new Problem("SECRET_INTEGRITY", "The stored secret failed its integrity check.");
}
