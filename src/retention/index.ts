export { retentionSchema, type RetentionPolicy } from "./schema.js";
export { RetentionSweep, type SweepReport, type RetentionSweepDeps } from "./sweep.js";
