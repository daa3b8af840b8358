export type { Block, CounterStore, GcraDecision, GcraRule } from "./counter-store.js";
export { MemoryCounterStore, type MemoryStoreOptions } from "./memory-store.js";
export { RedisCounterStore, type RedisStoreOptions } from "./redis-store.js";
