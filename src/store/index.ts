import { Database } from "./database.js";
import { migrate } from "./migrate.js";
import { openPglite } from "./pglite-driver.js";
import { openPostgres } from "./postgres-driver.js";

export { Database, APP_ROLE, isUuid, type Queryable, type Driver } from "./database.js";
export { migrate } from "./migrate.js";
export { findTablesWithoutRls } from "./rls-check.js";
export { checkRls, type RlsCheckOptions, type RlsFinding, type RlsProblem } from "./rls-audit.js";
export { withTenantTransaction } from "./tenant-transaction.js";

export interface DatabaseOptions {
  /** A Postgres server; when absent, embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** Where PGlite keeps its files; in memory when absent. */
  dataDir?: string | undefined;
}

/** Opens the durable store and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const driver = options.databaseUrl ? await openPostgres(options.databaseUrl) : await openPglite(options.dataDir);
  const db = new Database(driver);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
