import type { Logger } from "../observability/logger.js";
import type { Answer, RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { prefixMatcher } from "../routing/prefix.js";
import { readBody, validBody } from "../server/read-body.js";
import { jsonAnswer } from "../server/respond.js";
import { errorType } from "../util/error-type.js";
import { clearedSessionCookies, csrfHeader, refreshCookie, sessionCookies } from "./cookies.js";
import { OAuthError, sessionRequestSchema, type IssuedPair, type Sessions } from "./sessions.js";

export const SESSIONS_PATH = ["portcullis", "v1"] as const;
const MAX_BODY_BYTES = 16 * 1024;
const SESSIONS_ROUTE = Object.freeze({ name: "(sessions)", params: Object.freeze({}) });
const ENDPOINTS = new Set(["sessions", "token", "revoke"]);

/**
 * The session endpoints, served in the pipeline's "endpoints" stage like the vault:
 * - `POST /portcullis/v1/sessions`: an upstream holding an API key scoped `sessions:write` asks
 *   for a session for a user it signed in; the tenant is the key's, never the body's.
 * - `POST /portcullis/v1/token`: the refresh grant (RFC 6749 §6), form-encoded, answered as §5.1
 *   and §5.2 say: every refusal is the same `invalid_grant`, whether the token is unknown, forged,
 *   spent, expired or revoked.
 * - `POST /portcullis/v1/revoke`: RFC 7009, 200 for any token, known or not.
 * With cookie delivery on, a browser refreshes and signs out with its cookies instead of a token
 * field, and must send the session's CSRF token in `X-CSRF-Token`.
 */
export function sessionEndpointsControl(deps: { sessions: Sessions; authenticate: readonly Control[]; logger: Logger; caseSensitive: boolean }): Control {
  const underPrefix = prefixMatcher(SESSIONS_PATH, deps.caseSensitive);
  return {
    name: "sessions",
    stage: "endpoints",
    run(ctx) {
      const { segments } = ctx.target;
      if (segments.length !== 3 || !underPrefix(segments)) return;
      const endpoint = deps.caseSensitive ? segments[2]! : segments[2]!.toLowerCase();
      if (!ENDPOINTS.has(endpoint)) return;
      ctx.route = SESSIONS_ROUTE;
      if (ctx.method !== "POST") throw new Problem("METHOD_NOT_ALLOWED", "Use POST.");
      return serve(ctx, endpoint).then((answer) => {
        ctx.answer = answer;
      });
    },
  };

  async function serve(ctx: RequestContext, endpoint: string): Promise<Answer> {
    if (endpoint === "sessions") return issue(ctx);
    const form = await formBody(ctx);
    const { sessions } = deps;
    const cookie = sessions.cookies.enabled
      ? refreshCookie(ctx, (value) => {
          const ref = sessions.tokens.parseRefresh(value);
          return ref !== undefined && sessions.tokens.checkCsrf(ref.sessionId, csrfHeader(ctx));
        })
      : undefined;
    try {
      if (form === undefined) throw new OAuthError("invalid_request", "Send the request as application/x-www-form-urlencoded.");
      if (endpoint === "revoke") {
        const token = single(form, "token");
        if (token !== undefined) await sessions.revokeToken(token);
        else if (cookie !== undefined) {
          // Signing out by cookie needs the CSRF token, or any site could sign a user out.
          const ref = sessions.tokens.parseRefresh(cookie);
          if (ref !== undefined && sessions.tokens.checkCsrf(ref.sessionId, csrfHeader(ctx))) {
            await sessions.revokeToken(cookie);
            return { outcome: "served", status: 200, headers: { "cache-control": "no-store", "content-length": 0, "set-cookie": clearedSessionCookies(sessions.cookies) } };
          }
        } else throw new OAuthError("invalid_request", "Send the token to revoke as form field token.");
        return { outcome: "served", status: 200, headers: { "cache-control": "no-store", "content-length": 0 } };
      }
      const grantType = single(form, "grant_type");
      if (grantType !== "refresh_token") throw new OAuthError(grantType === undefined ? "invalid_request" : "unsupported_grant_type", "Only grant_type=refresh_token is served here.");
      const refreshToken = single(form, "refresh_token");
      if (refreshToken !== undefined) return tokenAnswer(200, bodyOf(await sessions.refresh(refreshToken, single(form, "client_id"))));
      if (cookie === undefined) throw new OAuthError("invalid_request", "refresh_token is required.");
      return cookieAnswer(200, await sessions.refresh(cookie, single(form, "client_id"), { token: csrfHeader(ctx) }));
    } catch (error) {
      if (error instanceof OAuthError) return oauthError(error);
      throw error;
    }
  }

  function cookiesOf(pair: IssuedPair): string[] {
    return sessionCookies(deps.sessions.cookies, {
      access: pair.access_token,
      accessMaxAge: pair.expires_in,
      refresh: pair.refresh_token,
      refreshMaxAge: pair.refreshExpiresIn,
      csrf: deps.sessions.tokens.csrf(pair.sessionId),
    });
  }

  /** A browser's refresh: the new tokens in cookies, the body says only when to refresh next. */
  function cookieAnswer(status: number, pair: IssuedPair): Answer {
    const answer = tokenAnswer(status, { token_type: "Bearer", expires_in: pair.expires_in, csrf_token: deps.sessions.tokens.csrf(pair.sessionId) });
    return { ...answer, headers: { ...answer.headers, "set-cookie": cookiesOf(pair) } };
  }

  async function issue(ctx: RequestContext): Promise<Answer> {
    for (const control of deps.authenticate) await control.run(ctx);
    const principal = ctx.principal!;
    if (principal.kind !== "api_key" || !principal.scopes.has("sessions:write")) throw new Problem("FORBIDDEN", "Issuing sessions needs an API key with the sessions:write scope.");
    if (!/^application\/json\s*(;|$)/i.test(ctx.headers["content-type"] ?? "")) throw new Problem("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.");
    let body: unknown;
    try {
      body = JSON.parse((await readBody(ctx, MAX_BODY_BYTES)).toString("utf8"));
    } catch (error) {
      if (error instanceof Problem) throw error;
      throw new Problem("BAD_REQUEST", "The body is not valid JSON.");
    }
    const request = validBody(sessionRequestSchema, body);
    try {
      if (request.delivery === "cookie" && !deps.sessions.cookies.enabled) throw new Problem("VALIDATION_FAILED", "Cookie delivery is off: set sessions.cookies.enabled in the policy.");
      const pair = await deps.sessions.issue(principal.tenantId, request);
      deps.logger.info({ event: "session_issued", req_id: ctx.requestId, tenant_id: principal.tenantId, principal: principal.id }, "session issued");
      if (request.delivery === "body") return tokenAnswer(201, bodyOf(pair));
      // For the upstream to pass on as its own Set-Cookie headers: the tokens never reach script.
      return tokenAnswer(201, { token_type: "Bearer", expires_in: pair.expires_in, csrf_token: deps.sessions.tokens.csrf(pair.sessionId), set_cookie: cookiesOf(pair) });
    } catch (error) {
      if (error instanceof OAuthError) throw new Problem("VALIDATION_FAILED", error.description);
      deps.logger.warn({ req_id: ctx.requestId, err_type: errorType(error) }, "session could not be issued");
      throw error;
    }
  }
}

/** The form's fields; undefined when the body is not a form. A field sent twice is refused by `single`. */
async function formBody(ctx: RequestContext): Promise<URLSearchParams | undefined> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(ctx.headers["content-type"] ?? "")) return undefined;
  return new URLSearchParams((await readBody(ctx, MAX_BODY_BYTES)).toString("utf8"));
}

/** RFC 6749 §3.2: parameters must not be included more than once. */
function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new OAuthError("invalid_request", `${name} was sent more than once.`);
  return values[0];
}

/** RFC 6749 §5.1's members only. */
function bodyOf(pair: IssuedPair) {
  return { access_token: pair.access_token, token_type: pair.token_type, expires_in: pair.expires_in, refresh_token: pair.refresh_token };
}

function tokenAnswer(status: number, body: unknown): Answer {
  const answer = jsonAnswer(status, body);
  return { ...answer, headers: { ...answer.headers, pragma: "no-cache" } };
}

function oauthError(error: OAuthError): Answer {
  return tokenAnswer(400, { error: error.error, error_description: error.description });
}
