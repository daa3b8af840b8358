// Portcullis in process in a Hono 4 app on Node (@hono/node-server).
// From the repository, after `npm run build`:   node examples/hono/server.mjs
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createHonoMiddleware, parsePolicy } from "portcullis/hono";

const policy = parsePolicy(
  { version: 1, routes: [{ name: "api", match: { path: "/**" }, limits: [{ name: "per-key", by: ["key"], rate: 60, per: "minute" }], shield: {} }] },
  "hono example",
);
const portcullis = await createHonoMiddleware({ policy });

const app = new Hono();
app.use(portcullis.handle);
app.all("*", async (c) => {
  const caller = c.get("portcullis");
  const body = c.req.method === "POST" ? await c.req.json() : null; // the bytes the shield read
  return c.json({ tenant: caller.tenantId, caller: caller.principal.id, body });
});

const { core } = portcullis.instance;
const tenant = await core.tenants.create("demo");
const { key } = await core.keys.create(tenant.id, { env: "test", scopes: [] });
const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" }, (info) => {
  console.error(`hono example listening on http://127.0.0.1:${info.port}`);
  console.error(`try: curl -s -H "X-API-Key: ${key}" http://127.0.0.1:${info.port}/hello`);
});
process.on("SIGTERM", () => server.close(() => portcullis.close().then(() => process.exit(0))));
