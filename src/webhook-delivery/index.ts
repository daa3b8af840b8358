export { newSecretName, WebhookDeliverer } from "./deliverer.js";
export { webhookEndpointsControl } from "./endpoints.js";
export { webhookDeliverySchema, type WebhookDeliveryPolicy } from "./schema.js";
export { endpointInputSchema, messageInputSchema, WebhookService, type EndpointView } from "./service.js";
export { newWebhookSecret, signStandardWebhook } from "./sign.js";
export { WebhookStore, type AttemptRecord, type ClaimedDelivery, type Delivery, type WebhookEndpoint } from "./store.js";
