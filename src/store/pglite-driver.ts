import { PGlite } from "@electric-sql/pglite";
import { lockDataDir } from "./data-dir-lock.js";
import type { Driver, Queryable } from "./database.js";

/** Embedded Postgres: one in-process engine, so transactions are naturally serialised. */
export async function openPglite(dataDir: string | undefined): Promise<Driver> {
  const unlock = dataDir === undefined ? async () => undefined : await lockDataDir(dataDir);
  let engine: PGlite;
  try {
    engine = await PGlite.create(dataDir === undefined ? undefined : { dataDir });
  } catch (error) {
    await unlock();
    throw error;
  }
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
    close: async () => {
      await engine.close();
      await unlock();
    },
  };
}
