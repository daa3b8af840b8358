/**
 * Session access tokens against API keys at the authenticate stage, in this run: CPU per
 * authentication through the same control, both warm (the key's and the session's caches fresh),
 * interleaved rounds, medians. Then refresh-token rotations per second on PGlite and on the local Postgres server, one after
 * another (each is a locked read and an update of the session's row). This measures the stage,
 * not a whole proxied request: the gateway benchmark's per-request CPU is several times larger,
 * so a ratio here bounds the ratio there from above.
 */
import pg from "pg";
import { PortcullisCore } from "../src/gateway/core.js";
import { authenticateControl } from "../src/identity/authenticate.js";
import { createContext } from "../src/pipeline/context.js";
import { parseIp } from "../src/net/ip.js";
import { defaultPolicy } from "../src/policy/load.js";
import { sessionRequestSchema } from "../src/sessions/sessions.js";

const ROUNDS = 5;
const PG_URL = process.env.PORTCULLIS_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const CALLS = 20_000;

const core = await PortcullisCore.open({ policy: defaultPolicy() });
try {
  const tenant = await core.tenants.create("bench");
  const { key } = await core.keys.create(tenant.id, { env: "test", scopes: [] });
  const pair = await core.sessions.issue(tenant.id, sessionRequestSchema.parse({ subject: "user-1" }));
  const control = authenticateControl({ methods: ["apiKey", "session"], keyEnv: "any" }, core.deps.authenticators);
  const clientAddress = parseIp("192.0.2.1")!;
  const cpuPerCall = async (credential: string): Promise<number> => {
    const rawHeaders = ["authorization", `Bearer ${credential}`];
    const before = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) {
      const ctx = createContext({ requestId: "r", method: "GET", url: "/", headers: {}, rawHeaders, clientAddress, body: undefined });
      const pending = control.run(ctx);
      if (pending !== undefined) await pending;
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / CALLS;
  };
  await cpuPerCall(key);
  await cpuPerCall(pair.access_token);
  const keys: number[] = [];
  const sessions: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    keys.push(await cpuPerCall(key));
    sessions.push(await cpuPerCall(pair.access_token));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log("authenticate stage, CPU µs per call (median of %d rounds):", ROUNDS);
  console.log("  API key (cached)        %s", median(keys).toFixed(2));
  console.log("  session access token    %s   ratio %s (the stage alone; the goal is per proxied request, bench/features.ts)", median(sessions).toFixed(2), (median(sessions) / median(keys)).toFixed(2));

  console.log("refresh-token rotations per second, sequential: PGlite %d", await rotationsPerSecond(core, tenant.id));
} finally {
  await core.close();
}

const server = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
try {
  await server.connect();
  const name = `portcullis_bench_sessions_${process.pid}`;
  await server.query(`create database ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const onPostgres = await PortcullisCore.open({ policy: defaultPolicy(), databaseUrl: url.toString() });
  try {
    const tenant = await onPostgres.tenants.create("bench");
    console.log("refresh-token rotations per second, sequential: Postgres %d", await rotationsPerSecond(onPostgres, tenant.id));
  } finally {
    await onPostgres.close();
    await server.query(`drop database if exists ${name} with (force)`);
  }
} catch (error) {
  console.log(`Postgres at ${PG_URL} not measured: ${(error as Error).message}`);
} finally {
  await server.end().catch(() => undefined);
}

/** One session's refresh token rotated again and again for two seconds, each rotation awaited. */
async function rotationsPerSecond(on: PortcullisCore, tenantId: string): Promise<number> {
  let refresh = (await on.sessions.issue(tenantId, sessionRequestSchema.parse({ subject: "rotating" }))).refresh_token;
  const started = performance.now();
  let rotations = 0;
  while (performance.now() - started < 2_000) {
    refresh = (await on.sessions.refresh(refresh, undefined)).refresh_token;
    rotations++;
  }
  return Math.round(rotations / ((performance.now() - started) / 1000));
}
