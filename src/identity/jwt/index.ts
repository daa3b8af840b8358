export { JwtVerifier, JWT_ALGORITHMS, type IssuerConfig, type JwtAlgorithm } from "./verifier.js";
export type { Principal } from "../principal.js";
export { issuerSchema, type IssuerPolicy } from "./schema.js";
export { isRocaModulus, keyWeakness } from "./key-vetting.js";
