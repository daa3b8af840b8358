import type { Queryable } from "./database.js";

/**
 * Lists the tables of a schema that tenant isolation does not cover: row-level security off, or
 * on but not forced (the table owner would then bypass it). Works on any Postgres database, so
 * a service using the library can run it against its own schema in a test or at start-up.
 */
export async function findTablesWithoutRls(
  q: Queryable,
  schema = "public",
  // Bookkeeping of the whole deployment, no tenant's rows: the migrations run, when jobs last ran.
  exempt: readonly string[] = ["portcullis_migrations", "portcullis_jobs"],
): Promise<string[]> {
  const rows = await q.query<{ table_name: string }>(
    `select c.relname as table_name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
        and not (c.relrowsecurity and c.relforcerowsecurity)
        and c.relname <> all($2::text[])
      order by 1`,
    [schema, [...exempt]],
  );
  return rows.map((r) => r.table_name);
}
