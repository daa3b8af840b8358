// Portcullis in process in an Express 5 app: the policy's routes and controls run before yours.
// From the repository, after `npm run build`:   node examples/express/server.mjs
import express from "express";
import { createNodeMiddleware, parsePolicy } from "portcullis/node";

const policy = parsePolicy(
  {
    version: 1,
    routes: [
      { name: "health", match: { path: "/healthz", methods: ["GET"] }, authenticate: "none" },
      { name: "api", match: { path: "/**" }, limits: [{ name: "per-key", by: ["key"], rate: 60, per: "minute" }], shield: {} },
    ],
  },
  "express example",
);
// Embedded PGlite in memory; give `dataDir` (or `databaseUrl`) to keep tenants and keys.
const portcullis = await createNodeMiddleware({ policy });

const app = express();
app.use(portcullis.handle); // first: the shield reads the body before any parser
app.use(express.json()); // finds the body read and keeps the value Portcullis parsed
app.get("/healthz", (_req, res) => res.json({ ok: true }));
app.all("/{*rest}", (req, res) => res.json({ tenant: req.portcullis.tenantId, caller: req.portcullis.principal.id, body: req.body ?? null }));

const { core } = portcullis.instance;
const tenant = await core.tenants.create("demo");
const { key } = await core.keys.create(tenant.id, { env: "test", scopes: [] });
const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.error(`express example listening on http://127.0.0.1:${server.address().port}`);
  console.error(`try: curl -s -H "X-API-Key: ${key}" http://127.0.0.1:${server.address().port}/hello`);
});
process.on("SIGTERM", () => server.close(() => portcullis.close().then(() => process.exit(0))));
