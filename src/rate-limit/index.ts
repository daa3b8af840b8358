export { LIMIT_PERIODS, rateLimitControl, rateLimitSchema, rateLimitsSchema, type RateLimitDeps, type RateLimitPolicy } from "./rate-limit.js";
export { LimitOverrideStore, type LimitOverride } from "./overrides.js";
