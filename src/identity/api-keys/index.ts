export { generateApiKey, parseApiKey, hashApiKey, looksLikeApiKey, type KeyEnv, type GeneratedKey } from "./format.js";
export { ApiKeyStore, type ApiKeyInfo, type IssuedKey, type KeyRecord, type NewKey } from "./store.js";
export { ApiKeyAuthenticator, type ApiKeyAuthenticatorOptions } from "./authenticator.js";
export { extractCredential } from "../credentials.js";
export type { Principal } from "../principal.js";
