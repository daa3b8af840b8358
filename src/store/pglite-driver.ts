import { PGlite } from "@electric-sql/pglite";
import type { Driver, Queryable } from "./database.js";

/** Embedded Postgres: one in-process engine, so transactions are naturally serialised. */
export async function openPglite(dataDir: string | undefined): Promise<Driver> {
  const engine = await PGlite.create(dataDir === undefined ? undefined : { dataDir });
  return {
    kind: "pglite",
    transaction: (work) =>
      engine.transaction((tx) => {
        const q: Queryable = {
          query: async <Row extends object>(sql: string, params?: readonly unknown[]) =>
            (await tx.query<Row>(sql, params === undefined ? undefined : [...params])).rows,
        };
        return work(q);
      }),
    close: () => engine.close(),
  };
}
