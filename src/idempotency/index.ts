export { idempotencyControl, idempotencyKeyOf, idempotencySchema, type IdempotencyPolicy } from "./idempotency.js";
export { IdempotencyStore, type Claim, type ClaimResult, type StoredResponse } from "./store.js";
