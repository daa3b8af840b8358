import Fastify from "fastify";
import { portcullisFastify } from "../../src/adapters/fastify.js";
import { InProcessPortcullis, parsePolicy } from "../../src/adapters/in-process.js";
import { createLogger } from "../../src/observability/logger.js";

/**
 * A Fastify route answering a small JSON body: plain (`node fastify-app.js plain PORT`), or with
 * Portcullis's plugin in front running the benchmark policy (`… portcullis PORT POLICY_JSON`),
 * which prints the key it made. The difference is what the adapter costs a Fastify route.
 */
const [kind, port, policyJson] = process.argv.slice(2) as [string, string, string | undefined];
const app = Fastify();
let key = "";
if (kind === "portcullis") {
  const instance = await InProcessPortcullis.create({ policy: parsePolicy(JSON.parse(policyJson!), "bench"), logger: createLogger({ level: "warn" }) });
  const tenant = await instance.core.tenants.create("bench");
  key = (await instance.core.keys.create(tenant.id, { env: "live", scopes: ["read"] })).key;
  await app.register(portcullisFastify, { instance });
}
app.get("/*", async () => ({ ok: true, items: [1, 2, 3] }));
await app.listen({ port: Number(port), host: "127.0.0.1" });
console.log(`ready ${key}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
