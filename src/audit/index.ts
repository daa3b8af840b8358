export { canonicalJson, canonicalRecord, ChainWalk, chainHash, genesis, personalCommitment, type ChainedFields, type Checkpoint, type PersonalFields, type Verification } from "./chain.js";
export { AuditStore, auditInputSchema, fieldsOfExport, type AuditFilter, type AuditInput, type AuditRecord, type ExportedRecord } from "./store.js";
export { EXPORT_FORMAT, exportTrail, verifyExport, type ExportVerification } from "./export.js";
export { AUDIT_PATH, auditEndpointControl } from "./endpoint.js";
export { routeAuditControl, routeAuditSchema, type RouteAuditPolicy } from "./route-audit.js";
