import { readdir, readFile } from "node:fs/promises";
import { APP_ROLE, type Database } from "./database.js";

const MIGRATIONS_DIR = new URL("../../../migrations/", import.meta.url);

// Roles are cluster-wide, so two databases (or two test runs) may race to create it.
const ENSURE_APP_ROLE = `
do $$ begin
  begin
    create role ${APP_ROLE} nologin nosuperuser nobypassrls;
  exception when duplicate_object or unique_violation then null;
  end;
  if not pg_has_role(current_user, '${APP_ROLE}', 'MEMBER') then
    execute format('grant ${APP_ROLE} to %I', current_user);
  end if;
end $$`;

/**
 * Applies the SQL files in migrations/ in name order, each once, all in one transaction under an
 * advisory lock so that several gateway nodes starting together migrate exactly once.
 */
export async function migrate(db: Database): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).sort();
  return db.asOwner(async (q) => {
    await q.query("select pg_advisory_xact_lock(hashtext('portcullis_migrate'))");
    await q.query(ENSURE_APP_ROLE);
    await q.query(
      "create table if not exists portcullis_migrations (version text primary key, applied_at timestamptz not null default now())",
    );
    const done = new Set((await q.query<{ version: string }>("select version from portcullis_migrations")).map((r) => r.version));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(new URL(file, MIGRATIONS_DIR), "utf8");
      for (const statement of splitStatements(sql)) await q.query(statement);
      await q.query("insert into portcullis_migrations (version) values ($1)", [file]);
      applied.push(file);
    }
    return applied;
  });
}

/**
 * Extended-protocol queries (which both drivers use for parameters) take one statement each.
 * Our migrations keep statements apart with a semicolon at the end of a line, and function
 * bodies inside $$ … $$, which this split respects.
 */
function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = "";
  let inDollarQuote = false;
  for (const line of sql.split("\n")) {
    if (line.trimStart().startsWith("--") && !inDollarQuote) continue;
    current += line + "\n";
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) inDollarQuote = !inDollarQuote;
    if (!inDollarQuote && line.trimEnd().endsWith(";")) {
      statements.push(current.trim());
      current = "";
    }
  }
  if (current.trim() !== "") statements.push(current.trim());
  return statements;
}
