import { after, before, describe, type TestContext } from "node:test";
import { openDatabase, type Database } from "../../src/store/index.js";
import { createTestDatabase, type TestDatabase } from "./postgres.js";

export interface Backend {
  db: Database;
  /** For tests that need a second node on the same data (Postgres only). */
  url: string | undefined;
}

/**
 * Runs the same suite against embedded PGlite and a real Postgres server: the SQL, the RLS
 * policies and the roles must behave the same on both.
 */
export function describeEachBackend(title: string, suite: (backend: () => Backend) => void): void {
  describe(`${title} [pglite]`, () => {
    let db: Database;
    before(async () => {
      db = await openDatabase({});
    });
    after(() => db.close());
    suite(() => ({ db, url: undefined }));
  });

  describe(`${title} [postgres]`, () => {
    let server: TestDatabase | string;
    let db: Database | undefined;
    before(async () => {
      server = await createTestDatabase();
      if (typeof server !== "string") db = await openDatabase({ databaseUrl: server.url });
    });
    after(async () => {
      await db?.close();
      if (typeof server !== "string") await server.drop();
    });
    suite(() => {
      if (db === undefined || typeof server === "string") throw new SkipBackend(String(server));
      return { db, url: server.url };
    });
  });
}

export class SkipBackend extends Error {}

/** Wraps a test body so that an unavailable backend shows as a skip, not a failure (outside CI). */
export function backendTest(backend: () => Backend, body: (b: Backend, t: TestContext) => Promise<void>) {
  return async (t: TestContext) => {
    let b: Backend;
    try {
      b = backend();
    } catch (error) {
      if (error instanceof SkipBackend) return void t.skip(error.message);
      throw error;
    }
    await body(b, t);
  };
}
