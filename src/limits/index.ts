export type { CounterStore, GcraRule, GcraDecision, Block } from "../counters/counter-store.js";
export { MemoryCounterStore, type MemoryStoreOptions } from "../counters/memory-store.js";
export { RedisCounterStore, type RedisStoreOptions } from "../counters/redis-store.js";
export { quotaPeriod } from "./quota.js";
export { ClientIpResolver } from "../net/client-ip.js";
export { IpSet } from "../net/ip-set.js";
export { parseIp, parseCidr, type IpAddress } from "../net/ip.js";
