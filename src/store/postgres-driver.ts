import pg from "pg";
import { Problem } from "../problem/index.js";
import type { Driver, Queryable } from "./database.js";

/** Socket errors of a server that is down, restarting or unreachable. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Whether an error says the database cannot be reached, not that a statement failed: a socket
 * error, a connection exception (SQLSTATE class 08), the server shutting down or starting
 * (57P01-57P03), or pg's own word that the connection ended.
 */
function isOutage(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (UNREACHABLE.has(code) || code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03")) return true;
  return typeof message === "string" && /^Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}

export async function openPostgres(connectionString: string, maxConnections = 10): Promise<Driver> {
  const pool = new pg.Pool({ connectionString, max: maxConnections });
  // An idle client that loses its server emits 'error' on the pool; without a listener that
  // would crash the process. Readiness probes surface the outage instead.
  pool.on("error", () => undefined);
  return {
    kind: "postgres",
    async transaction(work) {
      // An outage is the store being unavailable (503, as every other path answers it), never an internal error.
      const client = await pool.connect().catch((error: unknown) => {
        throw isOutage(error) ? new Problem("STORE_UNAVAILABLE", "The database cannot be reached right now.") : error;
      });
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
        throw isOutage(error) ? new Problem("STORE_UNAVAILABLE", "The database cannot be reached right now.") : error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
