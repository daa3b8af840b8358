import { hash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

export type KeyEnv = "live" | "test";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** 32 base62 characters carry 190 bits of randomness. */
const SECRET_LENGTH = 32;
/** CRC32 fits in 6 base62 characters (62^6 > 2^32). */
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = /^sk_(live|test)_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;
/** Characters of the secret shown to humans, enough to tell keys apart, far too few to guess. */
const VISIBLE_SECRET_CHARS = 6;

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

export function generateApiKey(env: KeyEnv): GeneratedKey {
  const secret = randomBase62(SECRET_LENGTH);
  const body = `sk_${env}_${secret}`;
  const key = body + checksum(body);
  return { key, prefix: `sk_${env}_${secret.slice(0, VISIBLE_SECRET_CHARS)}`, hash: hashApiKey(key) };
}

/**
 * Recognises a well-formed key offline: the shape, then the checksum, which lets secret scanners
 * (and this gateway, before any lookup) tell a real key from a typo or a random string.
 */
export function parseApiKey(candidate: string): { env: KeyEnv } | undefined {
  const match = KEY_PATTERN.exec(candidate);
  if (match === null) return undefined;
  const body = candidate.slice(0, candidate.length - CHECKSUM_LENGTH);
  return checksum(body) === match[3] ? { env: match[1] as KeyEnv } : undefined;
}

export function looksLikeApiKey(candidate: string): boolean {
  return candidate.startsWith("sk_live_") || candidate.startsWith("sk_test_");
}

/**
 * SHA-256, not a password hash: a key holds 190 random bits, so there is nothing for a slow hash
 * to protect against (no dictionary, no feasible brute force), while a fast deterministic hash
 * lets the store find the key by an index and keeps verification cheap on every request.
 */
export function hashApiKey(key: string): Buffer {
  return hash("sha256", key, "buffer");
}

/** The same hash as base64 text, as the verification cache keys it: straight to text, it runs on every request. */
export function apiKeyDigest(key: string): string {
  return hash("sha256", key, "base64");
}

function checksum(body: string): string {
  let value = crc32(body);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** Rejection sampling keeps every character uniform: bytes ≥ 248 (4 × 62) are thrown away. */
function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}
