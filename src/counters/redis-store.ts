import { Redis } from "ioredis";
import type { Block, CounterStore, EventCutoffs, GcraDecision, GcraRule } from "./counter-store.js";

export interface RedisStoreOptions {
  url: string;
  /** Every key starts with it, so several deployments (or test runs) can share one Redis. */
  prefix?: string;
  /** A decision that takes longer fails, and the route's `onStoreError` applies. */
  commandTimeoutMs?: number;
  maxEvents?: number;
}

/**
 * The GCRA step of `gcraStep` (counter-store.ts) as one Lua script: read, decide and write happen
 * atomically on the server, in one round trip, with the server's clock, so nodes with skewed clocks
 * agree. A rejection writes nothing.
 */
export const GCRA_SCRIPT = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, math.max(0, math.floor((now - (tat - interval * burst)) / interval)), math.ceil((tat - now) / 1000), math.ceil((allow_at - now) / 1000)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, math.floor((now - allow_at) / interval), math.ceil((new_tat - now) / 1000), 0}
`;

/** INCRBY with the window set on the first hit; a key somehow left without expiry gets one. */
const COUNT = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total
`;

/** SADD below a size cap, with the window set when the set is created. */
const REMEMBER = `
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[3]) then redis.call('SADD', KEYS[1], ARGV[1]) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/**
 * Events past retention out of the list, atomically (events pushed meanwhile wait): the rule of
 * `eventDue`, with ISO 8601 times compared as strings. The list is bounded (maxEvents), so one
 * pass over it is bounded too; kept events go back in batches under Lua's argument limit.
 */
const PRUNE_EVENTS = `
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local tenants = cjson.decode(ARGV[2])
local kept = {}
for _, item in ipairs(items) do
  local ok, event = pcall(cjson.decode, item)
  if ok and type(event) == 'table' and type(event.at) == 'string' then
    local cutoff = ARGV[1]
    if type(event.tenant_id) == 'string' and type(tenants[event.tenant_id]) == 'string' then cutoff = tenants[event.tenant_id] end
    if event.at >= cutoff then kept[#kept + 1] = item end
  end
end
if #kept == #items then return 0 end
redis.call('DEL', KEYS[1])
for i = 1, #kept, 1000 do redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 999, #kept))) end
return #items - #kept
`;

type ScriptedRedis = Redis & {
  portcullisPruneEvents(key: string, defaultCutoff: string, tenantCutoffs: string): Promise<number>;
  portcullisGcra(key: string, intervalUs: number, burst: number, cost: number): Promise<[number, number, number, number]>;
  portcullisCount(key: string, amount: number, windowMs: number): Promise<number>;
  portcullisRemember(key: string, member: string, windowMs: number, maxMembers: number): Promise<number>;
};

/**
 * Counters shared by every node on one Redis (or Valkey). Each script touches a single key, so
 * it runs on Redis Cluster too, whatever slot the key hashes to. Commands are not queued while
 * the connection is down: they fail at once, the route's `onStoreError` decides, and ioredis
 * reconnects in the background so the gateway recovers by itself.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = "redis";
  private readonly prefix: string;
  private readonly maxEvents: number;

  private constructor(
    private readonly redis: ScriptedRedis,
    options: RedisStoreOptions,
  ) {
    this.prefix = options.prefix ?? "portcullis:";
    this.maxEvents = options.maxEvents ?? 1_000;
  }

  /** Waits for the first connection: a gateway that cannot reach its Redis at start says so. */
  static async connect(options: RedisStoreOptions): Promise<RedisCounterStore> {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    });
    // Errors surface through the commands that fail; without a listener ioredis would print them.
    redis.on("error", () => undefined);
    redis.defineCommand("portcullisGcra", { numberOfKeys: 1, lua: GCRA_SCRIPT });
    redis.defineCommand("portcullisCount", { numberOfKeys: 1, lua: COUNT });
    redis.defineCommand("portcullisRemember", { numberOfKeys: 1, lua: REMEMBER });
    redis.defineCommand("portcullisPruneEvents", { numberOfKeys: 1, lua: PRUNE_EVENTS });
    try {
      await redis.connect();
    } catch {
      redis.disconnect();
      throw new Error(`Redis at ${redactedUrl(options.url)} cannot be reached`);
    }
    return new RedisCounterStore(redis as ScriptedRedis, options);
  }

  async gcra(key: string, rule: GcraRule, cost: number): Promise<GcraDecision> {
    const [allowed, remaining, resetMs, retryAfterMs] = await this.redis.portcullisGcra(`${this.prefix}rl:${key}`, rule.intervalUs, rule.burst, cost);
    return { allowed: allowed === 1, remaining, resetMs, retryAfterMs };
  }

  count(key: string, amount: number, windowMs: number): Promise<number> {
    return this.redis.portcullisCount(`${this.prefix}n:${key}`, amount, windowMs);
  }

  async peek(key: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}n:${key}`)) ?? 0);
  }

  async remember(key: string, member: string, windowMs: number, maxMembers: number): Promise<void> {
    await this.redis.portcullisRemember(`${this.prefix}s:${key}`, member, windowMs, maxMembers);
  }

  members(key: string): Promise<string[]> {
    return this.redis.smembers(`${this.prefix}s:${key}`);
  }

  async block(client: string, untilMs: number): Promise<void> {
    const key = `${this.prefix}blocks`;
    // GT keeps the later end when two nodes block the same client; expired members go on the way.
    checked(await this.redis.multi().zadd(key, "GT", untilMs, client).zremrangebyscore(key, "-inf", Date.now()).exec());
  }

  async blockedUntil(client: string): Promise<number | undefined> {
    const score = await this.redis.zscore(`${this.prefix}blocks`, client);
    const until = score === null ? undefined : Number(score);
    return until !== undefined && until > Date.now() ? until : undefined;
  }

  async unblock(client: string): Promise<boolean> {
    return (await this.redis.zrem(`${this.prefix}blocks`, client)) > 0;
  }

  async blocks(): Promise<Block[]> {
    const flat = await this.redis.zrangebyscore(`${this.prefix}blocks`, Date.now(), "+inf", "WITHSCORES");
    const blocks: Block[] = [];
    for (let i = 0; i < flat.length; i += 2) blocks.push({ client: flat[i]!, until: Number(flat[i + 1]) });
    return blocks;
  }

  async recordEvent(event: string): Promise<void> {
    const key = `${this.prefix}events`;
    checked(await this.redis.multi().lpush(key, event).ltrim(key, 0, this.maxEvents - 1).exec());
  }

  recentEvents(limit: number): Promise<string[]> {
    return this.redis.lrange(`${this.prefix}events`, 0, limit - 1);
  }

  async pruneEvents(cutoffs: EventCutoffs): Promise<number> {
    return this.redis.portcullisPruneEvents(`${this.prefix}events`, cutoffs.default, JSON.stringify(cutoffs.tenants));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** A MULTI reports its commands' failures in its result, not by throwing. */
function checked(results: [error: Error | null, result: unknown][] | null): void {
  if (results === null) throw new Error("Redis transaction aborted");
  for (const [error] of results) if (error !== null) throw error;
}

/** A URL's password never reaches a message. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable REDIS_URL)";
  }
}
