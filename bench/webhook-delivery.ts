/**
 * Outbound webhook delivery throughput: messages per second from the queue to a local receiver
 * (another process, answering 204 at once), one node's workers (16 in flight, batches of 50),
 * on PGlite and on the Postgres server when it is reachable. The messages are queued first; the
 * clock runs from starting the workers to the last delivery recorded.
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createEgress } from "../src/egress/index.js";
import { createLogger } from "../src/observability/logger.js";
import { openDatabase } from "../src/store/index.js";
import { TenantStore } from "../src/tenants/store.js";
import { LocalKeyProvider } from "../src/vault/providers/local.js";
import { Vault } from "../src/vault/vault.js";
import { WebhookDeliverer, webhookDeliverySchema, WebhookService, WebhookStore } from "../src/webhook-delivery/index.js";

const MESSAGES = 2_000;

if (process.argv[2] === "receive") {
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as { port: number }).port));
} else {
  const receiver = fork(fileURLToPath(import.meta.url), ["receive"]);
  const [port] = (await once(receiver, "message")) as [number];
  const run = async (label: string, databaseUrl: string | undefined) => {
    const db = await openDatabase({ databaseUrl });
    const egress = createEgress({ schemes: ["http"], ports: { allow: [port] }, allowAddresses: ["127.0.0.1"] });
    const vault = new Vault(db, LocalKeyProvider.fromKeys(randomBytes(32)));
    const policy = webhookDeliverySchema.parse({ pollMs: 10 });
    const store = new WebhookStore(db);
    const service = new WebhookService(store, vault, egress, policy);
    const tenant = await new TenantStore(db).create("bench");
    await service.createEndpoint(tenant.id, { url: `http://127.0.0.1:${port}/hook` });
    for (let i = 0; i < MESSAGES; i++) await service.send(tenant.id, { eventType: "order.created", payload: { order: i, lines: "x".repeat(200) } });
    const deliverer = new WebhookDeliverer(store, vault, egress, policy, createLogger({ level: "silent" }));
    const started = performance.now();
    const cpu = process.cpuUsage();
    deliverer.start();
    for (;;) {
      const [row] = await db.asOwner((q) => q.query<{ n: number }>("select count(*)::int as n from webhook_deliveries where state <> 'delivered'"));
      if (row!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    await deliverer.stop();
    console.log("  %s %d messages/s   %s µs CPU per message in the delivering process", label.padEnd(10), Math.round(MESSAGES / seconds), ((used.user + used.system) / MESSAGES).toFixed(0));
    vault.close();
    await egress.close();
    await db.close();
  };
  console.log("outbound webhook delivery, %d queued messages, one node, 16 in flight:", MESSAGES);
  await run("PGlite", undefined);
  const server = "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `portcullis_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: server, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
    await admin.query(`create database ${name}`);
    try {
      await run("Postgres", server.replace(/\/postgres$/, `/${name}`));
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`);
    }
  } catch (error) {
    console.log("  Postgres   skipped: %s", (error as Error).message);
  } finally {
    await admin.end().catch(() => undefined);
  }
  receiver.kill();
}
