import type { KeyProvider } from "../../src/vault/providers/key-provider.js";

/** Counts what reaches the provider, and can be switched off like an unreachable KMS. */
export class CountingProvider implements KeyProvider {
  readonly insecure = true;
  unwraps = 0;
  down = false;
  /** After this many more wraps the provider goes down, as if the KMS dropped mid-operation. */
  wrapsUntilDown = Infinity;
  constructor(private readonly inner: KeyProvider) {}
  get name() {
    return this.inner.name;
  }
  get currentKekId() {
    return this.inner.currentKekId;
  }
  wrap(dek: Buffer, context: Buffer) {
    if (this.wrapsUntilDown-- <= 0) this.down = true;
    if (this.down) return Promise.reject(new Error("connect ECONNREFUSED kms.internal:443 token=abc"));
    return this.inner.wrap(dek, context);
  }
  unwrap(wrapped: Buffer, context: Buffer, kekId: string) {
    this.unwraps++;
    if (this.down) return Promise.reject(new Error("connect ECONNREFUSED kms.internal:443 token=abc"));
    return this.inner.unwrap(wrapped, context, kekId);
  }
  health() {
    return this.inner.health();
  }
  close() {
    return this.inner.close();
  }
}
