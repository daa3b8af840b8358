export { Sessions, sessionsSchema, sessionRequestSchema, OAuthError, type SessionsPolicy, type SessionRequest, type TokenPair } from "./sessions.js";
export { SessionStore, type SessionRow, type Rotation } from "./store.js";
export { SessionTokens, SESSION_ISSUER, type AccessClaims, type RefreshRef } from "./tokens.js";
export { sessionEndpointsControl } from "./endpoints.js";
