/**
 * Where key-encryption keys (KEKs) live. The vault never sees a KEK: it hands a provider a data
 * key to wrap or a wrapped key to unwrap, with a context the provider must bind as associated
 * data, so a wrapped key moved to another tenant fails to unwrap.
 */
export interface KeyProvider {
  /** `local`, `pkcs11`, `aws-kms`, … */
  readonly name: string;
  /** True for providers that keep the KEK where the database's thief might also find it. */
  readonly insecure: boolean;
  wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }>;
  unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer>;
  /** Resolves when the provider can wrap and unwrap right now. */
  health(): Promise<void>;
}
