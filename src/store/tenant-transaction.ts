import type pg from "pg";

/**
 * Runs `work` in a transaction of a pool connection with the tenant set as `app.current_org` (or
 * `setting`) and, when given, the tenant role assumed, for a service's own Postgres tables under
 * RLS keyed by that setting. Both are transaction-scoped (`set_config(…, true)` and `SET LOCAL
 * ROLE`): they end at COMMIT or ROLLBACK, so the next transaction on the same server connection
 * never inherits them, whether the connection goes back to this pool or, under PgBouncer in
 * transaction mode, to another client altogether. A session-level `SET` would leak one tenant's
 * scope into another's queries there.
 */
export async function withTenantTransaction<T>(
  pool: pg.Pool,
  tenantId: string,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { role?: string | undefined; setting?: string | undefined } = {},
): Promise<T> {
  if (options.role !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.role)) throw new Error("a role name is lower-case letters, digits and _");
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("begin");
    if (options.role !== undefined) await client.query(`set local role ${options.role}`);
    await client.query("select set_config($1, $2, true)", [options.setting ?? "app.current_org", tenantId]);
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    // A connection that cannot even roll back is not given back to the pool for someone else.
    await client.query("rollback").catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}
