export { createEgress, Egress, type EgressDeps, type EgressRequestInit, type Resolver } from "./egress.js";
export { EgressError, EGRESS_ERROR_CODES, type EgressErrorCode } from "./errors.js";
export { classifyAddress, type AddressClass } from "./addresses.js";
export { egressSchema, type EgressOptionsInput, type EgressPolicy, type EgressRules } from "./schema.js";
