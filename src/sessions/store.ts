import { randomUUID } from "node:crypto";
import type { Database, Queryable } from "../store/index.js";

export interface SessionRow {
  id: string;
  tenant_id: string;
  subject: string;
  client_id: string | null;
  roles: string[];
  scopes: string[];
  acr: string | null;
  amr: string[];
  auth_time: Date;
  generation: number;
  rotated_at: Date;
  created_at: Date;
  idle_expires_at: Date;
  absolute_expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export interface NewSession {
  tenantId: string;
  subject: string;
  clientId?: string | undefined;
  roles: readonly string[];
  scopes: readonly string[];
  acr?: string | undefined;
  amr: readonly string[];
  authTime: Date;
  idleSeconds: number;
  absoluteSeconds: number;
}

/** How presenting a refresh token of `generation` ended. */
export type Rotation =
  | { readonly kind: "rotated"; readonly session: SessionRow }
  /** The immediate predecessor, again within the reuse interval: the same child as before. */
  | { readonly kind: "repeated"; readonly session: SessionRow }
  /** A spent token: the whole family is now revoked. */
  | { readonly kind: "reused"; readonly session: SessionRow }
  | { readonly kind: "invalid" };

const COLUMNS = "id, tenant_id, subject, client_id, roles, scopes, acr, amr, auth_time, generation, rotated_at, created_at, idle_expires_at, absolute_expires_at, revoked_at, revoked_reason";

/** Sessions (refresh-token families) in the durable store, under the tenant's RLS scope. */
export class SessionStore {
  constructor(private readonly db: Database) {}

  async create(s: NewSession): Promise<SessionRow> {
    const [row] = await this.db.withTenant(s.tenantId, (q) =>
      q.query<SessionRow>(
        `insert into sessions (id, tenant_id, subject, client_id, roles, scopes, acr, amr, auth_time, rotated_at, idle_expires_at, absolute_expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, date_trunc('second', now()), now() + make_interval(secs => $10), now() + make_interval(secs => $11))
         returning ${COLUMNS}`,
        [randomUUID(), s.tenantId, s.subject, s.clientId ?? null, s.roles, s.scopes, s.acr ?? null, s.amr, s.authTime, Math.min(s.idleSeconds, s.absoluteSeconds), s.absoluteSeconds],
      ),
    );
    return row!;
  }

  /**
   * Spends the refresh token of `generation`, atomically across nodes: the session row is locked,
   * so of two nodes given the same token at once one rotates and the other sees it spent (and,
   * within the reuse interval, repeats the child; otherwise revokes the family). A token bound to
   * a client and presented by another is refused under the same lock before anything changes: a
   * refusal must not spend the token, or the real client's next refresh would count as reuse.
   */
  rotate(tenantId: string, sessionId: string, generation: number, clientId: string | undefined, idleSeconds: number, reuseIntervalSeconds: number): Promise<Rotation> {
    return this.db.withTenant(tenantId, async (q) => {
      const [row] = await q.query<SessionRow & { since_rotation: number | string }>(
        `select ${COLUMNS}, extract(epoch from now() - rotated_at) as since_rotation from sessions where id = $1 for update`,
        [sessionId],
      );
      if (row === undefined || row.revoked_at !== null) return { kind: "invalid" };
      const now = Date.now();
      if (row.absolute_expires_at.getTime() <= now || row.idle_expires_at.getTime() <= now) return { kind: "invalid" };
      // RFC 6749 §6: a refresh token bound to a client is refused to any other, as a bad one is.
      if (row.client_id !== null && row.client_id !== clientId) return { kind: "invalid" };
      if (generation === row.generation) {
        const [rotated] = await q.query<SessionRow>(
          `update sessions set generation = generation + 1, rotated_at = date_trunc('second', now()),
                  idle_expires_at = least(absolute_expires_at, now() + make_interval(secs => $2))
            where id = $1 returning ${COLUMNS}`,
          [sessionId, idleSeconds],
        );
        return { kind: "rotated", session: rotated! };
      }
      if (generation === row.generation - 1 && Number(row.since_rotation) <= reuseIntervalSeconds) return { kind: "repeated", session: row };
      if (generation < row.generation) return { kind: "reused", session: await revoke(q, sessionId, "reuse") };
      return { kind: "invalid" };
    });
  }

  /** The state an access token's check needs; undefined for an unknown session. */
  async get(tenantId: string, sessionId: string): Promise<SessionRow | undefined> {
    const [row] = await this.db.withTenant(tenantId, (q) => q.query<SessionRow>(`select ${COLUMNS} from sessions where id = $1`, [sessionId]));
    return row;
  }

  /** Revokes one session; false when it was unknown or already revoked. */
  async revoke(tenantId: string, sessionId: string, reason: "revoked" | "signed_out" | "admin"): Promise<boolean> {
    const rows = await this.db.withTenant(tenantId, (q) =>
      q.query("update sessions set revoked_at = now(), revoked_reason = $2 where id = $1 and revoked_at is null returning id", [sessionId, reason]),
    );
    return rows.length > 0;
  }

  /** Signs a subject out everywhere: every live session of theirs. Returns the revoked ids. */
  async revokeSubject(tenantId: string, subject: string, reason: "signed_out" | "admin"): Promise<string[]> {
    const rows = await this.db.withTenant(tenantId, (q) =>
      q.query<{ id: string }>("update sessions set revoked_at = now(), revoked_reason = $2 where subject = $1 and revoked_at is null returning id", [subject, reason]),
    );
    return rows.map((r) => r.id);
  }

  list(tenantId: string, subject: string | undefined, includeEnded = false): Promise<SessionRow[]> {
    return this.db.withTenant(tenantId, (q) =>
      q.query<SessionRow>(
        `select ${COLUMNS} from sessions
          where ($1::text is null or subject = $1)
            and ($2 or (revoked_at is null and absolute_expires_at > now() and idle_expires_at > now()))
          order by created_at desc limit 1000`,
        [subject ?? null, includeEnded],
      ),
    );
  }
}

async function revoke(q: Queryable, sessionId: string, reason: "reuse"): Promise<SessionRow> {
  const [row] = await q.query<SessionRow>(`update sessions set revoked_at = now(), revoked_reason = $2 where id = $1 returning ${COLUMNS}`, [sessionId, reason]);
  return row!;
}
