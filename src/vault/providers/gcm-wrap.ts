import { wrappedKeyIntegrityFailure } from "./key-provider.js";

/** Providers that run AES-256-GCM themselves store a wrapped DEK as nonce || ciphertext || tag. */
export const WRAP_NONCE_BYTES = 12;
export const WRAP_TAG_BYTES = 16;
const DEK_BYTES = 32;
export const WRAPPED_BYTES = WRAP_NONCE_BYTES + DEK_BYTES + WRAP_TAG_BYTES;

/** Refuses anything that is not the size of one wrapped DEK before a key touches it. */
export function splitWrapped(wrapped: Buffer): { nonce: Buffer; sealed: Buffer } {
  if (wrapped.length !== WRAPPED_BYTES) throw wrappedKeyIntegrityFailure();
  return { nonce: wrapped.subarray(0, WRAP_NONCE_BYTES), sealed: wrapped.subarray(WRAP_NONCE_BYTES) };
}
