export { Vault, type SecretInfo, type VaultOptions, type DekStatus, type RewrapOptions } from "./vault.js";
export type { KeyProvider } from "./key-provider.js";
export { LocalKeyProvider } from "./local-key-provider.js";
export { ENVELOPE_VERSION } from "./envelope.js";
