import QuickLRU from "quick-lru";

/**
 * A least-recently-used map holding at most `maxEntries`: a flood of distinct keys evicts the
 * oldest entries instead of growing the heap. quick-lru keeps two generations of up to `maxSize`
 * each, so it is given half the bound; the bound is then the one callers asked for.
 */
export function boundedLru<K, V>(maxEntries: number): QuickLRU<K, V> {
  return new QuickLRU<K, V>({ maxSize: Math.max(1, Math.floor(maxEntries / 2)) });
}
