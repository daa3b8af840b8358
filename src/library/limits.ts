/** The toolkit for counting clients, as `portcullis/limits` (kept from before the controls were exported one by one). */
export type { CounterStore, GcraRule, GcraDecision, Block } from "../counters/counter-store.js";
export { MemoryCounterStore, type MemoryStoreOptions } from "../counters/memory-store.js";
export { RedisCounterStore, type RedisStoreOptions } from "../counters/redis-store.js";
export { quotaPeriod } from "../quota/quota.js";
export { ClientIpResolver } from "../net/client-ip.js";
export { IpSet } from "../net/ip-set.js";
export { parseIp, parseCidr, type IpAddress } from "../net/ip.js";
