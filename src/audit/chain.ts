import { createHash } from "node:crypto";

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
