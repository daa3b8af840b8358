import { z } from "zod";
import { IpAccessList, type TenantIpRuleStore } from "../access/ip-access.js";
import type { ClientBlocking } from "../blocking/client-blocking.js";
import type { SecurityEvents } from "../events/security-events.js";
import type { LimitOverrideStore } from "../rate-limit/overrides.js";
import type { QuotaLedger } from "../quota/quota.js";
import { POLICY_NAME } from "../pipeline/names.js";
import type { Policy } from "../policy/schema.js";
import { parseIp } from "../net/ip.js";
import { Problem } from "../problem/index.js";
import { isUuid } from "../store/index.js";
import type { ApiKeyAuthenticator } from "../identity/api-keys/authenticator.js";
import type { ApiKeyInfo, ApiKeyStore } from "../identity/api-keys/store.js";
import type { TenantDirectory } from "../tenants/directory.js";
import { SYSTEM_TENANT, type TenantStore } from "../tenants/store.js";
import { lifecycleOperations, refuseWhileDeleting, tenantSchema, tenantView, type LifecycleServices } from "./tenant-lifecycle.js";
import type { Vault } from "../vault/vault.js";
import type { WebhookService } from "../webhook-delivery/service.js";
import { exportTrail, type AuditFilter, type AuditRecord, type AuditStore } from "../audit/index.js";
import type { IdentitySigner } from "../forward/identity-assertion.js";
import type { Sessions } from "../sessions/sessions.js";
import type { SessionRow } from "../sessions/store.js";
import { ROLE_NAME, type RoleStore, type SubjectKind } from "../roles/roles.js";

export interface AdminServices {
  tenants: TenantStore;
  tenantDirectory: TenantDirectory;
  keys: ApiKeyStore;
  keyAuthenticator: ApiKeyAuthenticator;
  /** Present while the vault is on; its operations are offered only then. */
  vault?: Vault | undefined;
  limitOverrides: LimitOverrideStore;
  ipRules: TenantIpRuleStore;
  blocking: ClientBlocking;
  events: SecurityEvents;
  quotas: QuotaLedger;
  sessions: Sessions;
  roles: RoleStore;
  /** Present while the vault is on (it keeps their secrets). */
  webhooks?: WebhookService | undefined;
  audit: AuditStore;
  /** Signs audit checkpoints. */
  signer: IdentitySigner;
  /** For the quotas it names. */
  policy: Policy;
}

const scope = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/);
const MAX_SECONDS = 10 * 365 * 86_400;
const DEFAULT_GRACE_SECONDS = 86_400;

const keyInfoSchema = z.object({
  id: z.uuid(),
  tenant_id: z.uuid(),
  env: z.enum(["live", "test"]),
  prefix: z.string(),
  scopes: z.array(z.string()),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  rotated_to: z.uuid().nullable(),
});
const issuedKeySchema = keyInfoSchema.extend({ key: z.string().describe("The key itself, shown this once and never again.") });

export interface AdminOperation {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  operationId: string;
  summary: string;
  status: number;
  body?: z.ZodType;
  response: z.ZodType;
  /**
   * How the admin server records a mutation: by default with its result as the diff's "after";
   * `self` when the operation writes its own records (tenant deletion's steps), `without-result`
   * when the result is data taken out rather than a state (an export).
   */
  audit?: "self" | "without-result";
  /** Filters and cursors come as query parameters; the operation validates the ones it reads. */
  run(params: Record<string, string>, body: unknown, query: URLSearchParams, requestId?: string): Promise<unknown>;
}

const dekStatusSchema = z.object({
  version: z.number().int(),
  destroyed: z.boolean(),
  provider: z.string(),
  kek_id: z.string(),
  encryptions: z.number().int(),
  secrets: z.number().int(),
  created_at: z.string(),
});

/** The admin API, declared once: the server dispatches on it and the OpenAPI document is made from it. */
export function adminOperations(s: AdminServices & LifecycleServices): AdminOperation[] {
  return [
    ...tenantAndKeyOperations(s),
    ...lifecycleOperations(s),
    ...limitOperations(s),
    ...sessionOperations(s),
    ...roleOperations(s),
    ...(s.vault === undefined ? [] : vaultOperations(s.vault, s.tenants)),
    ...(s.webhooks === undefined ? [] : webhookOperations(s.webhooks, s.tenants)),
    ...auditOperations(s),
  ].map((op) => refuseWhileDeleting(s, op));
}

const overrideSchema = z.object({
  limit_name: z.string(),
  rate: z.number().int(),
  period_seconds: z.number().int(),
  burst: z.number().int().nullable(),
});
const cidrList = z.array(z.string().max(64)).max(100_000);
const ipRulesSchema = z.object({ allow: z.array(z.string()), deny: z.array(z.string()) });
const blockSchema = z.object({ client: z.string(), until: z.string() });
const clientAddress = z.string().refine((v) => parseIp(v) !== undefined, "must be an IPv4 or IPv6 address");

const sessionSchema = z.object({
  id: z.uuid(),
  subject: z.string(),
  client_id: z.string().nullable(),
  roles: z.array(z.string()),
  scopes: z.array(z.string()),
  acr: z.string().nullable(),
  amr: z.array(z.string()),
  auth_time: z.string(),
  created_at: z.string(),
  last_rotated_at: z.string(),
  idle_expires_at: z.string(),
  absolute_expires_at: z.string(),
});

const SUBJECT_KINDS = new Map<string, SubjectKind>([
  ["users", "user"],
  ["keys", "key"],
]);

function roleOperations(s: AdminServices): AdminOperation[] {
  const target = async ({ id, kind, subject }: Record<string, string>) => {
    await s.tenants.get(id!);
    const subjectKind = SUBJECT_KINDS.get(kind!);
    if (subjectKind === undefined) throw new Problem("NOT_FOUND", "Roles are held by users or keys.");
    if (subject!.length > 256) throw new Problem("BAD_REQUEST", "A subject is at most 256 characters.");
    return { tenantId: id!, kind: subjectKind, subject: subject! };
  };
  const rolesAnswer = z.object({ roles: z.array(z.string()) });
  return [
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/roles/:kind/:subject",
      operationId: "getRoles",
      summary: "The roles a user (kind users, by token subject) or an API key (kind keys, by key id) holds in this tenant",
      status: 200,
      response: rolesAnswer,
      run: async (params) => {
        const t = await target(params);
        return { roles: await s.roles.rolesOf(t.tenantId, t.kind, t.subject) };
      },
    },
    {
      method: "PUT",
      path: "/admin/v1/tenants/:id/roles/:kind/:subject",
      operationId: "setRoles",
      summary: "Replace a user's or key's roles; every node applies the change within a second, whatever tokens claim",
      status: 200,
      body: z.strictObject({ roles: z.array(z.string().regex(ROLE_NAME)).max(64) }),
      response: rolesAnswer,
      run: async (params, body) => {
        const t = await target(params);
        const roles = (body as { roles: string[] }).roles;
        const unknown = roles.filter((role) => !Object.hasOwn(s.policy.roles, role));
        // A role the policy does not define would be stored and grant nothing.
        if (unknown.length > 0) throw new Problem("BAD_REQUEST", `The policy defines no role ${unknown.map((r) => `"${r}"`).join(", ")}.`);
        return { roles: await s.roles.set(t.tenantId, t.kind, t.subject, roles) };
      },
    },
  ];
}

function sessionView(r: SessionRow) {
  return {
    id: r.id,
    subject: r.subject,
    client_id: r.client_id,
    roles: r.roles,
    scopes: r.scopes,
    acr: r.acr,
    amr: r.amr,
    auth_time: r.auth_time.toISOString(),
    created_at: r.created_at.toISOString(),
    last_rotated_at: r.rotated_at.toISOString(),
    idle_expires_at: r.idle_expires_at.toISOString(),
    absolute_expires_at: r.absolute_expires_at.toISOString(),
  };
}

function sessionOperations(s: AdminServices): AdminOperation[] {
  const tenant = async (id: string | undefined) => void (await s.tenants.get(id!));
  return [
    ...(["/admin/v1/tenants/:id/sessions", "/admin/v1/tenants/:id/subjects/:subject/sessions"] as const).map(
      (path): AdminOperation => ({
        method: "GET",
        path,
        operationId: path.includes(":subject") ? "listSubjectSessions" : "listSessions",
        summary: path.includes(":subject") ? "One user's live gateway sessions, newest first" : "The tenant's live gateway sessions, newest first",
        status: 200,
        response: z.object({ sessions: z.array(sessionSchema) }),
        run: async ({ id, subject }) => {
          await tenant(id);
          return { sessions: (await s.sessions.list(id!, subject)).map(sessionView) };
        },
      }),
    ),
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/sessions/:session/revoke",
      operationId: "revokeSession",
      summary: "End one session: its refresh token and live access tokens stop working within a second on every node",
      status: 200,
      response: z.object({ revoked: z.boolean() }),
      run: async ({ id, session }) => {
        await tenant(id);
        if (!isUuid(session!)) throw new Problem("NOT_FOUND", "No such session.");
        return { revoked: await s.sessions.revoke(id!, session!) };
      },
    },
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/subjects/:subject/sessions/revoke",
      operationId: "revokeSubjectSessions",
      summary: "Sign a user out everywhere: every live session of the subject ends",
      status: 200,
      response: z.object({ revoked: z.array(z.uuid()) }),
      run: async ({ id, subject }) => {
        await tenant(id);
        return { revoked: await s.sessions.revokeSubject(id!, subject!) };
      },
    },
  ];
}

function limitOperations(s: AdminServices): AdminOperation[] {
  const tenant = async (id: string | undefined) => void (await s.tenants.get(id!));
  return [
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/limits",
      operationId: "listLimitOverrides",
      summary: "The tenant's overrides of the policy's rate limits, by limit name",
      status: 200,
      response: z.object({ overrides: z.array(overrideSchema) }),
      run: async ({ id }) => {
        await tenant(id);
        return { overrides: await s.limitOverrides.list(id!) };
      },
    },
    {
      method: "PUT",
      path: "/admin/v1/tenants/:id/limits/:name",
      operationId: "setLimitOverride",
      summary: "Replace a rate limit for this tenant: rate per period_seconds, burst defaults to rate",
      status: 200,
      body: z.strictObject({
        rate: z.number().int().min(1).max(1_000_000),
        period_seconds: z.number().int().min(1).max(2_678_400),
        burst: z.number().int().min(1).max(1_000_000).optional(),
      }),
      response: overrideSchema,
      run: async ({ id, name }, body) => {
        await tenant(id);
        if (!POLICY_NAME.test(name!)) throw new Problem("BAD_REQUEST", "Limit names are 1-64 characters of letters, digits and . _ -.");
        const b = body as { rate: number; period_seconds: number; burst?: number };
        const named = s.policy.routes.flatMap((route) => route.limits.filter((limit) => limit.name === name));
        // An override of a limit no route has would be stored and never applied.
        if (named.length === 0) throw new Problem("NOT_FOUND", `The policy has no rate limit named "${name!}".`);
        const cost = Math.max(...named.map((limit) => limit.cost));
        if ((b.burst ?? b.rate) < cost) {
          throw new Problem("BAD_REQUEST", `A request under limit "${name!}" costs ${cost}: burst (rate, when burst is not set) must be at least that.`);
        }
        return s.limitOverrides.set(id!, { limit_name: name!, rate: b.rate, period_seconds: b.period_seconds, burst: b.burst ?? null });
      },
    },
    {
      method: "DELETE",
      path: "/admin/v1/tenants/:id/limits/:name",
      operationId: "removeLimitOverride",
      summary: "Go back to the policy's limit for this tenant",
      status: 200,
      response: z.object({ removed: z.boolean() }),
      run: async ({ id, name }) => {
        await tenant(id);
        return { removed: await s.limitOverrides.remove(id!, name!) };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/usage",
      operationId: "getTenantUsage",
      summary: "Usage of every quota in the policy this period, for the tenant and each of its keys and token subjects",
      status: 200,
      response: z.object({
        usage: z.array(
          z.object({
            name: z.string(),
            by: z.enum(["tenant", "key"]),
            subject: z.string(),
            period: z.string(),
            used: z.number(),
            limit: z.number(),
            resets_at: z.string(),
          }),
        ),
      }),
      run: async ({ id }) => {
        await tenant(id);
        const keyIds = (await s.keys.list(id!)).map((k) => k.id);
        return { usage: await s.quotas.usage(s.policy.routes.flatMap((r) => r.quotas), id!, keyIds) };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/ip-rules",
      operationId: "getTenantIpRules",
      summary: "The tenant's own address allow and deny lists",
      status: 200,
      response: ipRulesSchema,
      run: async ({ id }) => {
        await tenant(id);
        return s.ipRules.get(id!);
      },
    },
    {
      method: "PUT",
      path: "/admin/v1/tenants/:id/ip-rules",
      operationId: "setTenantIpRules",
      summary: "Replace the tenant's address lists (addresses or CIDR networks, IPv4 or IPv6); deny wins, a non-empty allow list admits only its members",
      status: 200,
      body: z.strictObject({ allow: cidrList.default([]), deny: cidrList.default([]) }),
      response: ipRulesSchema,
      run: async ({ id }, body) => {
        await tenant(id);
        const rules = body as { allow: string[]; deny: string[] };
        try {
          IpAccessList.from(rules);
        } catch (error) {
          throw new Problem("VALIDATION_FAILED", (error as Error).message);
        }
        return s.ipRules.replace(id!, rules);
      },
    },
    {
      method: "GET",
      path: "/admin/v1/blocks",
      operationId: "listBlocks",
      summary: "Clients blocked now, on every node, and until when",
      status: 200,
      response: z.object({ blocks: z.array(blockSchema) }),
      run: async () => ({ blocks: (await s.blocking.list()).map((b) => ({ client: b.client, until: new Date(b.until).toISOString() })) }),
    },
    {
      method: "POST",
      path: "/admin/v1/blocks",
      operationId: "blockClient",
      summary: "Block a client address by hand (an IPv6 address blocks its network, a /64 unless clients.ipv6Prefix says otherwise)",
      status: 201,
      body: z.strictObject({ client: clientAddress, seconds: z.number().int().min(1).max(30 * 86_400) }),
      response: blockSchema,
      run: async (_params, body) => {
        const b = body as { client: string; seconds: number };
        const client = parseIp(b.client, s.policy.clients.ipv6Prefix)!.holder;
        const until = await s.blocking.block(client, b.seconds, { reason: "admin" }, undefined, true);
        return { client, until: new Date(until).toISOString() };
      },
    },
    {
      method: "POST",
      path: "/admin/v1/blocks/lift",
      operationId: "liftBlock",
      summary: "Lift a client's block on every node (an IPv6 address lifts its network)",
      status: 200,
      body: z.strictObject({ client: clientAddress }),
      response: z.object({ lifted: z.boolean() }),
      run: async (_params, body) => ({ lifted: await s.blocking.unblock(parseIp((body as { client: string }).client, s.policy.clients.ipv6Prefix)!.holder) }),
    },
    {
      method: "GET",
      path: "/admin/v1/security-events",
      operationId: "listSecurityEvents",
      summary: "The newest security events of every node (blocks, rate-limit bursts, store outages, denied addresses), newest first",
      status: 200,
      response: z.object({
        events: z.array(
          z.object({
            type: z.string(),
            severity: z.string(),
            at: z.string(),
            client: z.string().optional(),
            tenant_id: z.string().optional(),
            route: z.string().optional(),
            detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
          }),
        ),
      }),
      run: async () => ({ events: await s.events.recent(100) }),
    },
  ];
}

const webhookEndpointSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  event_types: z.array(z.string()).nullable(),
  state: z.enum(["enabled", "disabled"]),
  disabled_reason: z.string().nullable(),
  secret_version: z.number().int(),
  previous_secret_until: z.string().nullable(),
  created_at: z.string(),
});
/** Times as the JSON answer has them (ISO 8601). */
const when = z.string();
const webhookDeliverySchema = z.object({
  id: z.uuid(),
  endpoint_id: z.uuid(),
  message_id: z.string(),
  event_type: z.string(),
  state: z.enum(["pending", "delivered", "failed"]),
  attempts: z.number().int(),
  next_attempt_at: when,
  created_at: when,
  finished_at: when.nullable(),
  attempt_log: z.array(z.object({ attempt: z.number().int(), at: when, status: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number().int() })),
});

function webhookOperations(webhooks: WebhookService, tenants: TenantStore): AdminOperation[] {
  return [
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/webhooks/endpoints",
      operationId: "listWebhookEndpoints",
      summary: "The tenant's outbound webhook endpoints (never their secrets)",
      status: 200,
      response: z.object({ endpoints: z.array(webhookEndpointSchema) }),
      run: async ({ id }) => {
        await tenants.get(id!);
        return { endpoints: await webhooks.listEndpoints(id!) };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/webhooks/deliveries",
      operationId: "listWebhookDeliveries",
      summary: "The tenant's newest 200 outbound webhook deliveries, each with its attempt log (status or error code, time, duration)",
      status: 200,
      response: z.object({ deliveries: z.array(webhookDeliverySchema) }),
      run: async ({ id }) => {
        await tenants.get(id!);
        return { deliveries: await webhooks.deliveries(id!, { limit: 200 }) };
      },
    },
  ];
}

const verificationSchema = z.object({
  ok: z.boolean(),
  records: z.number().int(),
  seq: z.number().int(),
  head: z.string(),
  firstBad: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
});
const auditRecordSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor_type: z.string(),
  actor_id: z.string(),
  action: z.string(),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  outcome: z.string(),
  request_id: z.string().nullable(),
  diff: z.unknown(),
  actor_name: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  hash: z.string(),
});

function limitOf(query: URLSearchParams): number {
  const limit = Number(query.get("limit") ?? "100");
  if (!Number.isInteger(limit) || limit < 1) throw new Problem("BAD_REQUEST", "limit is a whole number from 1 to 1000.");
  return Math.min(1_000, limit);
}

function filterOf(query: URLSearchParams): AuditFilter {
  const time = (name: string) => {
    const value = query.get(name) ?? undefined;
    if (value !== undefined && Number.isNaN(Date.parse(value))) throw new Problem("BAD_REQUEST", `${name} is an ISO 8601 time.`);
    return value;
  };
  return {
    actorType: query.get("actor_type") ?? undefined,
    actorId: query.get("actor_id") ?? undefined,
    action: query.get("action") ?? undefined,
    targetType: query.get("target_type") ?? undefined,
    targetId: query.get("target_id") ?? undefined,
    since: time("since"),
    until: time("until"),
  };
}

function auditOperations(s: AdminServices): AdminOperation[] {
  const checkpointOf = (query: URLSearchParams) => {
    const seq = query.get("checkpoint_seq");
    const head = query.get("checkpoint_head");
    if (seq === null && head === null) return undefined;
    if (seq === null || head === null || !/^\d{1,15}$/.test(seq) || !/^[0-9a-f]{64}$/.test(head)) throw new Problem("BAD_REQUEST", "checkpoint_seq and checkpoint_head go together: a sequence number and a 64-digit hex hash.");
    return { seq: Number(seq), head };
  };
  const verifyOne = async (tenantId: string, query: URLSearchParams) => ({ tenant_id: tenantId, ...(await s.audit.verify(tenantId, checkpointOf(query))) });
  return [
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/audit",
      operationId: "listAudit",
      summary: "The tenant's audit records, oldest first from ?after (a seq), filtered by actor_type, actor_id, action, target_type, target_id, since, until; ?limit up to 1000",
      status: 200,
      response: z.object({ records: z.array(auditRecordSchema), next_after: z.number().int().nullable() }),
      run: async ({ id }, _body, query) => {
        await s.tenants.audited(id!);
        const after = Number(query.get("after") ?? "0");
        if (!Number.isInteger(after) || after < 0) throw new Problem("BAD_REQUEST", "after is a whole number.");
        const limit = limitOf(query);
        const records = await s.audit.records(id!, after, limit, filterOf(query));
        return { records, next_after: records.length === limit ? records.at(-1)!.seq : null };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/audit",
      operationId: "listAllAudit",
      summary: `Audit records of every tenant (the system chain, ${SYSTEM_TENANT}, holds blocks and retention runs), by tenant then seq from ?after (tenant:seq); ?tenant and the filters of listAudit narrow it`,
      status: 200,
      response: z.object({ records: z.array(auditRecordSchema.extend({ tenant_id: z.string() })), next_after: z.string().nullable() }),
      run: async (_params, _body, query) => {
        const [afterTenant, afterSeq] = (query.get("after") ?? ":0").split(":");
        if (!/^\d{1,15}$/.test(afterSeq ?? "") || (afterTenant !== "" && !isUuid(afterTenant!))) throw new Problem("BAD_REQUEST", "after is tenant:seq, as next_after gave it.");
        const limit = limitOf(query);
        const filter = filterOf(query);
        const only = query.get("tenant");
        const tenants = (only === null ? await s.audit.tenants() : [only]).filter((t) => afterTenant === "" || t >= afterTenant!);
        const records: (AuditRecord & { tenant_id: string })[] = [];
        for (const tenantId of tenants) {
          const from = tenantId === afterTenant ? Number(afterSeq) : 0;
          for (const record of await s.audit.records(tenantId, from, limit - records.length, filter)) records.push({ tenant_id: tenantId, ...record });
          if (records.length === limit) break;
        }
        const last = records.at(-1);
        return { records, next_after: records.length === limit && last !== undefined ? `${last.tenant_id}:${last.seq}` : null };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/audit/verify",
      operationId: "verifyTenantAudit",
      summary: "Recompute the tenant's chain; with ?checkpoint_seq&checkpoint_head (kept outside), also catch a cut or rewritten tail",
      status: 200,
      response: verificationSchema.extend({ tenant_id: z.string() }),
      run: async ({ id }, _body, query) => {
        await s.tenants.audited(id!);
        return verifyOne(id!, query);
      },
    },
    {
      method: "GET",
      path: "/admin/v1/audit/verify",
      operationId: "verifyAudit",
      summary: "Recompute every tenant's chain, or ?tenant=ID's",
      status: 200,
      response: z.object({ ok: z.boolean(), tenants: z.array(verificationSchema.extend({ tenant_id: z.string() })) }),
      run: async (_params, _body, query) => {
        const one = query.get("tenant");
        const tenants = one === null ? await s.audit.tenants() : [one];
        const results = [];
        for (const tenantId of tenants) results.push(await verifyOne(tenantId, query));
        return { ok: results.every((r) => r.ok), tenants: results };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/audit/checkpoint",
      operationId: "auditCheckpoint",
      summary: "The chain's head now, signed with the gateway's Ed25519 key (checkable against /.well-known/jwks.json): keep it outside the database",
      status: 200,
      response: z.object({ seq: z.number().int(), head: z.string(), jws: z.string() }),
      run: async ({ id }) => {
        await s.tenants.audited(id!);
        const checkpoint = await s.audit.checkpoint(id!);
        return { ...checkpoint, jws: await s.signer.signCheckpoint({ tenant_id: id!, ...checkpoint }) };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/audit/export",
      operationId: "exportAudit",
      summary: "The trail as JSON lines with a signed checkpoint, no personal field: `portcullis audit verify --file` checks it offline",
      status: 200,
      response: z.object({ lines: z.array(z.string()) }),
      run: async ({ id }) => {
        await s.tenants.audited(id!);
        const lines: string[] = [];
        for await (const line of exportTrail(s.audit, s.signer, id!)) lines.push(line);
        return { lines };
      },
    },
  ];
}

function vaultOperations(vault: Vault, tenants: TenantStore): AdminOperation[] {
  return [
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/vault",
      operationId: "vaultStatus",
      summary: "The tenant's vault keys: versions, encryptions, secrets still under each",
      status: 200,
      response: z.object({ keys: z.array(dekStatusSchema) }),
      run: async ({ id }) => {
        await tenants.get(id!);
        return { keys: (await vault.status(id!)).map((d) => ({ ...d, created_at: d.created_at.toISOString() })) };
      },
    },
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/vault/rotate",
      operationId: "vaultRotate",
      summary: "Start a new data key version; new writes use it",
      status: 201,
      response: z.object({ version: z.number().int() }),
      run: async ({ id }) => ({ version: await vault.rotate(id!) }),
    },
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/vault/rewrap",
      operationId: "vaultRewrap",
      summary: "Re-seal every secret under the newest data key (live, resumable; answers when done)",
      status: 200,
      body: z.strictObject({ batch_size: z.number().int().min(1).max(10_000).default(100) }),
      response: z.object({ rewrapped: z.number().int() }),
      run: async ({ id }, body) => {
        await tenants.get(id!);
        return { rewrapped: await vault.rewrap(id!, { batchSize: (body as { batch_size: number }).batch_size }) };
      },
    },
    {
      method: "GET",
      path: "/admin/v1/vault/keks",
      operationId: "vaultKekUsage",
      summary: "Live data keys per key-encryption key, across tenants; an old KEK at zero can be removed",
      status: 200,
      response: z.object({
        current: z.string(),
        keks: z.array(z.object({ provider: z.string(), kek_id: z.string(), keys: z.number().int(), current: z.boolean() })),
      }),
      run: async () => ({ current: vault.currentKekId, keks: await vault.kekUsage() }),
    },
    {
      method: "POST",
      path: "/admin/v1/vault/keks/rewrap",
      operationId: "vaultRewrapKeks",
      summary: "KEK rotation: rewrap every data key to the current KEK (secrets untouched; resumable; answers when done)",
      status: 200,
      response: z.object({ tenants: z.number().int(), keys: z.number().int() }),
      run: () => vault.rewrapKeks(),
    },
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/vault/retire",
      operationId: "vaultRetire",
      summary: "Destroy data keys below a version once no secret needs them",
      status: 200,
      body: z.strictObject({ min_version: z.number().int().min(1) }),
      response: z.object({ destroyed: z.number().int() }),
      run: async ({ id }, body) => {
        await tenants.get(id!);
        return { destroyed: await vault.retire(id!, (body as { min_version: number }).min_version) };
      },
    },
  ];
}

function tenantAndKeyOperations(s: AdminServices): AdminOperation[] {
  return [
    {
      method: "POST",
      path: "/admin/v1/tenants",
      operationId: "createTenant",
      summary: "Create a tenant",
      status: 201,
      body: z.strictObject({ name: z.string().trim().min(1).max(200) }),
      response: tenantSchema,
      run: async (_, body) => tenantView(await s.tenants.create((body as { name: string }).name)),
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id",
      operationId: "getTenant",
      summary: "Read a tenant",
      status: 200,
      response: tenantSchema,
      run: async ({ id }) => tenantView(await s.tenants.get(id!)),
    },
    setTenantStatus(s, "suspend", "suspendTenant", "Suspend a tenant: its keys and tokens stop working at once"),
    setTenantStatus(s, "activate", "activateTenant", "Lift a suspension"),
    {
      method: "POST",
      path: "/admin/v1/tenants/:id/keys",
      operationId: "createKey",
      summary: "Issue an API key; the response is the only time the key is shown",
      status: 201,
      body: z.strictObject({
        env: z.enum(["live", "test"]),
        scopes: z.array(scope).max(100).default([]),
        expires_in: z.number().int().min(60).max(MAX_SECONDS).optional().describe("Lifetime in seconds"),
      }),
      response: issuedKeySchema,
      run: async ({ id }, body) => {
        const spec = body as { env: "live" | "test"; scopes: string[]; expires_in?: number };
        return keyView(await s.keys.create(id!, { env: spec.env, scopes: spec.scopes, expiresInSeconds: spec.expires_in }));
      },
    },
    {
      method: "GET",
      path: "/admin/v1/tenants/:id/keys",
      operationId: "listKeys",
      summary: "List a tenant's keys (never the keys themselves)",
      status: 200,
      response: z.object({ keys: z.array(keyInfoSchema) }),
      run: async ({ id }) => {
        await s.tenants.get(id!);
        return { keys: (await s.keys.list(id!)).map(keyView) };
      },
    },
    {
      method: "POST",
      path: "/admin/v1/keys/:id/rotate",
      operationId: "rotateKey",
      summary: "Issue a successor key; the old one stays valid for the grace period",
      status: 201,
      body: z.strictObject({
        grace_seconds: z.number().int().min(0).max(30 * 86_400).default(DEFAULT_GRACE_SECONDS),
      }),
      response: issuedKeySchema,
      run: async ({ id }, body) => {
        const successor = await s.keys.rotate(id!, (body as { grace_seconds: number }).grace_seconds);
        s.keyAuthenticator.forgetKey(id!);
        return keyView(successor);
      },
    },
    {
      method: "POST",
      path: "/admin/v1/keys/:id/revoke",
      operationId: "revokeKey",
      summary: "Revoke a key, effective immediately",
      status: 200,
      response: keyInfoSchema,
      run: async ({ id }) => {
        const key = await s.keys.revoke(id!);
        s.keyAuthenticator.forgetKey(id!);
        return keyView(key);
      },
    },
  ];
}

/** Suspend and activate: the status changes, and this node forgets what it cached about the tenant. */
function setTenantStatus(s: AdminServices, action: "suspend" | "activate", operationId: string, summary: string): AdminOperation {
  return {
    method: "POST",
    path: `/admin/v1/tenants/:id/${action}`,
    operationId,
    summary,
    status: 200,
    response: tenantSchema,
    run: async ({ id }) => {
      const tenant = await s.tenants.setStatus(id!, action === "suspend" ? "suspended" : "active");
      s.keyAuthenticator.forgetTenant(tenant.id);
      s.tenantDirectory.forget(tenant.id);
      return tenantView(tenant);
    },
  };
}


function keyView<K extends ApiKeyInfo & { key?: string }>(k: K) {
  return {
    id: k.id,
    tenant_id: k.tenant_id,
    env: k.env,
    prefix: k.prefix,
    scopes: k.scopes,
    created_at: k.created_at.toISOString(),
    expires_at: k.expires_at?.toISOString() ?? null,
    revoked_at: k.revoked_at?.toISOString() ?? null,
    last_used_at: k.last_used_at?.toISOString() ?? null,
    rotated_to: k.rotated_to,
    ...(k.key === undefined ? {} : { key: k.key }),
  };
}
