import { z } from "zod";
import type { Principal } from "../identity/principal.js";
import type { Database } from "../store/index.js";
import { RefreshingCache } from "../util/refreshing-cache.js";

export const ROLE_NAME = /^[A-Za-z0-9:._-]{1,64}$/;
const permission = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/, "permissions are 1-100 characters of letters, digits and : . _ * -");

/** `roles: { admin: [orders:write, orders:read], viewer: [orders:read] }`: what each role may do. */
export const rolesSchema = z
  .record(z.string().regex(ROLE_NAME, "role names are 1-64 characters of letters, digits and : . _ -"), z.array(permission))
  .default({});
export type RolesPolicy = z.infer<typeof rolesSchema>;

export type SubjectKind = "user" | "key";

/** Whose assignments a principal's are: an API key by its id, a token's or session's user by subject. */
export function subjectOf(principal: Principal): { kind: SubjectKind; subject: string } {
  return principal.kind === "api_key" ? { kind: "key", subject: principal.id } : { kind: "user", subject: principal.id };
}

/**
 * Role assignments in the durable store, per tenant under RLS, read through a cache that is
 * never more than `maxStalenessMs` old (1 s by default): a demotion reaches every node within that,
 * whatever roles a still-valid token or session was issued with. The roles a token claims are
 * never read.
 */
export class RoleStore {
  private readonly cache: RefreshingCache<ReadonlySet<string>>;

  constructor(
    private readonly db: Database,
    maxStalenessMs = 1_000,
  ) {
    this.cache = new RefreshingCache(
      async (key) => {
        const [tenantId, kind, subject] = splitKey(key);
        return new Set(await this.rolesOf(tenantId, kind, subject));
      },
      { freshMs: maxStalenessMs / 2, maxAgeMs: maxStalenessMs, maxEntries: 100_000 },
    );
  }

  /** For the hot path: synchronous while cached. */
  rolesFor(principal: Principal): ReadonlySet<string> | Promise<ReadonlySet<string>> {
    const { kind, subject } = subjectOf(principal);
    return this.cache.get(cacheKey(principal.tenantId, kind, subject));
  }

  rolesOf(tenantId: string, kind: SubjectKind, subject: string): Promise<string[]> {
    return this.db.withTenant(tenantId, async (q) =>
      (await q.query<{ role: string }>("select role from role_assignments where subject_kind = $1 and subject = $2 order by role", [kind, subject])).map((r) => r.role),
    );
  }

  /** Every assignment of the tenant, for its export. */
  assignments(tenantId: string): Promise<{ subject_kind: SubjectKind; subject: string; role: string }[]> {
    return this.db.withTenant(tenantId, (q) => q.query("select subject_kind, subject, role from role_assignments order by subject_kind, subject, role"));
  }

  /** Replaces the subject's roles with `roles`, in one transaction. */
  async set(tenantId: string, kind: SubjectKind, subject: string, roles: readonly string[]): Promise<string[]> {
    const result = await this.db.withTenant(tenantId, async (q) => {
      await q.query("delete from role_assignments where subject_kind = $1 and subject = $2", [kind, subject]);
      for (const role of new Set(roles)) {
        await q.query("insert into role_assignments (tenant_id, subject_kind, subject, role) values ($1, $2, $3, $4)", [tenantId, kind, subject, role]);
      }
      return [...new Set(roles)].sort();
    });
    this.cache.forget(cacheKey(tenantId, kind, subject));
    return result;
  }
}

function cacheKey(tenantId: string, kind: SubjectKind, subject: string): string {
  return `${tenantId} ${kind} ${subject}`;
}

function splitKey(key: string): [string, SubjectKind, string] {
  const first = key.indexOf(" ");
  const second = key.indexOf(" ", first + 1);
  return [key.slice(0, first), key.slice(first + 1, second) as SubjectKind, key.slice(second + 1)];
}
