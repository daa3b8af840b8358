export { webhookControl, webhookKeys, webhookSchema, type WebhookPolicy } from "./webhook.js";
export { parseWebhookKey, verifyStandardWebhook, verifyStripeWebhook, type WebhookKey, type WebhookScheme } from "./verify.js";
