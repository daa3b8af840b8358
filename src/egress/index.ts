export { createEgress, Egress, type EgressDeps, type EgressRequestInit, type EgressRequestOptions, type EgressResponse, type Resolver } from "./egress.js";
export { EgressError, EGRESS_ERROR_CODES, type EgressErrorCode } from "./errors.js";
export { classifyAddress, type AddressClass } from "./addresses.js";
export { egressSchema, type EgressOptionsInput, type EgressPolicy, type EgressRules } from "./schema.js";
export { createEgressProxy, EGRESS_PROXY_SCOPE, proxyCredential, type EgressProxyOptions } from "./proxy.js";
