import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { IpAccessList, tenantIpControl, TenantIpRuleStore } from "../access/ip-access.js";
import { adminOperations } from "../admin/operations.js";
import { ClientBlocking } from "../blocking/client-blocking.js";
import type { CounterStore } from "../counters/counter-store.js";
import { MemoryCounterStore } from "../counters/memory-store.js";
import { RedisCounterStore } from "../counters/redis-store.js";
import { OutageReporter, SecurityEvents } from "../events/security-events.js";
import { LimitOverrideStore } from "../limits/overrides.js";
import { QuotaLedger } from "../limits/quota.js";
import { ClientIpResolver } from "../net/client-ip.js";
import { createAdminHandler } from "../admin/server.js";
import { VERSION } from "../config/version.js";
import { Forwarder } from "../forward/forwarder.js";
import { IdentitySigner } from "../forward/identity-assertion.js";
import { Cors } from "../headers/cors.js";
import { securityHeaders } from "../headers/security-headers.js";
import type { HealthSources } from "../health/health.js";
import { ApiKeyAuthenticator } from "../identity/api-keys/authenticator.js";
import { ApiKeyStore } from "../identity/api-keys/store.js";
import { JwtVerifier } from "../identity/jwt/verifier.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { GatewayMetrics } from "../observability/metrics.js";
import type { Policy } from "../policy/schema.js";
import { createGatewayHandler } from "../server/gateway-handler.js";
import { openDatabase, type Database } from "../store/index.js";
import { TenantDirectory } from "../tenants/directory.js";
import { TenantStore } from "../tenants/store.js";
import { vaultEndpoint } from "../vault/http-endpoint.js";
import type { KeyProvider } from "../vault/providers/key-provider.js";
import { Vault } from "../vault/vault.js";
import { authenticateControl } from "../identity/authenticate.js";
import { compileRoutes } from "./routes.js";

export { loadPolicyFile, parsePolicy, defaultPolicy, PolicyError } from "../policy/load.js";
export type { Policy } from "../policy/schema.js";

export interface GatewayOptions {
  policy: Policy;
  /** Default upstream for routes that do not name their own. */
  upstream?: string | undefined;
  /** A Postgres server; embedded PGlite when absent. */
  databaseUrl?: string | undefined;
  /** PGlite files and generated keys; everything in memory when absent. */
  dataDir?: string | undefined;
  adminToken: string;
  production: boolean;
  logger?: Logger;
  /** How long a revocation made on another node may take to apply here. */
  keyStalenessMs?: number;
  /** Enables the vault (library and `/portcullis/v1/vault/secrets`); absent, the vault is off. */
  keyProvider?: KeyProvider | undefined;
  /** Hot counters (limits, blocks, events) shared with other nodes; this node's memory when absent. */
  redisUrl?: string | undefined;
  /** Prefix of every Redis key, so deployments or test runs sharing one Redis stay apart. */
  redisPrefix?: string | undefined;
}

export interface Listening {
  url: string;
  adminUrl: string;
}

/** One gateway node: the durable store, the controls, the proxy port and the admin port. */
export class Gateway {
  private servers: Server[] = [];

  private constructor(
    readonly db: Database,
    readonly tenants: TenantStore,
    readonly keys: ApiKeyStore,
    private readonly keyAuthenticator: ApiKeyAuthenticator,
    private readonly forwarder: Forwarder,
    readonly vault: Vault | undefined,
    readonly counters: CounterStore,
    readonly blocking: ClientBlocking,
    readonly handler: ReturnType<typeof createGatewayHandler>,
    readonly adminHandler: ReturnType<typeof createAdminHandler>,
  ) {}

  static async create(options: GatewayOptions): Promise<Gateway> {
    const logger = options.logger ?? createLogger();
    const db = await openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
    let counters: CounterStore | undefined;
    try {
      const store: CounterStore =
        options.redisUrl === undefined ? new MemoryCounterStore() : await RedisCounterStore.connect({ url: options.redisUrl, prefix: options.redisPrefix });
      counters = store;
      const events = new SecurityEvents({ store: counters, logger, alertWebhook: options.policy.events.alertWebhook });
      const blocking = new ClientBlocking(options.policy.blocking, counters, events);
      const limitOverrides = new LimitOverrideStore(db, options.keyStalenessMs);
      const quotas = new QuotaLedger(counters, events, logger);
      const ipRules = new TenantIpRuleStore(db, options.keyStalenessMs);
      const tenants = new TenantStore(db);
      const tenantDirectory = new TenantDirectory(tenants, options.keyStalenessMs);
      const keys = new ApiKeyStore(db);
      const keyAuthenticator = new ApiKeyAuthenticator(keys, { maxStalenessMs: options.keyStalenessMs });
      const jwt = new JwtVerifier(options.policy.jwt.issuers, tenantDirectory);
      const signer = await IdentitySigner.load(options.dataDir);
      const forwarder = new Forwarder(signer);
      const metrics = new GatewayMetrics();
      const gatewayHeaders = securityHeaders({ frameOptions: "DENY", referrerPolicy: "no-referrer" }, options.production, true);
      const health: HealthSources = {
        version: VERSION,
        startedAt: Date.now(),
        stores: { durable: db.kind, counters: counters.kind, vault: options.keyProvider?.name ?? "disabled" },
        ping: () => db.ping(),
        checks: {
          counters: () => store.ping(),
          ...(options.keyProvider === undefined ? {} : { key_provider: () => options.keyProvider!.health() }),
        },
        metrics,
      };
      const authenticators = { apiKeys: keyAuthenticator, jwt };
      const vault = options.keyProvider === undefined ? undefined : new Vault(db, options.keyProvider);
      const router = compileRoutes(options.policy, {
        authenticators,
        forwarder,
        production: options.production,
        upstream: options.upstream,
        limits: { store: counters, fallback: new MemoryCounterStore(), overrides: limitOverrides, events, outage: new OutageReporter(events, counters.kind) },
        quotas,
        ipRules,
        logger,
      });
      const authenticateAny = authenticateControl({ methods: options.policy.jwt.issuers.length > 0 ? ["apiKey", "jwt"] : ["apiKey"], keyEnv: "any" }, authenticators);
      const checkTenantIp = tenantIpControl(ipRules);
      const handler = createGatewayHandler({
        router,
        cors: new Cors(options.policy.cors),
        gatewayHeaders,
        forwarder,
        signer,
        health,
        publicHealth: new Set(options.policy.health.public),
        metrics,
        logger,
        clientIps: new ClientIpResolver(options.policy.clients.trustedProxies, options.policy.clients.ipv6Prefix),
        ipAccess: IpAccessList.from(options.policy.ipAccess),
        blocking,
        ...(vault === undefined
          ? {}
          : {
              vault: vaultEndpoint({
                vault,
                authenticate: async (ctx) => {
                  await authenticateAny(ctx);
                  await checkTenantIp(ctx);
                },
                logger,
              }),
            }),
      });
      const adminHandler = createAdminHandler({
        operations: adminOperations({ tenants, tenantDirectory, keys, keyAuthenticator, vault, limitOverrides, ipRules, blocking, events, quotas, policy: options.policy }),
        token: options.adminToken,
        version: VERSION,
        gatewayHeaders,
        health,
        logger,
      });
      return new Gateway(db, tenants, keys, keyAuthenticator, forwarder, vault, counters, blocking, handler, adminHandler);
    } catch (error) {
      await counters?.close();
      await db.close();
      throw error;
    }
  }

  async listen(options: { port: number; host: string; adminPort: number; adminHost: string }): Promise<Listening> {
    const url = await this.serve((req, res) => void this.handler(req, res), options.port, options.host);
    const adminUrl = await this.serve((req, res) => void this.adminHandler(req, res), options.adminPort, options.adminHost);
    return { url, adminUrl };
  }

  async close(): Promise<void> {
    const closed = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    // close() alone would wait for every keep-alive client to hang up.
    for (const server of this.servers) server.closeAllConnections();
    await Promise.all(closed);
    await this.keyAuthenticator.close();
    this.vault?.close();
    await this.forwarder.close();
    await this.counters.close();
    await this.db.close();
  }

  private serve(listener: Parameters<typeof createServer>[1], port: number, host: string): Promise<string> {
    const server = createServer({ headersTimeout: 20_000, requestTimeout: 120_000, maxHeaderSize: 16_384 }, listener);
    server.on("clientError", (_error, socket) => {
      // Malformed HTTP never reaches a handler; answer it plainly instead of leaving it hanging.
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      else socket.destroy();
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        const address = server.address() as AddressInfo;
        const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
        resolve(`http://${shownHost}:${address.port}`);
      });
    });
  }
}
