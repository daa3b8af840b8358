import pg from "pg";
import type { Driver, Queryable } from "./database.js";

export async function openPostgres(connectionString: string, maxConnections = 10): Promise<Driver> {
  const pool = new pg.Pool({ connectionString, max: maxConnections });
  // An idle client that loses its server emits 'error' on the pool; without a listener that
  // would crash the process. Readiness probes surface the outage instead.
  pool.on("error", () => undefined);
  return {
    kind: "postgres",
    async transaction(work) {
      const client = await pool.connect();
      const q: Queryable = {
        query: async <Row extends object>(sql: string, params?: readonly unknown[]) =>
          (await client.query<Row & pg.QueryResultRow>(sql, params === undefined ? undefined : [...params])).rows,
      };
      let broken = false;
      try {
        await client.query("begin");
        const result = await work(q);
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
