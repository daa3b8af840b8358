import { dataKey, destroyDataKey, type DataKey } from "./envelope.js";

interface CachedDek {
  key: DataKey;
  expiresAt: number;
  usesLeft: number;
}

export interface DekCacheOptions {
  ttlMs: number;
  maxUses: number;
  maxEntries: number;
}

/**
 * Unwrapped data keys, held only as long as needed: each expires after a TTL and a number of
 * uses, and its bytes are overwritten with zeros as soon as it leaves the cache. A key is only
 * ever used inside `use`'s synchronous callback, never held across an await, so zeroing one can
 * never pull it from under an operation in progress.
 */
export class DekCache {
  private readonly entries = new Map<string, CachedDek>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: DekCacheOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(options.ttlMs, 60_000));
    this.sweeper.unref();
  }

  /** Runs `work` with the key, counting one use; undefined when it is absent, expired or used up. */
  use<T>(id: string, work: (key: DataKey) => T): { result: T } | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now() || entry.usesLeft <= 0) {
      this.evict(id);
      return undefined;
    }
    entry.usesLeft--;
    return { result: work(entry.key) };
  }

  /**
   * Takes ownership of `key`, unwrapped from a committed row. When a live entry exists (a
   * concurrent unwrap of the same row won), `key` is zeroed instead.
   */
  adopt(id: string, key: Buffer): void {
    const live = this.entries.get(id);
    if (live !== undefined && live.expiresAt > Date.now() && live.usesLeft > 0) {
      key.fill(0);
      return;
    }
    this.install(id, dataKey(key));
  }

  /** Takes ownership of a key whose row this process just committed: it replaces any entry. */
  install(id: string, key: DataKey): void {
    this.evict(id);
    this.entries.set(id, { key, expiresAt: Date.now() + this.options.ttlMs, usesLeft: this.options.maxUses });
    if (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.evict(oldest.value);
    }
  }

  evictWhere(predicate: (id: string) => boolean): void {
    for (const id of [...this.entries.keys()]) if (predicate(id)) this.evict(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.evictWhere(() => true);
  }

  private evict(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    destroyDataKey(entry.key);
    this.entries.delete(id);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of [...this.entries]) if (entry.expiresAt <= now) this.evict(id);
  }
}
