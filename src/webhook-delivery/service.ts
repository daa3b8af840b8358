import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Egress } from "../egress/egress.js";
import { EgressError } from "../egress/errors.js";
import { Problem } from "../problem/index.js";
import type { Vault } from "../vault/vault.js";
import { endpointSecretName } from "./deliverer.js";
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

export type EndpointView = Omit<WebhookEndpoint, "created_at" | "previous_until"> & { created_at: string; previous_secret_until: string | null };

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
    const endpoint = await this.store.createEndpoint(tenantId, input.url, input.eventTypes ?? null);
    const secret = newWebhookSecret();
    await this.vault.put(tenantId, endpointSecretName(endpoint.id, 1), secret, "webhook.signing");
    return { endpoint: view(endpoint), secret };
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
    await this.vault.put(tenantId, endpointSecretName(id, current.secret_version + 1), secret, "webhook.signing");
    const rotated = await this.store.rotated(tenantId, id, current.secret_version, new Date(Date.now() + this.policy.rotationOverlapSeconds * 1000));
    if (rotated === undefined) throw new Problem("CONFLICT", "The secret was rotated at the same time by another request; read the endpoint and try again.");
    return { endpoint: view(rotated), secret };
  }

  async deleteEndpoint(tenantId: string, id: string): Promise<void> {
    const current = await this.store.endpoint(tenantId, id);
    if (current === undefined || !(await this.store.deleteEndpoint(tenantId, id))) throw new Problem("NOT_FOUND", "No such webhook endpoint.");
    for (let version = 1; version <= current.secret_version; version++) await this.vault.delete(tenantId, endpointSecretName(id, version));
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

function view(endpoint: WebhookEndpoint): EndpointView {
  const { previous_until, created_at, ...rest } = endpoint;
  return { ...rest, created_at: created_at.toISOString(), previous_secret_until: previous_until === null || previous_until.getTime() < Date.now() ? null : previous_until.toISOString() };
}
