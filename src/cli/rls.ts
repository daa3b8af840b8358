import { parseArgs } from "node:util";
import pg from "pg";
import { checkRls } from "../store/rls-audit.js";
import { CliError } from "./errors.js";

export const RLS_HELP = `Usage: portcullis rls check DATABASE_URL [--schema NAME] [--tenant-column a,b] [--role NAME] [--json]

Lists every tenant-owned table (one with a tenant column: tenant_id, org_id, organization_id
unless --tenant-column says otherwise) whose isolation has a hole: row-level security off or not
forced, no policy, a write policy without WITH CHECK, or an application role (--role, default the
connecting role) that is a superuser or has BYPASSRLS. Exits 1 when it finds any. Reads the
catalog only; changes nothing.`;

export async function rls(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { schema: { type: "string" }, "tenant-column": { type: "string" }, role: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  const [sub, url] = positionals;
  if (values.help || sub === undefined) return void console.log(RLS_HELP);
  if (sub !== "check" || url === undefined) throw new CliError(`usage: portcullis rls check DATABASE_URL\n\n${RLS_HELP}`);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const findings = await checkRls(
      { query: async (sql, params) => (await client.query(sql, params as unknown[])).rows },
      { schema: values.schema, tenantColumns: values["tenant-column"]?.split(","), role: values.role },
    );
    if (values.json) console.log(JSON.stringify({ findings }, null, 2));
    else console.log(findings.length === 0 ? "every tenant-owned table is isolated" : findings.map((f) => `${f.table}: ${f.problem}${f.detail === undefined ? "" : ` (${f.detail})`}`).join("\n"));
    if (findings.length > 0) process.exitCode = 1;
  } finally {
    await client.end();
  }
}
