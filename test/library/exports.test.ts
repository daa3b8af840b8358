import assert from "node:assert/strict";
import { test } from "node:test";

/** The package's subpath exports resolve by name (Node's self-reference) and carry what README shows. */
test("every documented subpath export loads and has its entry points", async () => {
  const expected: Record<string, string[]> = {
    "portcullis/gateway": ["Gateway", "parsePolicy", "loadPolicyFile"],
    "portcullis/api-keys": ["ApiKeyStore", "ApiKeyAuthenticator", "extractCredential"],
    "portcullis/jwt": ["JwtVerifier"],
    "portcullis/tenancy": ["openDatabase", "findTablesWithoutRls", "checkRls", "withTenantTransaction"],
    "portcullis/problem": ["Problem", "sendProblem", "toProblem"],
    "portcullis/identity-assertion": ["createIdentityVerifier"],
    "portcullis/vault": ["Vault", "LocalKeyProvider", "Pkcs11KeyProvider", "AwsKmsKeyProvider", "VaultTransitKeyProvider", "keyProviderFromEnv"],
    "portcullis/limits": ["MemoryCounterStore", "RedisCounterStore", "ClientIpResolver", "IpSet", "parseIp", "quotaPeriod"],
    "portcullis/shield": ["Detector", "Inspection", "normalizeForDetection", "ATTACK_CLASSES", "FieldExclusions"],
  };
  for (const [specifier, names] of Object.entries(expected)) {
    const module = (await import(specifier)) as Record<string, unknown>;
    for (const name of names) assert.ok(module[name] !== undefined, `${specifier} exports ${name}`);
  }
});

test("the limits and shield library entry points work as the README shows", async () => {
  const { MemoryCounterStore, IpSet, parseIp } = await import("portcullis/limits");
  const { Detector, Inspection } = await import("portcullis/shield");
  const store = new MemoryCounterStore();
  const rule = { intervalUs: 100_000, burst: 2 };
  const decisions = [await store.gcra("c", rule, 1), await store.gcra("c", rule, 1), await store.gcra("c", rule, 1)];
  assert.deepEqual(decisions.map((d) => d.allowed), [true, true, false]);
  assert.ok(IpSet.parse(["192.0.2.0/24"]).has(parseIp("::ffff:192.0.2.9")!));
  const inspection = new Inspection({ maxJsonDepth: 32, maxJsonKeys: 1000, maxFieldLength: 8192, maxUrls: 5, maxPhoneNumbers: 3, detector: new Detector({ classes: new Set(["xss"]) }) });
  inspection.json("body", { comment: "<svg onload=alert(1)>" });
  assert.deepEqual(inspection.finish().map((f) => [f.check, f.field]), [["xss", "body.comment"]]);
});

test("every control is its own export: its factory, its options schema, nothing of another folder's", async () => {
  const controls: Record<string, string[]> = {
    "portcullis/address-lists": ["addressListControl", "tenantAddressListControl", "addressListsSchema"],
    "portcullis/blocking": ["blockingControl", "blockingSchema"],
    "portcullis/cors": ["corsControl", "corsSchema"],
    "portcullis/routing": ["methodControl", "Router", "parseRequestTarget"],
    "portcullis/authenticate": ["authenticateControl", "authenticateSchema", "extractCredential"],
    "portcullis/authorize": ["authorizeControl", "authorizeSchema"],
    "portcullis/step-up": ["stepUpControl", "stepUpSchema"],
    "portcullis/roles": ["RoleStore", "rolesSchema", "subjectOf"],
    "portcullis/return-url": ["returnUrlControl", "returnUrlSchema", "isAllowedReturnUrl"],
    "portcullis/idempotency": ["idempotencyControl", "idempotencySchema", "IdempotencyStore", "idempotencyKeyOf"],
    "portcullis/webhooks": ["webhookControl", "webhookSchema", "verifyStandardWebhook", "verifyStripeWebhook", "parseWebhookKey"],
    "portcullis/egress": ["createEgress", "Egress", "EgressError", "egressSchema", "classifyAddress"],
    "portcullis/resilience": ["UpstreamGuard", "resilienceSchema", "CircuitOpenError"],
    "portcullis/audit": ["AuditStore", "auditInputSchema", "chainHash", "genesis"],
    "portcullis/connections": ["Connections", "ConnectionStore", "connectionsSchema", "connectionEndpointsControl"],
    "portcullis/webhook-delivery": ["WebhookService", "WebhookStore", "WebhookDeliverer", "signStandardWebhook", "webhookDeliverySchema"],
    "portcullis/sessions": ["Sessions", "SessionStore", "SessionTokens", "sessionsSchema", "sessionEndpointsControl"],
    "portcullis/rate-limit": ["rateLimitControl", "rateLimitSchema", "LimitOverrideStore"],
    "portcullis/shield": ["shieldControl", "shieldSchema"],
    "portcullis/quota": ["quotaControl", "quotaSchema", "QuotaLedger"],
    "portcullis/forward": ["Forwarder", "forwardSchema", "IdentitySigner"],
    "portcullis/security-headers": ["securityHeaders", "headersSchema"],
    "portcullis/health": ["healthControl", "healthSchema"],
    "portcullis/pipeline": ["Pipeline", "routePlan", "createContext", "STAGES"],
    "portcullis/counters": ["MemoryCounterStore", "RedisCounterStore"],
    "portcullis/node": ["createNodeMiddleware", "InProcessPortcullis", "parsePolicy"],
    "portcullis/fastify": ["portcullisFastify", "InProcessPortcullis"],
    "portcullis/hono": ["createHonoMiddleware", "InProcessPortcullis"],
  };
  for (const [specifier, names] of Object.entries(controls)) {
    const module = (await import(specifier)) as Record<string, unknown>;
    for (const name of names) assert.ok(module[name] !== undefined, `${specifier} exports ${name}`);
  }
});
