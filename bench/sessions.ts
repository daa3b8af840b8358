/**
 * Session access tokens against API keys at the authenticate stage, in this run: CPU per
 * authentication through the same control, both warm (the key's and the session's caches fresh),
 * interleaved rounds, medians. Then refresh-token rotations per second on PGlite, one after
 * another (each is a locked read and an update of the session's row). This measures the stage,
 * not a whole proxied request: the gateway benchmark's per-request CPU is several times larger,
 * so a ratio here bounds the ratio there from above.
 */
import { PortcullisCore } from "../src/gateway/core.js";
import { authenticateControl } from "../src/identity/authenticate.js";
import { createContext } from "../src/pipeline/context.js";
import { parseIp } from "../src/net/ip.js";
import { defaultPolicy } from "../src/policy/load.js";
import { sessionRequestSchema } from "../src/sessions/sessions.js";

const ROUNDS = 5;
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
  console.log("  session access token    %s   ratio %s (goal ≤ 1.1 at route level)", median(sessions).toFixed(2), (median(sessions) / median(keys)).toFixed(2));

  let refresh = pair.refresh_token;
  const started = performance.now();
  let rotations = 0;
  while (performance.now() - started < 2_000) {
    refresh = (await core.sessions.refresh(refresh, undefined)).refresh_token;
    rotations++;
  }
  console.log("refresh-token rotations per second, PGlite, sequential: %d", Math.round(rotations / ((performance.now() - started) / 1000)));
} finally {
  await core.close();
}
