import { createHash } from "node:crypto";
import helmet from "helmet";
import express from "express";
import { rateLimit } from "express-rate-limit";
import { createProxyMiddleware } from "http-proxy-middleware";
import Fastify from "fastify";
import fastifyHelmet from "@fastify/helmet";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifyHttpProxy from "@fastify/http-proxy";

/**
 * What users write by hand instead of Portcullis, doing the same work as its key + limits +
 * forward chain: security headers, a rate limit per key, an API-key check, a reverse proxy.
 * `node hand-written-stacks.js express|fastify PORT UPSTREAM KEY`.
 */
const [kind, port, upstream, key] = process.argv.slice(2) as [string, string, string, string];
// A real check never keeps the keys themselves: their SHA-256, looked up.
const knownKeys = new Set([createHash("sha256").update(key).digest("hex")]);
const credentialOf = (authorization: string | undefined) => (authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined);
const isKnown = (credential: string | undefined) => credential !== undefined && knownKeys.has(createHash("sha256").update(credential).digest("hex"));
const LIMIT = { perSecond: 1_000_000 };

if (kind === "express") {
  const app = express();
  app.disable("x-powered-by");
  app.use(helmet());
  app.use((req, res, next) => (isKnown(credentialOf(req.headers.authorization)) ? next() : res.status(401).json({ code: "UNAUTHENTICATED" })));
  app.use(rateLimit({ windowMs: 1000, limit: LIMIT.perSecond, standardHeaders: "draft-8", legacyHeaders: false, keyGenerator: (req) => credentialOf(req.headers.authorization) ?? "" }));
  app.use(createProxyMiddleware({ target: upstream, changeOrigin: false }));
  app.listen(Number(port), "127.0.0.1", () => console.log("ready"));
} else {
  const app = Fastify();
  await app.register(fastifyHelmet);
  await app.register(fastifyRateLimit, { max: LIMIT.perSecond, timeWindow: 1000, keyGenerator: (request) => credentialOf(request.headers.authorization) ?? "" });
  app.addHook("onRequest", async (request, reply) => {
    if (!isKnown(credentialOf(request.headers.authorization))) return reply.code(401).send({ code: "UNAUTHENTICATED" });
  });
  await app.register(fastifyHttpProxy, { upstream });
  await app.listen({ port: Number(port), host: "127.0.0.1" });
  console.log("ready");
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
