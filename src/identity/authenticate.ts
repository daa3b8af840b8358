import { z } from "zod";
import type { RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import type { ApiKeyAuthenticator } from "./api-keys/authenticator.js";
import { looksLikeApiKey } from "./api-keys/format.js";
import { extractCredential, unauthenticated } from "./credentials.js";
import type { JwtVerifier } from "./jwt/verifier.js";
import type { Principal } from "./principal.js";
import { SessionTokens } from "../sessions/tokens.js";

export const AUTHENTICATION_METHODS = ["apiKey", "jwt", "session"] as const;
export type AuthenticationMethod = (typeof AUTHENTICATION_METHODS)[number];

/** Absent on a route means: require a credential, by every configured method. `none` must be said. */
export const authenticateSchema = z.union([
  z.literal("none"),
  z.strictObject({
    methods: z.array(z.enum(AUTHENTICATION_METHODS)).min(1),
    /** Which API keys the route accepts; a `live` route never admits a test key. */
    keyEnv: z.enum(["live", "test", "any"]).default("any"),
  }),
]);
export type AuthenticatePolicy = z.infer<typeof authenticateSchema>;

export interface AuthenticateSpec {
  methods: readonly AuthenticationMethod[];
  keyEnv: "live" | "test" | "any";
}

export interface Authenticators {
  apiKeys: ApiKeyAuthenticator;
  jwt: JwtVerifier;
  /** Gateway-issued session access tokens. */
  sessions: {
    authenticate(token: string): Principal | Promise<Principal>;
    /** A browser session's access cookie, when cookie delivery is on; undefined without one. */
    fromCookie?(ctx: RequestContext): Principal | Promise<Principal> | undefined;
  };
}

/**
 * Requires exactly one valid credential by one of the route's methods. The credential's own
 * shape picks the method (keys start with `sk_live_` / `sk_test_`, session tokens with the
 * gateway's one JWT header, anything else is an IdP's JWT); a credential of a method the
 * route does not accept fails like any other bad credential.
 */
export function authenticateControl(spec: AuthenticateSpec, authenticators: Authenticators): Control {
  const acceptKeys = spec.methods.includes("apiKey");
  const acceptJwt = spec.methods.includes("jwt");
  const acceptSessions = spec.methods.includes("session");
  const admitKey = (ctx: RequestContext, principal: Principal): void => {
    if (spec.keyEnv !== "any" && principal.env !== spec.keyEnv) {
      throw new Problem("FORBIDDEN", `This route accepts ${spec.keyEnv} keys only.`);
    }
    ctx.principal = principal;
  };
  return {
    name: "authenticate",
    stage: "authenticate",
    // Synchronous when the key is cached: most requests then pass without a promise.
    run(ctx) {
      const credential = extractCredential(ctx);
      if (credential === undefined) {
        const fromCookie = acceptSessions ? authenticators.sessions.fromCookie?.(ctx) : undefined;
        if (fromCookie === undefined) throw unauthenticated();
        return admit(ctx, fromCookie);
      }
      if (looksLikeApiKey(credential)) {
        if (!acceptKeys) throw unauthenticated();
        const principal = authenticators.apiKeys.authenticate(credential);
        return principal instanceof Promise ? principal.then((p) => admitKey(ctx, p)) : admitKey(ctx, principal);
      }
      if (SessionTokens.accepts(credential)) {
        if (!acceptSessions) throw unauthenticated();
        return admit(ctx, authenticators.sessions.authenticate(credential));
      }
      if (!acceptJwt) throw unauthenticated();
      return admit(ctx, authenticators.jwt.authenticate(credential));
    },
  };
}

/** Sets the principal now, or once it is known. */
function admit(ctx: RequestContext, principal: Principal | Promise<Principal>): void | Promise<void> {
  if (principal instanceof Promise) {
    return principal.then((p) => {
      ctx.principal = p;
    });
  }
  ctx.principal = principal;
}
