// Portcullis in process in a Fastify 5 app, as a plugin on every route.
// From the repository, after `npm run build`:   node examples/fastify/server.mjs
import Fastify from "fastify";
import { InProcessPortcullis, parsePolicy, portcullisFastify } from "portcullis/fastify";

const policy = parsePolicy(
  { version: 1, routes: [{ name: "api", match: { path: "/**" }, limits: [{ name: "per-key", by: ["key"], rate: 60, per: "minute" }], shield: {} }] },
  "fastify example",
);
const portcullis = await InProcessPortcullis.create({ policy });

const app = Fastify();
await app.register(portcullisFastify, { instance: portcullis });
app.all("/*", async (request) => ({ tenant: request.portcullis.tenantId, caller: request.portcullis.principal.id, body: request.body ?? null }));
app.addHook("onClose", () => portcullis.close());

const tenant = await portcullis.core.tenants.create("demo");
const { key } = await portcullis.core.keys.create(tenant.id, { env: "test", scopes: [] });
const url = await app.listen({ port: Number(process.env.PORT ?? 3000), host: "127.0.0.1" });
console.error(`fastify example listening on ${url}`);
console.error(`try: curl -s -H "X-API-Key: ${key}" ${url}/hello`);
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
