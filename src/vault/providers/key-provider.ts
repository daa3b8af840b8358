import { Problem } from "../../problem/index.js";

/**
 * Where key-encryption keys (KEKs) live. The vault never sees a KEK: it hands a provider a data
 * key to wrap or a wrapped key to unwrap, with a context the provider must bind as associated
 * data, so a wrapped key moved to another tenant fails to unwrap.
 *
 * A provider holds one current KEK, which every wrap uses, and may hold earlier ones for unwrap
 * only: that is how a KEK rotates while wrapped keys made under the old one are rewrapped.
 */
export interface KeyProvider {
  /** `local`, `pkcs11`, `aws-kms`, `vault-transit`. */
  readonly name: string;
  /** True for providers that keep the KEK where the database's thief might also find it. */
  readonly insecure: boolean;
  /** The id recorded beside each wrapped key; wraps made now carry this one. */
  readonly currentKekId: string;
  wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }>;
  unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer>;
  /** Resolves when the provider can wrap and unwrap right now. */
  health(): Promise<void>;
  close(): Promise<void>;
}

/** The current KEK and the earlier ones a provider still unwraps with, by KEK id. */
export class KeyRing<K> {
  private readonly byId: ReadonlyMap<string, K>;

  constructor(
    readonly currentId: string,
    readonly current: K,
    previous: ReadonlyArray<readonly [id: string, key: K]> = [],
  ) {
    this.byId = new Map([[currentId, current], ...previous]);
    if (this.byId.size !== previous.length + 1) throw new Error("a KEK is configured twice");
  }

  /** An id no configured KEK has is refused: the key that wrapped this data is not here. */
  get(kekId: string): K {
    const key = this.byId.get(kekId);
    if (key === undefined) throw new Problem("KEY_PROVIDER_UNAVAILABLE", "The key that wrapped this data is not configured.");
    return key;
  }

  values(): IterableIterator<K> {
    return this.byId.values();
  }
}

export function wrappedKeyIntegrityFailure(): Problem {
  return new Problem("SECRET_INTEGRITY", "A wrapped data key failed its integrity check.");
}
