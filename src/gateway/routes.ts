import { tenantAddressListControl, type TenantIpRuleStore } from "../access/ip-access.js";
import { authorizeControl, type PermissionSource } from "../authorize/scopes.js";
import type { Forwarder, ForwardTarget } from "../forward/forwarder.js";
import { securityHeaders } from "../headers/security-headers.js";
import { authenticateControl, type AuthenticationMethod, type Authenticators } from "../identity/authenticate.js";
import { idempotencyControl } from "../idempotency/idempotency.js";
import { routeAuditControl } from "../audit/route-audit.js";
import type { AuditStore } from "../audit/store.js";
import type { IdempotencyStore } from "../idempotency/store.js";
import type { Logger } from "../observability/logger.js";
import type { Control } from "../pipeline/control.js";
import { routePlan, type RoutePlan } from "../pipeline/pipeline.js";
import type { Policy, RoutePolicy } from "../policy/schema.js";
import { quotaControl, type QuotaLedger } from "../quota/quota.js";
import { rateLimitControl, type RateLimitDeps } from "../rate-limit/rate-limit.js";
import { Router } from "../routing/router.js";
import { errorType } from "../util/error-type.js";
import { returnUrlControl } from "../return-url/return-url.js";
import { shieldControl } from "../shield/shield.js";
import { stepUpControl } from "../step-up/step-up.js";
import { webhookControl, webhookKeys } from "../webhooks/webhook.js";

/** A route as every front end runs it; the gateway's also knows where to forward. */
export interface CompiledRoute extends RoutePlan {
  /** Absent where nothing is forwarded (the decision API, framework adapters). */
  readonly target: ForwardTarget | undefined;
}

export interface ControlDeps {
  authenticators: Authenticators;
  limits: RateLimitDeps;
  quotas: QuotaLedger;
  ipRules: TenantIpRuleStore;
  idempotency: IdempotencyStore;
  audit: AuditStore;
  /** The permissions a caller's roles grant now (the store's roles, the policy's map). */
  permissions: PermissionSource;
  logger: Logger;
}

export interface ForwardingOptions {
  forwarder: Forwarder;
  production: boolean;
  /** From the command line; a route's own `forward.upstream` still takes precedence. */
  upstream: string | undefined;
}

/** Every authentication method the policy can check: JWT only with an issuer configured; gateway sessions always. */
export function configuredMethods(policy: Policy): AuthenticationMethod[] {
  return policy.jwt.issuers.length > 0 ? ["apiKey", "jwt", "session"] : ["apiKey", "session"];
}

/**
 * Turns the declarative policy into a router of ready-to-run routes. With `forwarding`, each route
 * also gets its upstream; without it (decision API, adapters) nothing is forwarded.
 */
export function compileRoutes(policy: Policy, deps: ControlDeps, forwarding?: ForwardingOptions): Router<CompiledRoute> {
  const router = new Router<CompiledRoute>(policy.paths.caseSensitive);
  for (const route of policy.routes) {
    const target =
      forwarding === undefined
        ? undefined
        : forwarding.forwarder.target(upstreamOf(route, policy, forwarding.upstream), route.forward, securityHeaders(route.headers, forwarding.production));
    router.add(route.match.path, route.match.methods, routePlan(route.name, routeControls(route, configuredMethods(policy), deps), { target }));
  }
  return router;
}

/** A route's controls, from its policy; the pipeline puts them in stage order. */
export function routeControls(route: RoutePolicy, allMethods: readonly AuthenticationMethod[], deps: ControlDeps): Control[] {
  const controls: Control[] = [];
  const authenticate = route.authenticate ?? { methods: allMethods, keyEnv: "any" as const };
  if (authenticate !== "none") controls.push(authenticateControl(authenticate, deps.authenticators), tenantAddressListControl(deps.ipRules));
  if (route.authorize !== undefined) controls.push(authorizeControl(route.authorize, deps.permissions));
  if (route.stepUp !== undefined) controls.push(stepUpControl(route.stepUp));
  if (route.limits.length > 0) controls.push(rateLimitControl(route.limits, deps.limits));
  if (route.webhook !== undefined) {
    let keys;
    try {
      keys = webhookKeys(route.webhook);
    } catch (error) {
      throw new Error(`route "${route.name}": ${(error as Error).message}`, { cause: error });
    }
    controls.push(webhookControl(route.webhook, keys, deps.limits));
  }
  // The shield's stage comes before the quota's: a request it refuses is not charged.
  if (route.shield !== undefined) controls.push(shieldControl(route.shield, deps.logger));
  if (route.returnUrl !== undefined) controls.push(returnUrlControl(route.returnUrl));
  if (route.idempotency !== undefined) {
    const { logger } = deps;
    controls.push(idempotencyControl(route.idempotency, deps.idempotency, (error) => logger.warn({ route: route.name, err_type: errorType(error) }, "idempotency record could not be written")));
  }
  if (route.quotas.length > 0) controls.push(quotaControl(route.quotas, deps.quotas));
  if (route.audit !== undefined) controls.push(routeAuditControl(route.audit, route.name, deps.audit));
  return controls;
}

/**
 * For front ends that never see the body or the answer (the decision API): every control a route
 * runs must work without them, or the route is refused, saying which control and why.
 */
export function controlsNeedingMore(router: Router<CompiledRoute>, what: "body" | "response"): string[] {
  const problems: string[] = [];
  for (const route of router.values()) {
    for (const control of route.controls) {
      const reason = what === "body" ? control.needsBody : control.needsResponse;
      if (reason !== undefined) problems.push(`route "${route.name}": ${reason}`);
    }
  }
  return problems;
}

function upstreamOf(route: RoutePolicy, policy: Policy, cliUpstream: string | undefined): string {
  const url = route.forward.upstream ?? cliUpstream ?? policy.upstream;
  if (url === undefined) throw new Error(`route "${route.name}" has no upstream: pass --upstream or set upstream in the policy`);
  return url;
}
