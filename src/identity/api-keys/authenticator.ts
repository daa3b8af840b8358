import { Problem } from "../../problem/index.js";
import { RefreshingCache } from "../../util/refreshing-cache.js";
import { unauthenticated } from "../credentials.js";
import type { Principal } from "../principal.js";
import { apiKeyDigest, parseApiKey } from "./format.js";
import type { ApiKeyStore, KeyRecord } from "./store.js";

export interface ApiKeyAuthenticatorOptions {
  /** Revocation and suspension reach every node within this time. */
  maxStalenessMs?: number;
  /** How often last-used times are written, batched. */
  lastUsedFlushMs?: number;
  maxCachedKeys?: number;
}

interface Verified {
  record: KeyRecord;
  principal: Principal;
}

/**
 * Verifies presented API keys without a database round trip per request: records are cached by
 * key hash (unknown keys too) and reloaded at most every `maxStalenessMs`, which is therefore the
 * longest a revocation made on another node can take to apply. Changes made through this node
 * apply at once through `forgetKey` / `forgetTenant`.
 */
export class ApiKeyAuthenticator {
  private readonly cache: RefreshingCache<Verified | null>;
  private pendingUse = new Map<string, string>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    private readonly store: ApiKeyStore,
    options: ApiKeyAuthenticatorOptions = {},
  ) {
    const maxAgeMs = options.maxStalenessMs ?? 1000;
    this.cache = new RefreshingCache((hash) => this.load(hash), {
      freshMs: maxAgeMs / 2,
      maxAgeMs,
      maxEntries: options.maxCachedKeys ?? 100_000,
    });
    this.flushTimer = setInterval(() => void this.flushUse().catch(() => undefined), options.lastUsedFlushMs ?? 10_000);
    this.flushTimer.unref();
  }

  /** Answers synchronously from the cache; a promise only when the store must be asked. */
  authenticate(presented: string): Principal | Promise<Principal> {
    // The checksum turns away typos and random strings before any lookup.
    if (parseApiKey(presented) === undefined) throw unauthenticated();
    const verified = this.cache.get(apiKeyDigest(presented));
    return verified instanceof Promise ? verified.then((v) => this.admit(v)) : this.admit(verified);
  }

  private admit(verified: Verified | null): Principal {
    if (verified === null) throw unauthenticated();
    const { record } = verified;
    if (record.revoked || !record.tenantActive || (record.expiresAt !== null && record.expiresAt <= Date.now())) {
      throw unauthenticated();
    }
    this.pendingUse.set(record.keyId, record.tenantId);
    return verified.principal;
  }

  forgetKey(keyId: string): void {
    this.cache.forgetWhere((v) => v?.record.keyId === keyId);
  }

  forgetTenant(tenantId: string): void {
    this.cache.forgetWhere((v) => v?.record.tenantId === tenantId);
  }

  async flushUse(): Promise<void> {
    if (this.pendingUse.size === 0) return;
    const batch = this.pendingUse;
    this.pendingUse = new Map();
    const byTenant = new Map<string, string[]>();
    for (const [keyId, tenantId] of batch) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), keyId]);
    const now = new Date();
    for (const [tenantId, keyIds] of byTenant) await this.store.recordUse(tenantId, keyIds, now);
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushUse().catch(() => undefined);
  }

  private async load(hash: string): Promise<Verified | null> {
    let record: KeyRecord | null;
    try {
      record = await this.store.lookup(Buffer.from(hash, "base64"));
    } catch {
      throw new Problem("STORE_UNAVAILABLE", "Credentials cannot be checked right now.");
    }
    if (record === null) return null;
    const principal: Principal = {
      kind: "api_key",
      tenantId: record.tenantId,
      id: record.keyId,
      scopes: new Set(record.scopes),
      env: record.env,
    };
    return { record, principal };
  }
}
