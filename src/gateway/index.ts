import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { adminOperations } from "../admin/operations.js";
import { createAdminHandler } from "../admin/server.js";
import { VERSION } from "../config/version.js";
import { decisionHandler } from "../front-ends/decision.js";
import { gatewayHandler } from "../front-ends/gateway.js";
import { Forwarder } from "../forward/forwarder.js";
import type { GuardObserver } from "../resilience/guard.js";
import type { IdentitySigner } from "../forward/identity-assertion.js";
import { securityHeaders } from "../headers/security-headers.js";
import { healthControl, SYSTEM_ROUTE } from "../health/health.js";
import type { Control } from "../pipeline/control.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { PolicyError } from "../policy/load.js";
import { jsonAnswer } from "../server/respond.js";
import { vaultEndpointControl } from "../vault/http-endpoint.js";
import { sessionEndpointsControl } from "../sessions/endpoints.js";
import type { WebhookDeliverer } from "../webhook-delivery/deliverer.js";
import { webhookEndpointsControl } from "../webhook-delivery/endpoints.js";
import { connectionEndpointsControl } from "../connections/endpoints.js";
import { auditEndpointControl } from "../audit/endpoint.js";
import { PortcullisCore, type CoreOptions } from "./core.js";
import { compileRoutes, controlsNeedingMore } from "./routes.js";

export { loadPolicyFile, parsePolicy, defaultPolicy, PolicyError } from "../policy/load.js";
export type { Policy } from "../policy/schema.js";
export { PortcullisCore, type CoreOptions } from "./core.js";

export interface GatewayOptions extends CoreOptions {
  /** Default upstream for routes that do not name their own; without any, only the decision API can serve. */
  upstream?: string | undefined;
  adminToken: string;
  production: boolean;
  /** Serve the decision API (nginx auth_request, Caddy forward_auth) too: every route must then work without the body. */
  decision?: boolean | undefined;
}

export interface Listening {
  /** The proxy's address; absent when the gateway was made without an upstream (decision API only). */
  url: string | undefined;
  adminUrl: string;
  decisionUrl?: string | undefined;
  /** The egress proxy's address, when an egress port was given. */
  egressUrl?: string | undefined;
}

export interface ListenOptions {
  port: number;
  host: string;
  adminPort: number;
  adminHost: string;
  decisionPort?: number | undefined;
  decisionHost?: string | undefined;
  /** Also serve the egress proxy (HTTPS_PROXY for upstreams) on this port. */
  egressPort?: number | undefined;
  egressHost?: string | undefined;
  /** Requests and tunnels one key may hold open through the egress proxy (default 64). */
  egressMaxPerClient?: number | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** One gateway node: the core, the proxy port, the decision port and the admin port. */
export class Gateway {
  private servers: Server[] = [];
  private deliverer: WebhookDeliverer | undefined;

  private constructor(
    readonly core: PortcullisCore,
    private readonly forwarder: Forwarder,
    readonly handler: Handler | undefined,
    readonly decisionHandler: Handler | undefined,
    readonly adminHandler: Handler,
  ) {}

  get db() {
    return this.core.db;
  }
  get tenants() {
    return this.core.tenants;
  }
  get keys() {
    return this.core.keys;
  }
  get vault() {
    return this.core.vault;
  }
  get counters() {
    return this.core.counters;
  }
  get blocking() {
    return this.core.blocking;
  }

  static async create(options: GatewayOptions): Promise<Gateway> {
    const core = await PortcullisCore.open(options);
    const forwarder = new Forwarder(core.signer, upstreamObserver(core));
    try {
      const { policy, logger } = core;
      const gatewayHeaders = securityHeaders({ frameOptions: "DENY", referrerPolicy: "no-referrer" }, options.production, true);
      const pathOptions = { allowTrailingDots: policy.paths.allowTrailingDots };
      const system = [healthControl(core.health, new Set(policy.health.public)), jwksControl(core.signer)];
      const proxies = options.upstream !== undefined || policy.upstream !== undefined || policy.routes.every((r) => r.forward.upstream !== undefined);
      const handler = proxies
        ? gatewayHandler({
            pipeline: new Pipeline(
              [
                ...system,
                ...core.beforeRouting(),
                sessionEndpointsControl({ sessions: core.sessions, authenticate: core.anyCredential(), logger, caseSensitive: policy.paths.caseSensitive }),
                ...(core.vault === undefined ? [] : [vaultEndpointControl({ vault: core.vault, authenticate: core.anyCredential(), logger, caseSensitive: policy.paths.caseSensitive, audit: core.audit, events: core.events })]),
                auditEndpointControl({ audit: core.audit, authenticate: core.anyCredential(), caseSensitive: policy.paths.caseSensitive }),
                ...(core.webhooks === undefined ? [] : [webhookEndpointsControl({ webhooks: core.webhooks, authenticate: core.anyCredential(), caseSensitive: policy.paths.caseSensitive })]),
                ...(core.connections === undefined || policy.connections.publicUrl === undefined
                  ? []
                  : [connectionEndpointsControl({ connections: core.connections, authenticate: core.anyCredential(), caseSensitive: policy.paths.caseSensitive, publicUrl: policy.connections.publicUrl })]),
              ],
              compileRoutes(policy, core.deps, { forwarder, production: options.production, upstream: options.upstream }),
              pathOptions,
            ),
            forwarder,
            gatewayHeaders,
            metrics: core.metrics,
            logger,
            clientIps: core.clientIps,
            blocking: core.blocking,
          })
        : undefined;
      let decision: Handler | undefined;
      if (options.decision === true) {
        const routes = compileRoutes(policy, core.deps);
        const refused = [...controlsNeedingMore(routes, "body"), ...controlsNeedingMore(routes, "response")];
        if (refused.length > 0) {
          throw new PolicyError("the policy, served by the decision API", refused.map((r) => `${r}, which the decision API never sees: serve this route through the gateway, or change it`));
        }
        decision = decisionHandler({ core, pipeline: new Pipeline(core.beforeRouting(), routes, pathOptions), gatewayHeaders, upstream: options.upstream });
      }
      if (handler === undefined && decision === undefined) {
        throw new Error(`route "${policy.routes.find((r) => r.forward.upstream === undefined)!.name}" has no upstream: pass --upstream or set upstream in the policy`);
      }
      const adminHandler = createAdminHandler({
        operations: adminOperations({
          tenants: core.tenants,
          tenantDirectory: core.tenantDirectory,
          keys: core.keys,
          keyAuthenticator: core.keyAuthenticator,
          vault: core.vault,
          limitOverrides: core.limitOverrides,
          ipRules: core.ipRules,
          blocking: core.blocking,
          events: core.events,
          quotas: core.quotas,
          sessions: core.sessions,
          roles: core.roles,
          webhooks: core.webhooks,
          audit: core.audit,
          signer: core.signer,
          policy,
          deletion: core.deletion,
          retention: core.retention,
          webhookStore: core.webhookStore,
          connections: core.connections,
        }),
        token: options.adminToken,
        audit: core.audit,
        tenantOfKey: (keyId) => core.keys.tenantOf(keyId),
        version: VERSION,
        gatewayHeaders,
        health: core.health,
        logger,
      });
      return new Gateway(core, forwarder, handler, decision, adminHandler);
    } catch (error) {
      await forwarder.close();
      await core.close();
      throw error;
    }
  }

  async listen(options: ListenOptions): Promise<Listening> {
    const { handler, decisionHandler } = this;
    const url = handler === undefined ? undefined : await this.serve((req, res) => void handler(req, res), options.port, options.host);
    const decisionUrl =
      decisionHandler === undefined
        ? undefined
        : await this.serve((req, res) => void decisionHandler(req, res), options.decisionPort ?? 0, options.decisionHost ?? options.host);
    const adminUrl = await this.serve((req, res) => void this.adminHandler(req, res), options.adminPort, options.adminHost);
    // A node that serves also delivers: outbound webhooks go out from every listening gateway, sharing the queue.
    this.deliverer ??= this.core.webhookDeliverer();
    this.deliverer?.start();
    if (this.core.policy.retention.enabled) this.core.retention.start();
    const egressUrl = options.egressPort === undefined ? undefined : await this.listenOn(this.core.egressProxy(options.egressMaxPerClient ?? 64), options.egressPort, options.egressHost ?? options.host);
    return { url, adminUrl, decisionUrl, egressUrl };
  }

  async close(): Promise<void> {
    const closed = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    // close() alone would wait for every keep-alive client to hang up.
    for (const server of this.servers) server.closeAllConnections();
    await Promise.all(closed);
    await this.deliverer?.stop();
    await this.forwarder.close();
    await this.core.close();
  }

  private serve(listener: Parameters<typeof createServer>[1], port: number, host: string): Promise<string> {
    return this.listenOn(createServer({ headersTimeout: 20_000, requestTimeout: 120_000, maxHeaderSize: 16_384 }, listener), port, host);
  }

  private listenOn(server: Server, port: number, host: string): Promise<string> {
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

/** The gateway's key set, for upstreams verifying the identity assertion. */
function jwksControl(signer: IdentitySigner): Control {
  return {
    name: "jwks",
    stage: "system",
    run(ctx) {
      if (ctx.target.rawPath !== "/.well-known/jwks.json" || (ctx.method !== "GET" && ctx.method !== "HEAD")) return;
      ctx.route = SYSTEM_ROUTE;
      ctx.answer = jsonAnswer(200, signer.jwks(), "application/jwk-set+json");
    },
  };
}

/** Circuit changes and retries, in metrics and (for the circuit) as events an operator is alerted to. */
function upstreamObserver(core: PortcullisCore): GuardObserver {
  return {
    circuitChanged: (upstream, state) => {
      core.metrics.circuitChanged(upstream, state);
      if (state === "open") core.events.emit({ type: "upstream_circuit_open", severity: "high", detail: { upstream } });
      if (state === "closed") core.events.emit({ type: "upstream_circuit_closed", severity: "info", detail: { upstream } });
    },
    retried: (upstream) => core.metrics.retried(upstream),
  };
}
