export { Forwarder, responseHeaders, type ForwardTarget, type UpstreamHeadHook } from "./forwarder.js";
export { forwardSchema, type ForwardPolicy } from "./schema.js";
export { createIdentityVerifier, IDENTITY_HEADER, IdentitySigner, type IdentityClaims } from "./identity-assertion.js";
