export { canonicalJson, canonicalRecord, chainHash, genesis, personalCommitment, type ChainedFields, type PersonalFields } from "./chain.js";
export { AuditStore, auditInputSchema, type AuditInput, type AuditRecord, type Checkpoint, type Verification } from "./store.js";
