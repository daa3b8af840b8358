export { Vault, type SecretInfo, type VaultOptions, type DekStatus, type RewrapOptions, type KekUsage } from "./vault.js";
export type { KeyProvider } from "./providers/key-provider.js";
export { LocalKeyProvider } from "./providers/local.js";
export { Pkcs11KeyProvider, type Pkcs11Options } from "./providers/pkcs11.js";
export { AwsKmsKeyProvider, type AwsKmsOptions } from "./providers/aws-kms.js";
export { VaultTransitKeyProvider, type VaultTransitOptions } from "./providers/vault-transit.js";
export { keyProviderFromEnv } from "./providers/from-env.js";
export { ENVELOPE_VERSION } from "./envelope.js";
export { GATEWAY_SECRET_NAMESPACES, isGatewaySecret } from "./namespaces.js";
