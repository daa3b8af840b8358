import { z } from "zod";
import type { IpAddress } from "../net/ip.js";
import { IpSet } from "../net/ip-set.js";
import { cidrSchema } from "../net/schema.js";
import type { RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import type { Database } from "../store/index.js";
import { RefreshingCache } from "../util/refreshing-cache.js";

/** Global address lists, checked before anything else. A non-empty allow list admits only its members. */
export const addressListsSchema = z.strictObject({ allow: z.array(cidrSchema).default([]), deny: z.array(cidrSchema).default([]) }).default({ allow: [], deny: [] });

export interface IpRules {
  allow: readonly string[];
  deny: readonly string[];
}

/** Compiled lists: deny wins; a non-empty allow list admits only its members. */
export class IpAccessList {
  private constructor(
    private readonly allow: IpSet,
    private readonly deny: IpSet,
  ) {}

  static from(rules: IpRules): IpAccessList {
    return new IpAccessList(IpSet.parse(rules.allow), IpSet.parse(rules.deny));
  }

  static readonly OPEN = IpAccessList.from({ allow: [], deny: [] });

  get empty(): boolean {
    return this.allow.size === 0 && this.deny.size === 0;
  }

  check(address: IpAddress): void {
    if (this.deny.has(address) || (this.allow.size > 0 && !this.allow.has(address))) {
      throw new Problem("IP_DENIED", "Requests from this address are not allowed.");
    }
  }
}

/**
 * Each tenant's own allow and deny lists, in the durable store, read through a cache with the
 * same bounded staleness as API keys.
 */
export class TenantIpRuleStore {
  private readonly cache: RefreshingCache<IpAccessList>;

  constructor(
    private readonly db: Database,
    maxStalenessMs = 5_000,
  ) {
    this.cache = new RefreshingCache(async (tenantId) => IpAccessList.from(await this.get(tenantId)), {
      freshMs: Math.min(1_000, maxStalenessMs),
      maxAgeMs: maxStalenessMs,
      maxEntries: 100_000,
    });
  }

  forTenant(tenantId: string): IpAccessList | Promise<IpAccessList> {
    return this.cache.get(tenantId);
  }

  async get(tenantId: string): Promise<IpRules> {
    const rows = await this.db.withTenant(tenantId, (q) =>
      q.query<{ action: "allow" | "deny"; cidr: string }>("select action, cidr from tenant_ip_rules where tenant_id = $1 order by action, cidr", [tenantId]),
    );
    return { allow: rows.filter((r) => r.action === "allow").map((r) => r.cidr), deny: rows.filter((r) => r.action === "deny").map((r) => r.cidr) };
  }

  /** Replaces both lists at once; an invalid entry refuses the whole change. */
  async replace(tenantId: string, rules: IpRules): Promise<IpRules> {
    IpAccessList.from(rules);
    await this.db.withTenant(tenantId, async (q) => {
      await q.query("delete from tenant_ip_rules where tenant_id = $1", [tenantId]);
      for (const action of ["allow", "deny"] as const) {
        const cidrs = [...new Set(rules[action])];
        if (cidrs.length > 0) {
          await q.query("insert into tenant_ip_rules (tenant_id, action, cidr) select $1, $2, unnest($3::text[])", [tenantId, action, cidrs]);
        }
      }
    });
    this.cache.forget(tenantId);
    return this.get(tenantId);
  }
}

/** Before routing: the policy's own lists apply to every request (health aside). */
export function addressListControl(rules: IpRules): Control {
  const list = IpAccessList.from(rules);
  return {
    name: "address-lists",
    stage: "address-lists",
    run: (ctx) => list.check(ctx.clientAddress),
  };
}

/** After authentication: the caller's tenant's own lists apply to its requests. */
export function tenantAddressListControl(rules: TenantIpRuleStore): Control {
  const apply = (list: IpAccessList, ctx: RequestContext): void => {
    if (!list.empty) list.check(ctx.clientAddress);
  };
  return {
    name: "tenant-address-lists",
    stage: "tenant-address-lists",
    run: (ctx) => {
      if (ctx.principal === undefined) return;
      const list = rules.forTenant(ctx.principal.tenantId);
      return list instanceof Promise ? list.then((l) => apply(l, ctx)) : apply(list, ctx);
    },
  };
}
