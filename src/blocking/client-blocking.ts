import type { AuditStore } from "../audit/store.js";
import type { Block, CounterStore } from "../counters/counter-store.js";
import { SYSTEM_TENANT } from "../tenants/store.js";
import { MemoryCounterStore } from "../counters/memory-store.js";
import { OutageReporter, type SecurityEvents } from "../events/security-events.js";
import { z } from "zod";
import { setResponseHeader, type RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem, type ProblemCode } from "../problem/index.js";

export const blockingSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Violations (auth failures, 429s, refused paths, shield findings) per window that block a client. */
    threshold: z.number().int().min(1).max(100_000).default(10),
    windowSeconds: z.number().int().min(1).max(86_400).default(60),
    blockSeconds: z.number().int().min(1).max(30 * 86_400).default(900),
  })
  .default({ enabled: true, threshold: 10, windowSeconds: 60, blockSeconds: 900 });
export type BlockingPolicy = z.infer<typeof blockingSchema>;

/**
 * Rejections that say a client is probing or abusing rather than making an honest mistake. A
 * missing resource (404) or a failing upstream is not held against anyone. Oversized bodies,
 * headers and URLs and the shield's limits (413, 431, 414, 422) count: each makes the gateway read
 * and inspect before refusing, and a client must not be able to burn that work for free.
 */
const VIOLATIONS: ReadonlySet<ProblemCode> = new Set([
  "UNAUTHENTICATED",
  "MALFORMED_CREDENTIALS",
  "AMBIGUOUS_CREDENTIALS",
  "INVALID_PATH",
  "RATE_LIMITED",
  "IP_DENIED",
  "INVALID_ENCODING",
  "MALICIOUS_INPUT",
  "PAYLOAD_TOO_LARGE",
  "HEADERS_TOO_LARGE",
  "URI_TOO_LONG",
  "INPUT_REJECTED",
]);

/**
 * Automatic blocking: violations are counted per client (an IPv4 address, or an IPv6 /64) in the
 * counter store, so every node counts together; past the threshold within the window the client
 * is blocked for a while, on every node, and each block is a security event. Blocks are listed
 * and lifted through the admin API.
 *
 * While a shared store cannot answer, this node counts and blocks on its own (a security event
 * says so), and blocks made then hold here until they end: an outage of Redis must not be the
 * moment an attacker gets unlimited tries.
 */
export class ClientBlocking {
  /** This node's own counts and blocks, for outages of a shared store; none when the store is this node's memory. */
  private readonly local: MemoryCounterStore | undefined;
  private readonly outage: OutageReporter;

  constructor(
    private readonly policy: BlockingPolicy,
    private readonly store: CounterStore,
    private readonly events: SecurityEvents,
    private readonly audit?: AuditStore,
  ) {
    this.local = store.kind === "memory" ? undefined : new MemoryCounterStore();
    this.outage = new OutageReporter(events, store.kind);
  }

  /**
   * Refuses a blocked client before anything else runs. Answers without a promise when the store
   * does (memory): this runs on every request.
   */
  check(ctx: RequestContext): void | Promise<void> {
    // Whether or not automatic blocking is enabled: a block an operator made by hand must hold.
    const client = ctx.clientAddress.holder;
    const localUntil = this.local?.blockedUntil(client);
    if (localUntil !== undefined) return refuseIfBlocked(ctx, localUntil);
    let until: number | undefined | Promise<number | undefined>;
    try {
      until = this.store.blockedUntil(client);
    } catch {
      return this.storeDown();
    }
    if (until instanceof Promise) {
      return until.then(
        (u) => refuseIfBlocked(ctx, u),
        () => this.storeDown(),
      );
    }
    refuseIfBlocked(ctx, until);
  }

  /** Counts the rejection if it is a violation, and blocks the client at the threshold. */
  async recordRejection(client: string, code: ProblemCode, context: { route: string; tenantId: string | undefined }): Promise<void> {
    if (!this.policy.enabled || !VIOLATIONS.has(code)) return;
    const windowMs = this.policy.windowSeconds * 1000;
    const count = await this.withStore((store) => store.count(`viol:${client}`, 1, windowMs));
    // At each multiple of the threshold exactly: one block per threshold's worth, however many
    // violations race past it on other nodes, and a client that keeps on after a lifted block is
    // blocked again.
    if (count % this.policy.threshold !== 0) return;
    const detail = { reason: "violations", violations: count, last: code, route: context.route };
    const until = await this.block(client, this.policy.blockSeconds, detail, context.tenantId);
    // The block holds whether or not its record can be written; a failure to record is logged by the events.
    await this.record("rule", "client.block", client, { ...detail, until: new Date(until).toISOString() }).catch(() =>
      this.events.emit({ type: "store_unavailable", severity: "high", detail: { control: "blocking", unrecorded: "client.block" } }),
    );
  }

  /**
   * Blocks a client on every node. An operator's block (`byAdmin`) is in the audit trail before
   * this resolves; an automatic one is recorded by `recordRejection`.
   */
  async block(client: string, seconds: number, detail: Record<string, string | number>, tenantId?: string, byAdmin = false): Promise<number> {
    const until = Date.now() + seconds * 1000;
    const where = await this.withStore(async (store) => {
      await store.block(client, until);
      return store === this.store ? "shared" : "this node only";
    });
    this.events.emit({ type: "client_blocked", severity: "high", client, tenant_id: tenantId, detail: { ...detail, block_seconds: seconds, ...(where === "shared" ? {} : { held: where }) } });
    if (byAdmin) await this.record("admin", "client.block", client, { ...detail, until: new Date(until).toISOString() });
    return until;
  }

  /** In the system chain: a block is about an address, not a tenant. The address is a personal field, so it can be anonymised. */
  private async record(actorType: "rule" | "admin", action: string, client: string, after: Record<string, string | number>): Promise<void> {
    await this.audit?.append(SYSTEM_TENANT, { actorType, actorId: actorType === "admin" ? "admin-token" : "blocking", action, targetType: "client", ip: client, diff: { after } });
  }

  /** Lifts a block on every node, in the audit trail before this resolves when it lifted one. */
  async unblock(client: string): Promise<boolean> {
    const liftedHere = (await this.local?.unblock(client)) ?? false;
    let lifted = liftedHere;
    try {
      lifted = (await this.store.unblock(client)) || liftedHere;
    } catch (error) {
      // A block held only here is lifted even while the shared store is away.
      if (!liftedHere) throw error;
    }
    if (lifted) {
      this.events.emit({ type: "client_unblocked", severity: "info", client, detail: { by: "admin" } });
      await this.record("admin", "client.unblock", client, {});
    }
    return lifted;
  }

  /** Every block in force: the shared store's, and this node's own from an outage. */
  async list(): Promise<Block[]> {
    const shared = await this.store.blocks();
    if (this.local === undefined) return shared;
    const merged = new Map(shared.map((b) => [b.client, b.until]));
    for (const b of await this.local.blocks()) merged.set(b.client, Math.max(b.until, merged.get(b.client) ?? 0));
    return [...merged].map(([client, until]) => ({ client, until }));
  }

  /** The shared store's answer, or this node's when the shared store fails. */
  private async withStore<T>(operation: (store: CounterStore) => Promise<T>): Promise<T> {
    try {
      return await operation(this.store);
    } catch (error) {
      if (this.local === undefined) throw error;
      this.storeDown();
      return operation(this.local);
    }
  }

  private storeDown(): void {
    this.outage.report({ control: "blocking", fallback: "this node's own counts and blocks" });
  }
}

/**
 * Refuses blocked clients before routing. A front end that runs it also reports its refusals
 * (`recordRejection`), which is how clients come to be blocked.
 */
export function blockingControl(blocking: ClientBlocking): Control {
  return { name: "blocks", stage: "blocks", run: (ctx) => blocking.check(ctx) };
}

function refuseIfBlocked(ctx: RequestContext, until: number | undefined): void {
  if (until === undefined) return;
  const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
  setResponseHeader(ctx, "retry-after", String(seconds));
  throw new Problem("BLOCKED", "Requests from this address are blocked for a while.", { retry_after_seconds: seconds });
}
