import { randomUUID } from "node:crypto";
import type QuickLRU from "quick-lru";
import type { Database } from "../store/index.js";
import { boundedLru } from "../util/bounded-lru.js";

/** Done records kept in memory for replays: how many, and up to which body size each. */
const CACHED_RECORDS = 10_000;
const MAX_CACHED_BODY = 64 * 1024;

interface DoneRecord {
  fingerprint: Buffer;
  response: StoredResponse;
  /** Local clock; a little before the database's expiry, never after. */
  expiresAt: number;
}

/** The first answer to a request, as it is replayed. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** False when the answer was larger than the cap or cut off: replayed with its status and headers only. */
  readonly bodyComplete: boolean;
}

export type ClaimResult =
  | { readonly kind: "claimed"; readonly claim: Claim }
  | { readonly kind: "replay"; readonly response: StoredResponse }
  | { readonly kind: "in_progress"; readonly retryAfterSeconds: number }
  | { readonly kind: "mismatch" };

/** One in-flight request's hold on its key. */
export interface Claim {
  readonly tenantId: string;
  readonly scope: Buffer;
  readonly token: string;
  readonly fingerprint: Buffer;
  /** When the claim was made, by this node's clock, and how long its record lives. */
  readonly claimedAt: number;
  readonly retentionSeconds: number;
}

export interface ClaimRequest {
  tenantId: string;
  scope: Buffer;
  fingerprint: Buffer;
  leaseSeconds: number;
  retentionSeconds: number;
}

interface RecordRow {
  state: "in_flight" | "done";
  fingerprint: Uint8Array;
  lease_token: string | null;
  expires_in: number | string;
  status: number | null;
  headers: Record<string, string> | string | null;
  body: Uint8Array | null;
  body_complete: boolean | null;
}

/**
 * Idempotency records in the durable store (PGlite or Postgres), under the tenant's RLS scope.
 * A claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE`: the unique key makes it atomic across
 * every node and connection, so of N concurrent requests with one key exactly one claims it; the
 * others, in the same transaction, read the row the winner holds (the failed upsert has locked it).
 * An expired record, or an in-flight claim whose lease ran out (its node died) for the same
 * payload, is taken over by the same statement.
 */
export class IdempotencyStore {
  private sweeper: NodeJS.Timeout | undefined;
  /**
   * A done record never changes until it expires, so a node may answer replays of it from memory,
   * without the database: a client retrying in a loop costs a map lookup, not a transaction.
   */
  private readonly done: QuickLRU<string, DoneRecord> = boundedLru(CACHED_RECORDS);

  constructor(private readonly db: Database) {}

  claim(request: ClaimRequest): Promise<ClaimResult> {
    const { tenantId, scope, fingerprint } = request;
    const cacheKey = `${tenantId} ${scope.toString("base64")}`;
    const known = this.done.get(cacheKey);
    if (known !== undefined) {
      if (known.expiresAt > Date.now()) return Promise.resolve(known.fingerprint.equals(fingerprint) ? { kind: "replay", response: known.response } : { kind: "mismatch" });
      this.done.delete(cacheKey);
    }
    return this.claimInStore(request, cacheKey);
  }

  private claimInStore(request: ClaimRequest, cacheKey: string): Promise<ClaimResult> {
    const token = randomUUID();
    const { tenantId, scope, fingerprint } = request;
    return this.db.withTenant(tenantId, async (q) => {
      const won = await q.query<{ lease_token: string }>(
        `insert into idempotency_records (tenant_id, scope_hash, fingerprint, state, lease_token, lease_until, expires_at)
         values ($1, $2, $3, 'in_flight', $4, now() + make_interval(secs => $5), now() + make_interval(secs => $6))
         on conflict (tenant_id, scope_hash) do update
           set fingerprint = excluded.fingerprint, state = 'in_flight', lease_token = excluded.lease_token,
               lease_until = excluded.lease_until, expires_at = excluded.expires_at, created_at = now(),
               status = null, headers = null, body = null, body_complete = null
           where idempotency_records.expires_at <= now()
              or (idempotency_records.state = 'in_flight' and idempotency_records.lease_until <= now()
                  and idempotency_records.fingerprint = excluded.fingerprint)
         returning lease_token`,
        [tenantId, scope, fingerprint, token, request.leaseSeconds, request.retentionSeconds],
      );
      if (won[0]?.lease_token === token) {
        return { kind: "claimed", claim: { tenantId, scope, token, fingerprint, claimedAt: Date.now(), retentionSeconds: request.retentionSeconds } };
      }
      const [row] = await q.query<RecordRow>(
        `select state, fingerprint, lease_token, extract(epoch from expires_at - now()) as expires_in, status, headers, body, body_complete
           from idempotency_records where tenant_id = $1 and scope_hash = $2`,
        [tenantId, scope],
      );
      // Gone between the two statements (swept): nobody holds it, so the caller may simply retry.
      if (row === undefined) return { kind: "in_progress", retryAfterSeconds: 1 };
      if (!Buffer.from(row.fingerprint).equals(fingerprint)) return { kind: "mismatch" };
      // A second, not the lease's remainder: a live claim usually ends long before its lease would.
      if (row.state === "in_flight") return { kind: "in_progress", retryAfterSeconds: 1 };
      const response: StoredResponse = {
        status: row.status!,
        headers: typeof row.headers === "string" ? (JSON.parse(row.headers) as Record<string, string>) : (row.headers ?? {}),
        body: row.body === null ? Buffer.alloc(0) : Buffer.from(row.body),
        bodyComplete: row.body_complete === true,
      };
      this.remember(cacheKey, fingerprint, response, Number(row.expires_in) * 1000);
      return { kind: "replay", response };
    });
  }

  private remember(cacheKey: string, fingerprint: Buffer, response: StoredResponse, expiresInMs: number): void {
    // A second's margin for the clocks of this node and the database.
    if (response.body.length <= MAX_CACHED_BODY && expiresInMs > 1_000) this.done.set(cacheKey, { fingerprint, response, expiresAt: Date.now() + expiresInMs - 1_000 });
  }

  /** Keeps the claim alive while its request is still being served. False once it was lost. */
  async renew(claim: Claim, leaseSeconds: number): Promise<boolean> {
    const rows = await this.db.withTenant(claim.tenantId, (q) =>
      q.query(
        `update idempotency_records set lease_until = now() + make_interval(secs => $4)
          where tenant_id = $1 and scope_hash = $2 and lease_token = $3 and state = 'in_flight' returning 1`,
        [claim.tenantId, claim.scope, claim.token, leaseSeconds],
      ),
    );
    return rows.length > 0;
  }

  /** Stores the answer, if this claim still holds the key. */
  async complete(claim: Claim, response: StoredResponse): Promise<boolean> {
    const rows = await this.db.withTenant(claim.tenantId, (q) =>
      q.query(
        `update idempotency_records
            set state = 'done', lease_token = null, lease_until = null, status = $4, headers = $5::jsonb, body = $6, body_complete = $7
          where tenant_id = $1 and scope_hash = $2 and lease_token = $3 and state = 'in_flight' returning 1`,
        [claim.tenantId, claim.scope, claim.token, response.status, JSON.stringify(response.headers), response.body, response.bodyComplete],
      ),
    );
    if (rows.length === 0) return false;
    // The record's expiry was set at the claim, which this node's clock saw no later than now.
    this.remember(`${claim.tenantId} ${claim.scope.toString("base64")}`, claim.fingerprint, response, claim.claimedAt + claim.retentionSeconds * 1000 - Date.now());
    return true;
  }

  /** Gives the key back: the request never reached the upstream, so a retry must be free to. */
  async release(claim: Claim): Promise<void> {
    await this.db.withTenant(claim.tenantId, (q) =>
      q.query("delete from idempotency_records where tenant_id = $1 and scope_hash = $2 and lease_token = $3 and state = 'in_flight'", [
        claim.tenantId,
        claim.scope,
        claim.token,
      ]),
    );
  }

  /** Deletes expired records of every tenant, a batch at a time; returns how many. */
  async sweep(batch = 1000): Promise<number> {
    const [row] = await this.db.asApp((q) => q.query<{ n: number }>("select portcullis_sweep_idempotency($1) as n", [batch]));
    return row?.n ?? 0;
  }

  /** Sweeps now and then in the background; every node may, since each delete is by expiry alone. */
  startSweeping(everyMs = 5 * 60_000): void {
    this.sweeper ??= setInterval(() => void this.sweep().catch(() => undefined), everyMs).unref();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
