import type { Database } from "../store/database.js";

export interface WebhookEndpoint {
  id: string;
  url: string;
  event_types: string[] | null;
  state: "enabled" | "disabled";
  disabled_reason: string | null;
  secret_name: string;
  secret_version: number;
  previous_secret_name: string | null;
  previous_until: Date | null;
  created_at: Date;
}

export interface Delivery {
  tenant_id: string;
  id: string;
  endpoint_id: string;
  message_id: string;
  event_type: string;
  payload: Uint8Array;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: Date;
  created_at: Date;
  finished_at: Date | null;
}

/** A delivery as a worker claims it, with its endpoint's details as they were then. */
export interface ClaimedDelivery {
  tenant_id: string;
  id: string;
  /** This attempt's number, counted at the claim. */
  attempts: number;
  message_id: string;
  payload: Uint8Array;
  endpoint_id: string;
  url: string;
  endpoint_state: "enabled" | "disabled";
  secret_name: string;
  previous_secret_name: string | null;
  previous_until: Date | null;
}

export interface AttemptRecord {
  attempt: number;
  at: Date;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

/** What one attempt came to, and what happens next. */
export interface AttemptOutcome {
  status: number | null;
  error: string | null;
  durationMs: number;
  /** `delivered`, `failed` (given up), or a time to try again. */
  next: "delivered" | "failed" | Date;
  /** The endpoint told us it is gone (410): no more deliveries to it. */
  disableEndpoint?: string | undefined;
}

const ENDPOINT_COLUMNS = "id, url, event_types, state, disabled_reason, secret_name, secret_version, previous_secret_name, previous_until, created_at";

/** Every query runs under the tenant's RLS scope, except the claim, which serves all tenants through its definer function. */
export class WebhookStore {
  constructor(private readonly db: Database) {}

  async createEndpoint(tenantId: string, id: string, url: string, eventTypes: readonly string[] | null, secretName: string): Promise<WebhookEndpoint> {
    const [row] = await this.db.withTenant(tenantId, (q) =>
      q.query<WebhookEndpoint>(`insert into webhook_endpoints (tenant_id, id, url, event_types, secret_name) values ($1, $2, $3, $4, $5) returning ${ENDPOINT_COLUMNS}`, [
        tenantId,
        id,
        url,
        eventTypes,
        secretName,
      ]),
    );
    return row!;
  }

  listEndpoints(tenantId: string): Promise<WebhookEndpoint[]> {
    return this.db.withTenant(tenantId, (q) => q.query<WebhookEndpoint>(`select ${ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = $1 order by created_at, id`, [tenantId]));
  }

  async endpoint(tenantId: string, id: string): Promise<WebhookEndpoint | undefined> {
    const [row] = await this.db.withTenant(tenantId, (q) => q.query<WebhookEndpoint>(`select ${ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = $1 and id = $2`, [tenantId, id]));
    return row;
  }

  async deleteEndpoint(tenantId: string, id: string): Promise<boolean> {
    const rows = await this.db.withTenant(tenantId, (q) => q.query("delete from webhook_endpoints where tenant_id = $1 and id = $2 returning id", [tenantId, id]));
    return rows.length > 0;
  }

  /**
   * The new secret (already in the vault) takes over; the current one becomes the previous,
   * signing beside it until `previousUntil`. Undefined when the endpoint's secret moved meanwhile
   * (another rotation won): the caller deletes its own new secret then.
   */
  async rotated(tenantId: string, id: string, fromSecret: string, toSecret: string, previousUntil: Date): Promise<WebhookEndpoint | undefined> {
    const [row] = await this.db.withTenant(tenantId, (q) =>
      q.query<WebhookEndpoint>(
        `update webhook_endpoints set previous_secret_name = secret_name, secret_name = $4, secret_version = secret_version + 1, previous_until = $5
         where tenant_id = $1 and id = $2 and secret_name = $3 returning ${ENDPOINT_COLUMNS}`,
        [tenantId, id, fromSecret, toSecret, previousUntil],
      ),
    );
    return row;
  }

  /**
   * One delivery per enabled endpoint that takes this event type (or the one named). A message id
   * already queued for an endpoint is not queued again, so a client retrying its request cannot
   * send the same event twice.
   */
  enqueue(tenantId: string, message: { id: string; eventType: string; payload: Uint8Array; endpointId?: string | undefined }): Promise<{ endpoint_id: string; id: string }[]> {
    return this.db.withTenant(tenantId, (q) =>
      q.query<{ endpoint_id: string; id: string }>(
        `insert into webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload)
         select $1, gen_random_uuid(), e.id, $2, $3, $4 from webhook_endpoints e
         where e.tenant_id = $1 and e.state = 'enabled' and ($5::uuid is null or e.id = $5::uuid)
           and (e.event_types is null or $3 = any (e.event_types))
         on conflict (tenant_id, endpoint_id, message_id) do nothing
         returning endpoint_id, id`,
        [tenantId, message.id, message.eventType, message.payload, message.endpointId ?? null],
      ),
    );
  }

  /** Due deliveries of every tenant, leased to this node, each with what sending it takes. */
  claim(batch: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
    return this.db.asApp((q) => q.query<ClaimedDelivery>("select * from portcullis_claim_webhook_deliveries($1, $2)", [batch, leaseSeconds]));
  }

  /** The attempt's log row and the delivery's next state, in one transaction. */
  async record(tenantId: string, delivery: { id: string; endpoint_id: string; attempts: number }, outcome: AttemptOutcome): Promise<void> {
    await this.db.withTenant(tenantId, async (q) => {
      await q.query("insert into webhook_attempts (tenant_id, delivery_id, attempt, status, error, duration_ms) values ($1, $2, $3, $4, $5, $6) on conflict do nothing", [
        tenantId,
        delivery.id,
        delivery.attempts,
        outcome.status,
        outcome.error,
        outcome.durationMs,
      ]);
      if (outcome.next instanceof Date) {
        await q.query("update webhook_deliveries set next_attempt_at = $3, lease_until = null where tenant_id = $1 and id = $2", [tenantId, delivery.id, outcome.next]);
      } else {
        await q.query("update webhook_deliveries set state = $3, lease_until = null, finished_at = now() where tenant_id = $1 and id = $2", [tenantId, delivery.id, outcome.next]);
      }
      if (outcome.disableEndpoint !== undefined) {
        await q.query("update webhook_endpoints set state = 'disabled', disabled_reason = $3 where tenant_id = $1 and id = $2", [tenantId, delivery.endpoint_id, outcome.disableEndpoint]);
      }
    });
  }

  /** Newest first, with each delivery's attempts: the log the admin API shows. */
  deliveries(tenantId: string, filter: { endpointId?: string | undefined; limit: number }): Promise<(Omit<Delivery, "payload" | "tenant_id"> & { attempt_log: AttemptRecord[] })[]> {
    return this.db.withTenant(tenantId, (q) =>
      q.query(
        `select d.id, d.endpoint_id, d.message_id, d.event_type, d.state, d.attempts, d.next_attempt_at, d.created_at, d.finished_at,
                coalesce((select json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'status', a.status, 'error', a.error, 'duration_ms', a.duration_ms) order by a.attempt)
                          from webhook_attempts a where a.tenant_id = d.tenant_id and a.delivery_id = d.id), '[]'::json) as attempt_log
         from webhook_deliveries d where d.tenant_id = $1 and ($2::uuid is null or d.endpoint_id = $2::uuid)
         order by d.created_at desc, d.id limit $3`,
        [tenantId, filter.endpointId ?? null, filter.limit],
      ),
    );
  }
}
