import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Redactor } from "../redact/redactor.js";
import type { Database, Queryable } from "../store/database.js";
import { ChainWalk, chainHash, genesis, personalCommitment, type ChainedFields, type Checkpoint, type PersonalFields, type Verification } from "./chain.js";

/**
 * Postgres refuses NUL in text and jsonb, and a lone UTF-16 surrogate cannot be stored as it was
 * hashed (it would come back as U+FFFD and read as tampering). Either would also fail every other
 * caller's record committed in the same transaction, so such input is refused at the door.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storable(value: unknown): boolean {
  if (typeof value === "string") return !value.includes("\u0000") && !LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.every(storable);
  if (value !== null && typeof value === "object") return Object.entries(value).every(([key, v]) => storable(key) && storable(v));
  return typeof value !== "number" || Number.isFinite(value);
}

const text = (max: number) => z.string().max(max).refine(storable, "must be well-formed text without NUL");
const name = text(200).min(1);
export const auditInputSchema = z.strictObject({
  actorType: z.enum(["user", "key", "rule", "system", "admin"]),
  actorId: name,
  action: z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/, "dotted lower-case words, such as campaign.create"),
  targetType: name.optional(),
  targetId: name.optional(),
  /** `attempted`: what the gateway records of a request it let through, before the upstream answers. */
  outcome: z.enum(["success", "failure", "denied", "attempted"]).default("success"),
  requestId: name.optional(),
  /** Before and after of a mutation; never a request body. */
  diff: z.strictObject({ before: z.unknown().optional(), after: z.unknown().optional() }).refine(storable, "holds text that is not well-formed, a NUL, or a number JSON cannot carry").optional(),
  actorName: name.optional(),
  ip: text(64).optional(),
  userAgent: text(512).optional(),
});
export type AuditInput = z.input<typeof auditInputSchema>;
type ParsedInput = z.output<typeof auditInputSchema>;

/** What every view of a record shows of it. */
interface RecordFields {
  seq: number;
  at: string;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  request_id: string | null;
  diff: unknown;
}

export interface AuditRecord extends RecordFields {
  actor_name: string | null;
  ip: string | null;
  user_agent: string | null;
  hash: string;
}

/** Microseconds, UTC: the precision the database stores, so the hashed text is the one read back. */
const AT = `to_char(%s at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const PAGE = 1_000;

/**
 * The audit trail, one hash chain per tenant. Appends for a tenant are serialized by a lock on
 * its head row (`audit_heads`), which exists before the first record: locking the last record
 * instead, as some implementations do, lets two first appends both see "no record" and fork the
 * chain, and an in-process lock does nothing for a second node.
 */
export class AuditStore {
  private readonly queued = new Map<string, { records: ParsedInput[]; resolve(value: { seq: number; hash: string }[]): void; reject(error: Error): void }[]>();
  private readonly committing = new Set<string>();

  /**
   * `redactor`: what a diff holds passes through it before it is chained (with the tenant's own
   * settings and hash key), so a before/after of an address, a number or a secret never sits in
   * the trail, or in an export of it, in the clear; the gateway's hashes personal values and
   * masks credentials. Without one, diffs are stored as given.
   */
  constructor(
    private readonly db: Database,
    private readonly redactor?: Redactor,
  ) {}

  /** One record, durable when this resolves (see appendMany). */
  async append(tenantId: string, input: AuditInput): Promise<{ seq: number; hash: string }> {
    return (await this.appendMany(tenantId, [input]))[0]!;
  }

  /**
   * Records durable when this resolves, all or none. Appends that arrive for a tenant while its
   * previous transaction runs are committed together in the next one (group commit): each caller
   * still waits for its own records' commit, and a failed transaction rejects every call in it.
   * The chain's order is the order of the calls.
   */
  appendMany(tenantId: string, inputs: readonly AuditInput[]): Promise<{ seq: number; hash: string }[]> {
    let records: ParsedInput[];
    try {
      records = inputs.map((input) => auditInputSchema.parse(input));
      if (this.redactor !== undefined) for (const record of records) if (record.diff !== undefined) record.diff = this.redactor.value(record.diff, tenantId);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (records.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      let queue = this.queued.get(tenantId);
      if (queue === undefined) this.queued.set(tenantId, (queue = []));
      queue.push({ records, resolve, reject });
      this.commitQueued(tenantId);
    });
  }

  /**
   * Starts the tenant's next transaction once the current turn of the event loop is over, so that
   * callers woken by the last commit (who append again at once) join this one instead of each
   * starting a transaction of one.
   */
  private commitQueued(tenantId: string): void {
    if (this.committing.has(tenantId)) return;
    this.committing.add(tenantId);
    setImmediate(() => this.commitNow(tenantId));
  }

  private commitNow(tenantId: string): void {
    const calls = this.queued.get(tenantId);
    if (calls === undefined || calls.length === 0) {
      this.committing.delete(tenantId);
      return;
    }
    this.queued.delete(tenantId);
    this.commit(tenantId, calls.flatMap((call) => call.records))
      .then(
        (appended) => {
          let offset = 0;
          for (const call of calls) {
            call.resolve(appended.slice(offset, offset + call.records.length));
            offset += call.records.length;
          }
        },
        (error: unknown) => calls.forEach((call) => call.reject(error as Error)),
      )
      .finally(() => {
        this.committing.delete(tenantId);
        if (this.queued.has(tenantId)) this.commitQueued(tenantId);
      });
  }

  /** One transaction: the head locked and read, then the records, their personal rows and the new head in one statement. */
  private commit(tenantId: string, records: readonly ParsedInput[]): Promise<{ seq: number; hash: string }[]> {
    return this.db.withTenant(tenantId, async (q) => {
      const head = await lockedHead(q, tenantId);
      const { at } = head;
      let previous: Buffer = Buffer.from(head.head);
      let seq = Number(head.seq);
      const chained: unknown[] = [];
      const personal: unknown[] = [];
      const appended: { seq: number; hash: string }[] = [];
      const salts = randomBytes(16 * records.length);
      for (const [i, record] of records.entries()) {
        seq++;
        const salt = Buffer.from(salts.subarray(16 * i, 16 * i + 16));
        const fields: ChainedFields = {
          tenantId,
          seq,
          at,
          actorType: record.actorType,
          actorId: record.actorId,
          action: record.action,
          targetType: record.targetType ?? null,
          targetId: record.targetId ?? null,
          outcome: record.outcome,
          requestId: record.requestId ?? null,
          diff: record.diff ?? null,
          personalCommitment: personalCommitment(salt, record),
        };
        previous = chainHash(previous, fields);
        chained.push(tenantId, seq, at, fields.actorType, fields.actorId, fields.action, fields.targetType, fields.targetId, fields.outcome, fields.requestId, fields.diff === null ? null : JSON.stringify(fields.diff), fields.personalCommitment, previous);
        // A record with no personal field has no personal row: nothing to show or erase (its commitment is to nulls).
        if (record.actorName !== undefined || record.ip !== undefined || record.userAgent !== undefined) personal.push(tenantId, seq, salt, record.actorName ?? null, record.ip ?? null, record.userAgent ?? null);
        appended.push({ seq, hash: previous.toString("hex") });
      }
      // One statement for the records, their personal rows and the new head: a round trip per
      // transaction counts, as appends for a tenant go one transaction at a time. The personal
      // rows' foreign keys are checked at the statement's end, when the records are in.
      const heads = chained.length;
      const people = personal.length / 6;
      await q.query(
        `with records as (insert into audit_records (tenant_id, seq, at, actor_type, actor_id, action, target_type, target_id, outcome, request_id, diff, personal_commitment, hash) values ${placeholders(records.length, 13, 3)})` +
          (people === 0 ? "" : `, personal as (insert into audit_personal (tenant_id, seq, salt, actor_name, ip, user_agent) values ${placeholders(people, 6, undefined, heads)})`) +
          ` update audit_heads set seq = $${heads + personal.length + 2}, head = $${heads + personal.length + 3} where tenant_id = $${heads + personal.length + 1}`,
        [...chained, ...personal, tenantId, seq, previous],
      );
      return appended;
    });
  }

  /** The head as it stands, to be kept outside the database. */
  async checkpoint(tenantId: string): Promise<Checkpoint> {
    const [row] = await this.db.withTenant(tenantId, (q) => q.query<{ seq: string; head: Uint8Array }>("select seq, head from audit_heads where tenant_id = $1", [tenantId]));
    return row === undefined ? { seq: 0, head: genesis(tenantId).toString("hex") } : { seq: Number(row.seq), head: Buffer.from(row.head).toString("hex") };
  }

  /** The erased personal fields of every record naming this actor; the chain stays verifiable. */
  async anonymise(tenantId: string, actorType: string, actorId: string): Promise<number> {
    const [row] = await this.db.withTenant(tenantId, (q) => q.query<{ n: number }>("select portcullis_audit_anonymise($1, $2, $3) as n", [tenantId, actorType, actorId]));
    return row!.n;
  }

  async records(tenantId: string, afterSeq = 0, limit = 100, filter: AuditFilter = {}): Promise<AuditRecord[]> {
    return this.db.withTenant(tenantId, async (q) => (await page(q, tenantId, afterSeq, limit, filter)).map(view));
  }

  async tenants(): Promise<string[]> {
    return (await this.db.asApp((q) => q.query<{ tenant_id: string }>("select tenant_id from portcullis_audit_tenants()"))).map((r) => r.tenant_id);
  }

  /** Recomputes the tenant's chain from its first record (see ChainWalk). */
  async verify(tenantId: string, checkpoint?: Checkpoint): Promise<Verification> {
    return this.db.withTenant(tenantId, async (q) => {
      const walk = new ChainWalk(tenantId, checkpoint);
      for (let after = 0; ; ) {
        const rows = await page(q, tenantId, after, PAGE);
        for (const row of rows) if (!walk.push(chainedFields(tenantId, row), Buffer.from(row.hash), personalRow(row))) return walk.result();
        if (rows.length < PAGE) return walk.result();
        after = Number(rows.at(-1)!.seq);
      }
    });
  }

  /**
   * Every record as the chain covers it, with no personal field: a tenant can check its own trail
   * offline from this and a signed checkpoint, and the export carries no personal data.
   */
  async *exported(tenantId: string, upToSeq: number): AsyncGenerator<ExportedRecord> {
    for (let after = 0; after < upToSeq; ) {
      const rows = await this.db.withTenant(tenantId, (q) => page(q, tenantId, after, Math.min(PAGE, upToSeq - after)));
      for (const row of rows) yield exportedRecord(tenantId, row);
      if (rows.length === 0) return;
      after = Number(rows.at(-1)!.seq);
    }
  }
}

/** One line of an export: the chained fields, the commitment and the hash, hex-encoded. */
export interface ExportedRecord extends RecordFields {
  type: "record";
  tenant_id: string;
  personal_commitment: string;
  hash: string;
}

function exportedRecord(tenantId: string, row: Row): ExportedRecord {
  return { type: "record", tenant_id: tenantId, ...shownFields(row), personal_commitment: Buffer.from(row.personal_commitment).toString("hex"), hash: Buffer.from(row.hash).toString("hex") };
}

/** An exported line back into what the chain covers. */
export function fieldsOfExport(line: ExportedRecord): ChainedFields {
  return {
    tenantId: line.tenant_id,
    seq: line.seq,
    at: line.at,
    actorType: line.actor_type,
    actorId: line.actor_id,
    action: line.action,
    targetType: line.target_type,
    targetId: line.target_id,
    outcome: line.outcome,
    requestId: line.request_id,
    diff: line.diff,
    personalCommitment: Buffer.from(line.personal_commitment, "hex"),
  };
}

interface Row extends Omit<RecordFields, "seq"> {
  seq: string;
  personal_commitment: Uint8Array;
  hash: Uint8Array;
  actor_name: string | null;
  ip: string | null;
  user_agent: string | null;
  /** Null where the record has no personal row. */
  salt: Uint8Array | null;
  erased: boolean | null;
}

/** Narrows a listing; absent fields match everything. Times are ISO 8601. */
export interface AuditFilter {
  actorType?: string | undefined;
  actorId?: string | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

function page(q: Queryable, tenantId: string, afterSeq: number, limit: number, filter: AuditFilter = {}): Promise<Row[]> {
  return q.query<Row>(
    `select r.seq, ${AT.replace("%s", "r.at")} as at, r.actor_type, r.actor_id, r.action, r.target_type, r.target_id, r.outcome, r.request_id, r.diff,
            r.personal_commitment, r.hash, p.actor_name, p.ip, p.user_agent, p.salt, p.anonymised_at is not null as erased
     from audit_records r left join audit_personal p on p.tenant_id = r.tenant_id and p.seq = r.seq
     where r.tenant_id = $1 and r.seq > $2
       and ($4::text is null or r.actor_type = $4) and ($5::text is null or r.actor_id = $5) and ($6::text is null or r.action = $6)
       and ($7::text is null or r.target_type = $7) and ($8::text is null or r.target_id = $8)
       and ($9::timestamptz is null or r.at >= $9) and ($10::timestamptz is null or r.at < $10)
     order by r.seq limit $3`,
    [tenantId, afterSeq, limit, filter.actorType ?? null, filter.actorId ?? null, filter.action ?? null, filter.targetType ?? null, filter.targetId ?? null, filter.since ?? null, filter.until ?? null],
  );
}

/** `($1, $2, …), ($n+1, …)` for `rows` rows of `width` values after `offset` others; the `timestampColumn`-th (from 1) cast to timestamptz. */
function placeholders(rows: number, width: number, timestampColumn?: number, offset = 0): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const values: string[] = [];
    for (let c = 1; c <= width; c++) values.push(`$${offset + r * width + c}${c === timestampColumn ? "::timestamptz" : ""}`);
    out.push(`(${values.join(", ")})`);
  }
  return out.join(", ");
}

/**
 * The head row, locked, with the time the records will carry: appends for one tenant go one
 * transaction at a time, on every node. The row is created on a tenant's first append (the
 * insert waits on a concurrent first insert and then does nothing), and read again under the lock.
 */
async function lockedHead(q: Queryable, tenantId: string): Promise<{ seq: string; head: Uint8Array; at: string }> {
  const lock = `select seq, head, ${AT.replace("%s", "clock_timestamp()")} as at from audit_heads where tenant_id = $1 for update`;
  const [found] = await q.query<{ seq: string; head: Uint8Array; at: string }>(lock, [tenantId]);
  if (found !== undefined) return found;
  await q.query("insert into audit_heads (tenant_id, seq, head) values ($1, 0, $2) on conflict (tenant_id) do nothing", [tenantId, genesis(tenantId)]);
  const [created] = await q.query<{ seq: string; head: Uint8Array; at: string }>(lock, [tenantId]);
  return created!;
}

/** The personal row as its commitment covers it; none where there is none, or where it was erased. */
function personalRow(row: Row): (PersonalFields & { salt: Buffer }) | undefined {
  if (row.salt === null || row.erased === true) return undefined;
  return { salt: Buffer.from(row.salt), actorName: row.actor_name, ip: row.ip, userAgent: row.user_agent };
}

function chainedFields(tenantId: string, row: Row): ChainedFields {
  return {
    tenantId,
    seq: Number(row.seq),
    at: row.at,
    actorType: row.actor_type,
    actorId: row.actor_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    outcome: row.outcome,
    requestId: row.request_id,
    diff: row.diff,
    personalCommitment: Buffer.from(row.personal_commitment),
  };
}

function view(row: Row): AuditRecord {
  return { ...shownFields(row), actor_name: row.actor_name, ip: row.ip, user_agent: row.user_agent, hash: Buffer.from(row.hash).toString("hex") };
}

function shownFields(row: Row): RecordFields {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    outcome: row.outcome,
    request_id: row.request_id,
    diff: row.diff,
  };
}
