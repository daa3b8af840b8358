import type QuickLRU from "quick-lru";
import { boundedLru } from "../util/bounded-lru.js";
import { eventDue, gcraStep, type Block, type CounterStore, type EventCutoffs, type GcraDecision, type GcraRule } from "./counter-store.js";

export interface MemoryStoreOptions {
  /** Per kind of state: a flood of distinct keys evicts the least recently used, never grows the heap. */
  maxEntries?: number;
  maxEvents?: number;
  now?: () => number;
}

/**
 * Counters for one node. Memory is bounded: idle limiter entries are dropped when touched past
 * their time, and beyond `maxEntries` the least recently used go. A client hammering its own key
 * keeps it recent, so a flood of other keys does not reset its limit.
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = "memory";
  private readonly tats: QuickLRU<string, number>;
  private readonly counters: QuickLRU<string, { total: number; expiresAt: number }>;
  private readonly blocked: QuickLRU<string, number>;
  private readonly sets: QuickLRU<string, { members: Set<string>; expiresAt: number }>;
  private events: string[] = [];
  private readonly maxEvents: number;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxEntries ?? 100_000;
    this.tats = boundedLru(max);
    this.counters = boundedLru(max);
    this.blocked = boundedLru(max);
    this.sets = boundedLru(max);
    this.maxEvents = options.maxEvents ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Answers at once, without a promise: on the hot path each allocation counts. */
  gcra(key: string, rule: GcraRule, cost: number): GcraDecision {
    const nowUs = this.now() * 1000;
    // Every decision, refused ones too, makes the bucket most recent: a client hammering its own
    // limit keeps its bucket however many other keys flood in.
    const tat = this.tats.get(key);
    const decision = gcraStep(tat, nowUs, rule, cost);
    if (decision.newTatUs !== undefined) this.tats.set(key, decision.newTatUs);
    else if (tat !== undefined && tat <= nowUs) this.tats.delete(key);
    return decision;
  }

  async count(key: string, amount: number, windowMs: number): Promise<number> {
    const now = this.now();
    const entry = this.counters.get(key);
    if (entry === undefined || entry.expiresAt <= now) {
      this.counters.set(key, { total: amount, expiresAt: now + windowMs });
      return amount;
    }
    entry.total += amount;
    return entry.total;
  }

  async peek(key: string): Promise<number> {
    const entry = this.counters.peek(key);
    return entry === undefined || entry.expiresAt <= this.now() ? 0 : entry.total;
  }

  async remember(key: string, member: string, windowMs: number, maxMembers: number): Promise<void> {
    const now = this.now();
    let set = this.sets.get(key);
    if (set === undefined || set.expiresAt <= now) {
      set = { members: new Set(), expiresAt: now + windowMs };
      this.sets.set(key, set);
    }
    if (set.members.size < maxMembers) set.members.add(member);
  }

  async members(key: string): Promise<string[]> {
    const set = this.sets.peek(key);
    return set === undefined || set.expiresAt <= this.now() ? [] : [...set.members];
  }

  async block(client: string, untilMs: number): Promise<void> {
    this.blocked.set(client, Math.max(untilMs, this.blocked.peek(client) ?? 0));
  }

  blockedUntil(client: string): number | undefined {
    const until = this.blocked.peek(client);
    if (until === undefined) return undefined;
    if (until > this.now()) return until;
    this.blocked.delete(client);
    return undefined;
  }

  async unblock(client: string): Promise<boolean> {
    return this.blocked.delete(client);
  }

  async blocks(): Promise<Block[]> {
    const now = this.now();
    return [...this.blocked.entriesAscending()].filter(([, until]) => until > now).map(([client, until]) => ({ client, until }));
  }

  async recordEvent(event: string): Promise<void> {
    this.events.unshift(event);
    if (this.events.length > this.maxEvents) this.events.length = this.maxEvents;
  }

  async recentEvents(limit: number): Promise<string[]> {
    return this.events.slice(0, limit);
  }

  async pruneEvents(cutoffs: EventCutoffs): Promise<number> {
    const before = this.events.length;
    this.events = this.events.filter((line) => !eventDue(line, cutoffs));
    return before - this.events.length;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
