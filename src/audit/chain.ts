import { createHash, timingSafeEqual } from "node:crypto";

/** What a record says, as the chain covers it. `at` is the database's timestamp in the text form it is hashed in. */
export interface ChainedFields {
  tenantId: string;
  seq: number;
  at: string;
  actorType: string;
  actorId: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
  requestId: string | null;
  diff: unknown;
  personalCommitment: Buffer;
}

export interface PersonalFields {
  actorName?: string | null | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
}

/** The chain's start for a tenant: no two tenants' chains can be spliced into each other. */
export function genesis(tenantId: string): Buffer {
  return createHash("sha256").update(`portcullis-audit-v1:${tenantId}`).digest();
}

/** h_n = SHA-256(h_{n-1} ‖ canonical(record_n)). */
export function chainHash(previous: Buffer, fields: ChainedFields): Buffer {
  return createHash("sha256").update(previous).update(canonicalRecord(fields)).digest();
}

/**
 * The personal fields enter the chain only as SHA-256(salt ‖ canonical(fields)): erasing them later
 * leaves the chain as it was, and the salt keeps a guessable value (an IP address) from being
 * confirmed by hashing candidates.
 */
export function personalCommitment(salt: Buffer, personal: PersonalFields): Buffer {
  return createHash("sha256").update(salt).update(JSON.stringify([personal.actorName ?? null, personal.ip ?? null, personal.userAgent ?? null])).digest();
}

/** A fixed-order array, so that no field can be mistaken for another; the diff with its keys sorted at every level. */
export function canonicalRecord(f: ChainedFields): string {
  return JSON.stringify(["v1", f.tenantId, f.seq, f.at, f.actorType, f.actorId, f.action, f.targetType, f.targetId, f.outcome, f.requestId, canonicalJson(f.diff ?? null), f.personalCommitment.toString("hex")]);
}

/**
 * JSON with object keys sorted, recursively (RFC 8785's ordering for the keys; values as
 * JSON.stringify writes them). The database keeps the diff as jsonb, which reorders keys, so the
 * hash must not depend on their order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** What verification found: the chain is whole, or the first record that breaks it and how. */
export interface Verification {
  ok: boolean;
  records: number;
  /** The last good record's seq and hash. */
  seq: number;
  head: string;
  firstBad?: { seq: number; reason: "missing" | "changed" | "personal_changed" | "truncated" | "head_mismatch" | "beyond_checkpoint" } | undefined;
}

/** An outside copy of a chain's head: given one, verification also catches a tail cut off after it. */
export interface Checkpoint {
  seq: number;
  head: string;
}

/**
 * Walks a chain in order, from the database or from an export: a changed record breaks its own
 * hash, a deleted one leaves a gap in the sequence, an inserted or reordered one breaks the hash
 * where it sits. With an outside checkpoint, a chain that ends before it, or passes it with
 * another head, is caught too.
 */
export class ChainWalk {
  private previous: Buffer;
  private expected = 1;
  private atCheckpoint: Buffer | undefined;
  private bad: Verification["firstBad"];

  constructor(
    private readonly tenantId: string,
    private readonly checkpoint?: Checkpoint | undefined,
  ) {
    this.previous = genesis(tenantId);
  }

  /**
   * False once the chain is broken: nothing after the first bad record is judged. `personal` is
   * the record's personal row where it has one that was not erased: its fields must still be the
   * ones the chained commitment was made of (a row added to a record that had none, or edited,
   * cannot match it without a preimage of SHA-256).
   */
  push(fields: ChainedFields, storedHash: Buffer, personal?: PersonalFields & { salt: Buffer }): boolean {
    if (this.bad !== undefined) return false;
    if (fields.tenantId !== this.tenantId || fields.seq !== this.expected) {
      this.bad = { seq: this.expected, reason: "missing" };
      return false;
    }
    const hash = chainHash(this.previous, fields);
    if (storedHash.length !== hash.length || !timingSafeEqual(hash, storedHash)) {
      this.bad = { seq: fields.seq, reason: "changed" };
      return false;
    }
    if (personal !== undefined && !timingSafeEqual(personalCommitment(personal.salt, personal), fields.personalCommitment)) {
      this.bad = { seq: fields.seq, reason: "personal_changed" };
      return false;
    }
    this.previous = hash;
    if (this.checkpoint !== undefined && fields.seq === this.checkpoint.seq) this.atCheckpoint = hash;
    this.expected++;
    return true;
  }

  result(): Verification {
    const walked = { records: this.expected - 1, seq: this.expected - 1, head: this.previous.toString("hex") };
    if (this.bad !== undefined) return { ok: false, ...walked, firstBad: this.bad };
    const { checkpoint } = this;
    if (checkpoint !== undefined && checkpoint.seq > 0) {
      if (this.atCheckpoint === undefined) return { ok: false, ...walked, firstBad: { seq: this.expected, reason: "truncated" } };
      if (this.atCheckpoint.toString("hex") !== checkpoint.head) return { ok: false, ...walked, firstBad: { seq: checkpoint.seq, reason: "head_mismatch" } };
    }
    return { ok: true, ...walked };
  }
}
