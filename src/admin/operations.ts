import { z } from "zod";
import type { ApiKeyAuthenticator } from "../identity/api-keys/authenticator.js";
import type { ApiKeyInfo, ApiKeyStore } from "../identity/api-keys/store.js";
import type { TenantDirectory } from "../tenants/directory.js";
import type { Tenant, TenantStore } from "../tenants/store.js";
import type { Vault } from "../vault/vault.js";

export interface AdminServices {
  tenants: TenantStore;
  tenantDirectory: TenantDirectory;
  keys: ApiKeyStore;
  keyAuthenticator: ApiKeyAuthenticator;
  /** Present while the vault is on; its operations are offered only then. */
  vault?: Vault | undefined;
}

const scope = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/);
const MAX_SECONDS = 10 * 365 * 86_400;
const DEFAULT_GRACE_SECONDS = 86_400;

const tenantSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(["active", "suspended"]),
  created_at: z.string(),
});
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
  method: "GET" | "POST";
  path: string;
  operationId: string;
  summary: string;
  status: number;
  body?: z.ZodType;
  response: z.ZodType;
  run(params: Record<string, string>, body: unknown): Promise<unknown>;
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
export function adminOperations(s: AdminServices): AdminOperation[] {
  return [...tenantAndKeyOperations(s), ...(s.vault === undefined ? [] : vaultOperations(s.vault, s.tenants))];
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

function tenantView(t: Tenant) {
  return { id: t.id, name: t.name, status: t.status, created_at: t.created_at.toISOString() };
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
