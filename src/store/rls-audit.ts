import type { Queryable } from "./database.js";

export type RlsProblem = "rls_disabled" | "rls_not_forced" | "no_policy" | "policy_without_with_check" | "role_bypasses_rls";

export interface RlsFinding {
  table: string;
  problem: RlsProblem;
  /** The policy or role the finding is about, when it is about one. */
  detail?: string | undefined;
}

export interface RlsCheckOptions {
  schema?: string | undefined;
  /** Columns that make a table tenant-owned. */
  tenantColumns?: readonly string[] | undefined;
  /** The role the application queries as; the connecting role when absent. */
  role?: string | undefined;
}

/**
 * Every way a tenant-owned table (one with a tenant column) of a schema is not isolated: row-level
 * security off, or on but not forced (its owner reads everything), no policy (then nobody but a
 * bypassing role reads it, which hides the mistake until someone "fixes" it with one), a policy
 * that writes without an explicit `WITH CHECK` (an INSERT policy without it admits any tenant's
 * rows; for the others Postgres falls back to `USING`, which is easy to break later), and an
 * application role that is a superuser or has BYPASSRLS, for which none of it applies.
 */
export async function checkRls(q: Queryable, options: RlsCheckOptions = {}): Promise<RlsFinding[]> {
  const schema = options.schema ?? "public";
  const columns = [...(options.tenantColumns ?? ["tenant_id", "org_id", "organization_id"])];
  const tables = await q.query<{ table_name: string; enabled: boolean; forced: boolean }>(
    `select c.relname as table_name, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = any($2::text[]) and not a.attisdropped and a.attnum > 0)
      order by 1`,
    [schema, columns],
  );
  const policies = await q.query<{ table_name: string; policy: string; command: string; has_check: boolean }>(
    `select c.relname as table_name, p.polname as policy, p.polcmd as command, p.polwithcheck is not null as has_check
       from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1`,
    [schema],
  );
  const [role] = await q.query<{ name: string; bypasses: boolean }>(
    "select rolname as name, (rolsuper or rolbypassrls) as bypasses from pg_roles where rolname = coalesce($1, current_user)",
    [options.role ?? null],
  );
  const findings: RlsFinding[] = [];
  for (const table of tables) {
    const name = table.table_name;
    if (!table.enabled) findings.push({ table: name, problem: "rls_disabled" });
    else if (!table.forced) findings.push({ table: name, problem: "rls_not_forced" });
    const own = policies.filter((p) => p.table_name === name);
    if (table.enabled && own.length === 0) findings.push({ table: name, problem: "no_policy" });
    // polcmd: r select, a insert, w update, d delete, * all. Only writes need WITH CHECK.
    for (const policy of own) if (policy.command !== "r" && policy.command !== "d" && !policy.has_check) findings.push({ table: name, problem: "policy_without_with_check", detail: policy.policy });
    if (role?.bypasses) findings.push({ table: name, problem: "role_bypasses_rls", detail: role.name });
  }
  return findings;
}
