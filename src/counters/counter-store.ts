/**
 * Hot counters shared by the limits and blocking controls: in memory for one node, in Redis for
 * many. Every operation is one atomic step (one Lua script, one round trip, on Redis), so nodes
 * racing on one key cannot both take the last unit.
 */
export interface CounterStore {
  readonly kind: "memory" | "redis";
  /** One GCRA decision. A rejected request changes nothing, so retrying cannot dig a deeper hole. */
  gcra(key: string, rule: GcraRule, cost: number): GcraDecision | Promise<GcraDecision>;
  /** Adds `amount` to a counter that expires `windowMs` after its first hit; returns the new total. */
  count(key: string, amount: number, windowMs: number): Promise<number>;
  /** Reads a `count` counter without changing it (0 when absent). */
  peek(key: string): Promise<number>;
  /**
   * Adds `member` to a set that expires `windowMs` after its first member; a set already holding
   * `maxMembers` is not grown.
   */
  remember(key: string, member: string, windowMs: number, maxMembers: number): Promise<void>;
  /** The members of a `remember` set (none when absent). */
  members(key: string): Promise<string[]>;
  block(client: string, untilMs: number): Promise<void>;
  /** Epoch milliseconds the block ends, or undefined when the client is not blocked. Asked on every request. */
  blockedUntil(client: string): number | undefined | Promise<number | undefined>;
  unblock(client: string): Promise<boolean>;
  blocks(): Promise<Block[]>;
  /** Keeps the newest events (JSON lines), a bounded number. */
  recordEvent(event: string): Promise<void>;
  recentEvents(limit: number): Promise<string[]>;
  /** Removes the events older than their cutoff (ISO 8601 times): a tenant's own, or the default. Returns how many. */
  pruneEvents(cutoffs: EventCutoffs): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Generic cell rate algorithm: a request of cost c is admitted when the bucket's theoretical
 * arrival time (TAT) pushed by c × interval stays within `burst` × interval of now. One number per
 * key, no timers, and exact at any rate; a token bucket would need two numbers and the same
 * arithmetic. `interval` is the time one unit of allowance takes to come back.
 */
export interface GcraRule {
  intervalUs: number;
  /** How many units may be spent at once, from a full bucket. */
  burst: number;
}

export interface GcraDecision {
  allowed: boolean;
  /** Units that could still be spent right now. */
  remaining: number;
  /** Until the bucket is full again. */
  resetMs: number;
  /** Until this request would be admitted; 0 when it was. */
  retryAfterMs: number;
}

export interface Block {
  client: string;
  until: number;
}

/**
 * The GCRA step itself, for the memory store; the Redis script mirrors it line by line. Returns
 * the decision and, when admitted, the new arrival time to store (undefined when refused).
 */
export function gcraStep(tatUs: number | undefined, nowUs: number, rule: GcraRule, cost: number): GcraDecision & { newTatUs: number | undefined } {
  const tat = tatUs !== undefined && tatUs > nowUs ? tatUs : nowUs;
  const newTat = tat + rule.intervalUs * cost;
  const allowAt = newTat - rule.intervalUs * rule.burst;
  if (allowAt > nowUs) {
    return {
      allowed: false,
      remaining: Math.max(0, Math.floor((nowUs - (tat - rule.intervalUs * rule.burst)) / rule.intervalUs)),
      resetMs: Math.ceil((tat - nowUs) / 1000),
      retryAfterMs: Math.ceil((allowAt - nowUs) / 1000),
      newTatUs: undefined,
    };
  }
  return {
    allowed: true,
    remaining: Math.floor((nowUs - allowAt) / rule.intervalUs),
    resetMs: Math.ceil((newTat - nowUs) / 1000),
    retryAfterMs: 0,
    newTatUs: newTat,
  };
}

export interface EventCutoffs {
  default: string;
  tenants: Readonly<Record<string, string>>;
}

/**
 * Whether a stored event is past its retention. ISO 8601 times in UTC compare as strings, which
 * lets Redis's Lua judge them the same way (redis-store.ts). A line that is not an event is due.
 */
export function eventDue(line: string, cutoffs: EventCutoffs): boolean {
  let event: { at?: unknown; tenant_id?: unknown };
  try {
    event = JSON.parse(line) as typeof event;
  } catch {
    return true;
  }
  const cutoff = (typeof event.tenant_id === "string" ? cutoffs.tenants[event.tenant_id] : undefined) ?? cutoffs.default;
  return typeof event.at !== "string" || event.at < cutoff;
}
