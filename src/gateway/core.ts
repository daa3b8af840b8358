import { addressListControl, tenantAddressListControl, TenantIpRuleStore } from "../access/ip-access.js";
import { blockingControl, ClientBlocking } from "../blocking/client-blocking.js";
import { VERSION } from "../config/version.js";
import { corsControl } from "../cors/cors.js";
import type { CounterStore } from "../counters/counter-store.js";
import { MemoryCounterStore } from "../counters/memory-store.js";
import { RedisCounterStore } from "../counters/redis-store.js";
import type { Server } from "node:http";
import { Egress } from "../egress/egress.js";
import { createEgressProxy } from "../egress/proxy.js";
import { AuditStore } from "../audit/store.js";
import { Connections } from "../connections/connections.js";
import { ConnectionStore } from "../connections/store.js";
import { RetentionSweep } from "../retention/sweep.js";
import { logRedactor } from "../observability/log-redaction.js";
import { Redactor } from "../redact/redactor.js";
import { TenantDeletion } from "../tenants/deletion.js";
import { WebhookDeliverer } from "../webhook-delivery/deliverer.js";
import { WebhookService } from "../webhook-delivery/service.js";
import { WebhookStore } from "../webhook-delivery/store.js";
import { OutageReporter, SecurityEvents } from "../events/security-events.js";
import { IdentitySigner } from "../forward/identity-assertion.js";
import type { HealthSources } from "../health/health.js";
import { IdempotencyStore } from "../idempotency/store.js";
import { Sessions } from "../sessions/sessions.js";
import { RoleStore } from "../roles/roles.js";
import type { PermissionSource } from "../authorize/scopes.js";
import { SessionStore } from "../sessions/store.js";
import { ApiKeyAuthenticator } from "../identity/api-keys/authenticator.js";
import { ApiKeyStore } from "../identity/api-keys/store.js";
import { authenticateControl } from "../identity/authenticate.js";
import { JwtVerifier } from "../identity/jwt/verifier.js";
import { ClientIpResolver } from "../net/client-ip.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { GatewayMetrics } from "../observability/metrics.js";
import type { Control } from "../pipeline/control.js";
import type { Policy } from "../policy/schema.js";
import { QuotaLedger } from "../quota/quota.js";
import { LimitOverrideStore } from "../rate-limit/overrides.js";
import { methodControl } from "../routing/method.js";
import { openDatabase, type Database } from "../store/index.js";
import { TenantDirectory } from "../tenants/directory.js";
import { TenantStore } from "../tenants/store.js";
import type { KeyProvider } from "../vault/providers/key-provider.js";
import { Vault } from "../vault/vault.js";
import { configuredMethods, type ControlDeps } from "./routes.js";

/**
 * The permissions a caller's roles grant, as the store has the roles now. Memoised per role set:
 * the role cache hands out the same set while it is fresh.
 */
function permissionSource(roles: RoleStore, policy: Policy): PermissionSource {
  const granted = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();
  const permissionsOf = (held: ReadonlySet<string>): ReadonlySet<string> => {
    let permissions = granted.get(held);
    if (permissions === undefined) {
      permissions = new Set([...held].flatMap((role) => (Object.hasOwn(policy.roles, role) ? policy.roles[role]! : [])));
      granted.set(held, permissions);
    }
    return permissions;
  };
  return (principal) => {
    const held = roles.rolesFor(principal);
    return held instanceof Promise ? held.then(permissionsOf) : permissionsOf(held);
  };
}

/** Diffs in the trail: personal values hashed under each tenant's key (a change still shows), credentials masked. */
function auditRedactor(signer: IdentitySigner): Redactor {
  const hashed = ["email", "phone", "card", "iban", "ssn", "ip"] as const;
  return new Redactor({ entities: Object.fromEntries(hashed.map((e) => [e, "hash"])) }, signer.deriveKey("audit diff redaction v1"));
}

export interface CoreOptions {
  policy: Policy;
  /** A Postgres server; embedded PGlite when absent. */
  databaseUrl?: string | undefined;
  /** PGlite files and generated keys; everything in memory when absent. */
  dataDir?: string | undefined;
  logger?: Logger | undefined;
  /** How long a revocation made on another node may take to apply here. */
  keyStalenessMs?: number | undefined;
  /** Enables the vault; absent, the vault is off. */
  keyProvider?: KeyProvider | undefined;
  /** Hot counters (limits, blocks, events) shared with other nodes; this node's memory when absent. */
  redisUrl?: string | undefined;
  /** Prefix of every Redis key, so deployments or test runs sharing one Redis stay apart. */
  redisPrefix?: string | undefined;
}

/**
 * What every front end runs on: the stores, the services the controls use, and the controls that
 * come before routing. The gateway, the decision API and the framework adapters each build their
 * pipeline from one of these, so a policy means the same whichever of them serves it.
 */
export class PortcullisCore {
  readonly deps: ControlDeps;
  readonly clientIps: ClientIpResolver;
  readonly health: HealthSources;
  readonly sessions: Sessions;
  readonly roles: RoleStore;
  /** Every outbound call the gateway makes for a tenant, and the egress proxy, go through this. */
  readonly egress: Egress;
  /** Outbound webhooks; present while the vault is on, since it keeps their signing secrets. */
  readonly webhooks: WebhookService | undefined;
  readonly webhookStore: WebhookStore;
  /** OAuth connections; present while the vault is on, since it keeps their tokens. */
  readonly connections: Connections | undefined;
  readonly deletion: TenantDeletion;
  readonly retention: RetentionSweep;

  private constructor(
    readonly policy: Policy,
    readonly logger: Logger,
    readonly db: Database,
    readonly counters: CounterStore,
    readonly events: SecurityEvents,
    readonly audit: AuditStore,
    readonly blocking: ClientBlocking,
    readonly tenants: TenantStore,
    readonly tenantDirectory: TenantDirectory,
    readonly keys: ApiKeyStore,
    readonly keyAuthenticator: ApiKeyAuthenticator,
    readonly limitOverrides: LimitOverrideStore,
    readonly quotas: QuotaLedger,
    readonly ipRules: TenantIpRuleStore,
    readonly idempotency: IdempotencyStore,
    readonly signer: IdentitySigner,
    readonly metrics: GatewayMetrics,
    readonly vault: Vault | undefined,
    jwt: JwtVerifier,
    keyProvider: KeyProvider | undefined,
    keyStalenessMs: number | undefined,
  ) {
    this.clientIps = new ClientIpResolver(policy.clients.trustedProxies, policy.clients.ipv6Prefix);
    this.sessions = new Sessions(new SessionStore(db), policy.sessions, tenantDirectory, events, signer.deriveKey("session tokens v1"), Math.min(1_000, keyStalenessMs ?? 1_000));
    this.roles = new RoleStore(db, Math.min(1_000, keyStalenessMs ?? 1_000));
    this.egress = new Egress(policy.egress, { events, observer: metrics });
    this.webhookStore = new WebhookStore(db);
    this.webhooks = vault === undefined ? undefined : new WebhookService(this.webhookStore, vault, this.egress, policy.webhookDelivery);
    if (vault === undefined && Object.keys(policy.connections.providers).length > 0) {
      throw new Error("connections.providers needs the vault, which keeps the connections' tokens: configure a key provider (PORTCULLIS_KEY_PROVIDER)");
    }
    this.connections = vault === undefined ? undefined : new Connections(policy.connections, new ConnectionStore(db), vault, this.egress, signer.deriveKey("connection state v1"), events, logger);
    this.deletion = new TenantDeletion({ db, tenants, tenantDirectory, keyAuthenticator, audit: this.audit, vault, connections: this.connections, logger });
    this.retention = new RetentionSweep(policy.retention, { db, counters, audit: this.audit, deletion: this.deletion, logger });
    this.deps = {
      permissions: permissionSource(this.roles, policy),
      authenticators: { apiKeys: keyAuthenticator, jwt, sessions: this.sessions },
      limits: { store: counters, fallback: new MemoryCounterStore(), overrides: limitOverrides, events, outage: new OutageReporter(events, counters.kind) },
      quotas,
      ipRules,
      idempotency,
      audit: this.audit,
      logger,
    };
    if (policy.routes.some((route) => route.idempotency !== undefined)) idempotency.startSweeping();
    this.health = {
      version: VERSION,
      startedAt: Date.now(),
      stores: { durable: db.kind, counters: counters.kind, vault: keyProvider?.name ?? "disabled" },
      ping: () => db.ping(),
      checks: {
        counters: () => counters.ping(),
        ...(keyProvider === undefined ? {} : { key_provider: () => keyProvider.health() }),
      },
      metrics,
    };
  }

  static async open(options: CoreOptions): Promise<PortcullisCore> {
    const { policy } = options;
    const logger = options.logger ?? createLogger({ redactor: logRedactor(policy.logs.redact) });
    const db = await openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
    let counters: CounterStore | undefined;
    try {
      counters = options.redisUrl === undefined ? new MemoryCounterStore() : await RedisCounterStore.connect({ url: options.redisUrl, prefix: options.redisPrefix });
      const events = new SecurityEvents({ store: counters, logger, alertWebhook: policy.events.alertWebhook, redactor: logRedactor(policy.logs.redact) });
      const tenants = new TenantStore(db);
      const tenantDirectory = new TenantDirectory(tenants, options.keyStalenessMs);
      const keys = new ApiKeyStore(db);
      const signer = await IdentitySigner.load(options.dataDir);
      const audit = new AuditStore(db, auditRedactor(signer));
      return new PortcullisCore(
        policy,
        logger,
        db,
        counters,
        events,
        audit,
        new ClientBlocking(policy.blocking, counters, events, audit),
        tenants,
        tenantDirectory,
        keys,
        new ApiKeyAuthenticator(keys, { maxStalenessMs: options.keyStalenessMs }),
        new LimitOverrideStore(db, options.keyStalenessMs),
        new QuotaLedger(counters, events, logger),
        new TenantIpRuleStore(db, options.keyStalenessMs),
        new IdempotencyStore(db),
        signer,
        new GatewayMetrics(),
        options.keyProvider === undefined ? undefined : new Vault(db, options.keyProvider),
        new JwtVerifier(policy.jwt.issuers, tenantDirectory, (issuer, kid, reason) =>
          events.emit({ type: "jwks_key_refused", severity: "high", detail: { issuer, kid: kid ?? "(none)", reason } }),
        ),
        options.keyProvider,
        options.keyStalenessMs,
      );
    } catch (error) {
      await counters?.close();
      await db.close();
      throw error;
    }
  }

  /** The stages before routing every front end runs: address lists, blocks, CORS, method. */
  beforeRouting(): Control[] {
    return [addressListControl(this.policy.ipAccess), blockingControl(this.blocking), corsControl(this.policy.cors), methodControl()];
  }

  /** Any credential by any configured method, then the tenant's address lists: for endpoints outside the routes (the vault). */
  anyCredential(): Control[] {
    return [authenticateControl({ methods: configuredMethods(this.policy), keyEnv: "any" }, this.deps.authenticators), tenantAddressListControl(this.ipRules)];
  }

  /** This node's delivery workers for outbound webhooks; undefined while the vault is off or delivery is turned off. */
  webhookDeliverer(): WebhookDeliverer | undefined {
    if (this.vault === undefined || !this.policy.webhookDelivery.enabled) return undefined;
    return new WebhookDeliverer(this.webhookStore, this.vault, this.egress, this.policy.webhookDelivery, this.logger);
  }

  /** The egress proxy on this core's key store and egress rules; its metrics are the gateway's. */
  egressProxy(maxConcurrentPerClient: number): Server {
    return createEgressProxy({
      egress: this.egress,
      authenticate: (key) => this.keyAuthenticator.authenticate(key),
      maxConcurrentPerClient,
      logger: this.logger,
      events: this.events,
      registry: this.metrics.registry,
    });
  }

  async close(): Promise<void> {
    await this.retention.stop();
    await this.egress.close();
    await this.keyAuthenticator.close();
    this.idempotency.close();
    this.vault?.close();
    await this.counters.close();
    await this.db.close();
  }
}
