import type { CounterStore } from "../counters/counter-store.js";
import type { SecurityEvents } from "../events/security-events.js";
import { setResponseHeader, type RequestContext } from "../pipeline/context.js";
import type { BlockingPolicy } from "../policy/schema.js";
import { Problem, type ProblemCode } from "../problem/index.js";

/**
 * Rejections that say a client is probing or abusing rather than making an honest mistake. A
 * missing resource (404) or a failing upstream is not held against anyone.
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
]);

/**
 * Automatic blocking: violations are counted per client (an IPv4 address, or an IPv6 /64) in the
 * counter store, so every node counts together; past the threshold within the window the client
 * is blocked for a while, on every node, and each block is a security event. Blocks are listed
 * and lifted through the admin API.
 */
export class ClientBlocking {
  constructor(
    private readonly policy: BlockingPolicy,
    private readonly store: CounterStore,
    private readonly events: SecurityEvents,
  ) {}

  /**
   * Refuses a blocked client before anything else runs. Answers without a promise when the store
   * does (memory): this runs on every request. A store that cannot answer lets the request on to
   * the controls, which hold on their own: blocking is a brake on abuse, not the only lock on the door.
   */
  check(ctx: RequestContext): void | Promise<void> {
    if (!this.policy.enabled) return;
    let until: number | undefined | Promise<number | undefined>;
    try {
      until = this.store.blockedUntil(ctx.clientAddress.holder);
    } catch {
      return;
    }
    if (until instanceof Promise) {
      return until.then(
        (u) => refuseIfBlocked(ctx, u),
        () => undefined,
      );
    }
    refuseIfBlocked(ctx, until);
  }

  /** Counts the rejection if it is a violation, and blocks the client at the threshold. */
  async recordRejection(client: string, code: ProblemCode, context: { route: string; tenantId: string | undefined }): Promise<void> {
    if (!this.policy.enabled || !VIOLATIONS.has(code)) return;
    const windowMs = this.policy.windowSeconds * 1000;
    const count = await this.store.count(`viol:${client}`, 1, windowMs);
    // At each multiple of the threshold exactly: one block per threshold's worth, however many
    // violations race past it on other nodes, and a client that keeps on after a lifted block is
    // blocked again.
    if (count % this.policy.threshold !== 0) return;
    await this.block(client, this.policy.blockSeconds, { reason: "violations", violations: count, last: code, route: context.route }, context.tenantId);
  }

  async block(client: string, seconds: number, detail: Record<string, string | number>, tenantId?: string): Promise<number> {
    const until = Date.now() + seconds * 1000;
    await this.store.block(client, until);
    this.events.emit({ type: "client_blocked", severity: "high", client, tenant_id: tenantId, detail: { ...detail, block_seconds: seconds } });
    return until;
  }

  async unblock(client: string): Promise<boolean> {
    const lifted = await this.store.unblock(client);
    if (lifted) this.events.emit({ type: "client_unblocked", severity: "info", client, detail: { by: "admin" } });
    return lifted;
  }

  list(): ReturnType<CounterStore["blocks"]> {
    return this.store.blocks();
  }
}

function refuseIfBlocked(ctx: RequestContext, until: number | undefined): void {
  if (until === undefined) return;
  const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
  setResponseHeader(ctx, "retry-after", String(seconds));
  throw new Problem("BLOCKED", "Too many violations from this address.", { retry_after_seconds: seconds });
}
