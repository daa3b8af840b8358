export { quotaControl, QuotaLedger, quotaPeriod, quotaSchema, quotasSchema, type QuotaPolicy, type QuotaUsage } from "./quota.js";
