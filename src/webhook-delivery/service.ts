import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Egress } from "../egress/egress.js";
import { EgressError } from "../egress/errors.js";
import { Problem } from "../problem/index.js";
import type { Vault } from "../vault/vault.js";
import { newSecretName } from "./deliverer.js";
import type { WebhookDeliveryPolicy } from "./schema.js";
import { newWebhookSecret } from "./sign.js";
import type { WebhookEndpoint, WebhookStore } from "./store.js";

const eventType = z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, "1-100 letters, digits and _ . : -");

export const endpointInputSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  /** The event types sent to it; absent, all of them. */
  eventTypes: z.array(eventType).min(1).max(100).optional(),
});

export const messageInputSchema = z.strictObject({
  /** The receiver's deduplication key (`webhook-id`); sending one id twice queues it once. Generated when absent. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 letters, digits, _ and -").optional(),
  eventType,
  payload: z.unknown().refine((value) => value !== undefined, "a payload is required"),
  /** Only this endpoint; absent, every enabled endpoint taking the event type. */
  endpointId: z.uuid().optional(),
});

export type EndpointView = Omit<WebhookEndpoint, "created_at" | "previous_until" | "secret_name" | "previous_secret_name"> & { created_at: string; previous_secret_until: string | null };

/** Endpoints and messages of one tenant, for the gateway's endpoints and the admin API. */
export class WebhookService {
  constructor(
    private readonly store: WebhookStore,
    private readonly vault: Vault,
    private readonly egress: Egress,
    private readonly policy: WebhookDeliveryPolicy,
  ) {}

  /** The URL is checked against the tenant's egress rules now (and again at every delivery, as DNS can change). */
  async createEndpoint(tenantId: string, input: z.infer<typeof endpointInputSchema>): Promise<{ endpoint: EndpointView; secret: string }> {
    try {
      this.egress.checkUrl(input.url, this.egress.rulesFor(tenantId));
    } catch (error) {
      if (error instanceof EgressError) throw new Problem("VALIDATION_FAILED", `The endpoint URL is refused: ${error.message}`, { egress_code: error.code });
      throw error;
    }
    const id = randomUUID();
    const secret = newWebhookSecret();
    const name = newSecretName(id);
    await this.vault.put(tenantId, name, secret, "webhook.signing");
    try {
      return { endpoint: view(await this.store.createEndpoint(tenantId, id, input.url, input.eventTypes ?? null, name)), secret };
    } catch (error) {
      await this.vault.delete(tenantId, name);
      throw error;
    }
  }

  async listEndpoints(tenantId: string): Promise<EndpointView[]> {
    return (await this.store.listEndpoints(tenantId)).map(view);
  }

  async endpoint(tenantId: string, id: string): Promise<EndpointView> {
    const found = await this.store.endpoint(tenantId, id);
    if (found === undefined) throw new Problem("NOT_FOUND", "No such webhook endpoint.");
    return view(found);
  }

  /** A new secret signs from now on; the previous one signs beside it for the overlap, so receivers can switch without a gap. */
  async rotateSecret(tenantId: string, id: string): Promise<{ endpoint: EndpointView; secret: string }> {
    const current = await this.store.endpoint(tenantId, id);
    if (current === undefined) throw new Problem("NOT_FOUND", "No such webhook endpoint.");
    const secret = newWebhookSecret();
    const name = newSecretName(id);
    await this.vault.put(tenantId, name, secret, "webhook.signing");
    const rotated = await this.store.rotated(tenantId, id, current.secret_name, name, new Date(Date.now() + this.policy.rotationOverlapSeconds * 1000));
    if (rotated === undefined) {
      await this.vault.delete(tenantId, name);
      throw new Problem("CONFLICT", "The secret was rotated at the same time by another request; read the endpoint and try again.");
    }
    // The secret two rotations back signs nothing any more.
    if (current.previous_secret_name !== null) await this.vault.delete(tenantId, current.previous_secret_name);
    return { endpoint: view(rotated), secret };
  }

  async deleteEndpoint(tenantId: string, id: string): Promise<void> {
    const current = await this.store.endpoint(tenantId, id);
    if (current === undefined || !(await this.store.deleteEndpoint(tenantId, id))) throw new Problem("NOT_FOUND", "No such webhook endpoint.");
    for (const name of [current.secret_name, current.previous_secret_name]) if (name !== null) await this.vault.delete(tenantId, name);
  }

  /** Queues the message for its endpoints; the body every attempt sends is fixed here, as Standard Webhooks lays it out. */
  async send(tenantId: string, input: z.infer<typeof messageInputSchema>): Promise<{ id: string; deliveries: { endpoint_id: string; id: string }[] }> {
    const id = input.id ?? `msg_${randomBytes(16).toString("base64url")}`;
    const payload = Buffer.from(JSON.stringify({ type: input.eventType, timestamp: new Date().toISOString(), data: input.payload }));
    if (payload.length > this.policy.maxPayloadBytes) throw new Problem("PAYLOAD_TOO_LARGE", `A webhook message may be at most ${this.policy.maxPayloadBytes} bytes.`);
    const deliveries = await this.store.enqueue(tenantId, { id, eventType: input.eventType, payload, endpointId: input.endpointId });
    return { id, deliveries };
  }

  deliveries(tenantId: string, filter: { endpointId?: string | undefined; limit: number }) {
    return this.store.deliveries(tenantId, filter);
  }
}

/** What callers see of an endpoint: never where its secrets are kept. */
function view(endpoint: WebhookEndpoint): EndpointView {
  const previousLive = endpoint.previous_until !== null && endpoint.previous_until.getTime() >= Date.now();
  return {
    id: endpoint.id,
    url: endpoint.url,
    event_types: endpoint.event_types,
    state: endpoint.state,
    disabled_reason: endpoint.disabled_reason,
    secret_version: endpoint.secret_version,
    created_at: endpoint.created_at.toISOString(),
    previous_secret_until: previousLive ? endpoint.previous_until!.toISOString() : null,
  };
}
