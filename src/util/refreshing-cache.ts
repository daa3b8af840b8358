import type QuickLRU from "quick-lru";
import { boundedLru } from "./bounded-lru.js";

interface Entry<V> {
  value: V;
  loadedAt: number;
}

export interface RefreshingCacheOptions {
  /** Younger entries are served as they are. */
  freshMs: number;
  /** Older entries are never served: the request waits for a fresh load. Bounds staleness. */
  maxAgeMs: number;
  /** A flood of distinct keys evicts the oldest entries instead of growing the heap. */
  maxEntries: number;
  now?: () => number;
}

/**
 * A read-through cache that keeps the hot path off the database while bounding staleness:
 * between `freshMs` and `maxAgeMs` an entry is served while one background load refreshes it, so
 * steady traffic never waits; past `maxAgeMs` callers wait. Concurrent misses share one load.
 * A failed load is not cached: callers see the error (fail closed) and the next call retries.
 */
export class RefreshingCache<V> {
  private readonly entries: QuickLRU<string, Entry<V>>;
  private readonly loading = new Map<string, Promise<V>>();
  private readonly now: () => number;

  constructor(
    private readonly load: (key: string) => Promise<V>,
    private readonly options: RefreshingCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.entries = boundedLru(options.maxEntries);
  }

  get(key: string): V | Promise<V> {
    const entry = this.entries.peek(key);
    if (entry !== undefined) {
      const age = this.now() - entry.loadedAt;
      if (age < this.options.freshMs) return entry.value;
      if (age < this.options.maxAgeMs) {
        this.refresh(key).catch(() => undefined);
        return entry.value;
      }
    }
    return this.refresh(key);
  }

  /** The cached value if it may still be served, without loading or refreshing anything. */
  peek(key: string): V | undefined {
    const entry = this.entries.peek(key);
    return entry !== undefined && this.now() - entry.loadedAt < this.options.maxAgeMs ? entry.value : undefined;
  }

  /** Also disowns a load in flight: it may have read the row before the change being applied. */
  forget(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  forgetWhere(predicate: (value: V) => boolean): void {
    for (const [key, entry] of [...this.entries.entriesAscending()]) if (predicate(entry.value)) this.entries.delete(key);
    // What a load in flight will return is not known yet, so every one is disowned.
    this.loading.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private refresh(key: string): Promise<V> {
    const pending = this.loading.get(key);
    if (pending !== undefined) return pending;
    const startedAt = this.now();
    const promise = this.load(key)
      .then((value) => {
        // A forget() during the load means the loaded value may predate a revocation.
        if (this.loading.get(key) === promise) this.entries.set(key, { value, loadedAt: startedAt });
        return value;
      })
      .finally(() => {
        if (this.loading.get(key) === promise) this.loading.delete(key);
      });
    this.loading.set(key, promise);
    return promise;
  }
}
