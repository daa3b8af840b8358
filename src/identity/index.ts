export {
  AUTHENTICATION_METHODS,
  authenticateControl,
  authenticateSchema,
  type AuthenticateSpec,
  type AuthenticatePolicy,
  type AuthenticationMethod,
  type Authenticators,
} from "./authenticate.js";
export { extractCredential, unauthenticated } from "./credentials.js";
export { callerId, type Principal } from "./principal.js";
