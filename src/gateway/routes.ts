import { tenantIpControl, type TenantIpRuleStore } from "../access/ip-access.js";
import { authorizeControl } from "../authorize/scopes.js";
import type { Forwarder, ForwardTarget } from "../forward/forwarder.js";
import { securityHeaders } from "../headers/security-headers.js";
import { authenticateControl, type Authenticators } from "../identity/authenticate.js";
import type { QuotaLedger } from "../limits/quota.js";
import { rateLimitControl, type RateLimitDeps } from "../limits/rate-limit.js";
import type { Logger } from "../observability/logger.js";
import type { Control } from "../pipeline/context.js";
import type { Policy, RoutePolicy } from "../policy/schema.js";
import { Router } from "../routing/router.js";
import { shieldControl } from "../shield/shield.js";

export interface CompiledRoute {
  name: string;
  controls: readonly Control[];
  target: ForwardTarget;
}

export interface CompileOptions {
  authenticators: Authenticators;
  forwarder: Forwarder;
  production: boolean;
  /** From the command line; a route's own `forward.upstream` still takes precedence. */
  upstream: string | undefined;
  limits: RateLimitDeps;
  quotas: QuotaLedger;
  ipRules: TenantIpRuleStore;
  logger: Logger;
}

/** Turns the declarative policy into a router of ready-to-run pipelines. */
export function compileRoutes(policy: Policy, options: CompileOptions): Router<CompiledRoute> {
  const router = new Router<CompiledRoute>(policy.paths.caseSensitive);
  const allMethods: ("apiKey" | "jwt")[] = policy.jwt.issuers.length > 0 ? ["apiKey", "jwt"] : ["apiKey"];
  for (const route of policy.routes) {
    router.add(route.match.path, route.match.methods, {
      name: route.name,
      controls: controlsOf(route, allMethods, options),
      target: options.forwarder.target(upstreamOf(route, policy, options.upstream), route.forward, securityHeaders(route.headers, options.production)),
    });
  }
  return router;
}

function controlsOf(route: RoutePolicy, allMethods: ("apiKey" | "jwt")[], options: CompileOptions): Control[] {
  const controls: Control[] = [];
  const authenticate = route.authenticate ?? { methods: allMethods, keyEnv: "any" as const };
  if (authenticate !== "none") controls.push(authenticateControl(authenticate, options.authenticators), tenantIpControl(options.ipRules));
  if (route.authorize !== undefined) controls.push(authorizeControl(route.authorize));
  if (route.limits.length > 0) controls.push(rateLimitControl(route.name, route.limits, options.limits));
  // The shield before quotas: a request it refuses is not charged.
  if (route.shield !== undefined) controls.push(shieldControl(route.name, route.shield, options.logger));
  if (route.quotas.length > 0) controls.push(options.quotas.control(route.quotas));
  return controls;
}

function upstreamOf(route: RoutePolicy, policy: Policy, cliUpstream: string | undefined): string {
  const url = route.forward.upstream ?? cliUpstream ?? policy.upstream;
  if (url === undefined) throw new Error(`route "${route.name}" has no upstream: pass --upstream or set upstream in the policy`);
  return url;
}
