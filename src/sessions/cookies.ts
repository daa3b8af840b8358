import type { RequestContext } from "../pipeline/context.js";
import { Problem } from "../problem/index.js";
import { cookiePairs } from "../server/cookies.js";

/**
 * Cookie names of browser sessions. `__Host-` binds the access and CSRF cookies to this exact
 * origin (Secure, Path=/, no Domain), so a sibling subdomain cannot plant or overwrite them;
 * the refresh cookie is `__Secure-` with a path, so that browsers send it to the session
 * endpoints only, never with ordinary requests.
 */
export const ACCESS_COOKIE = "__Host-pc_at";
export const CSRF_COOKIE = "__Host-pc_csrf";
export const REFRESH_COOKIE = "__Secure-pc_rt";
export const REFRESH_COOKIE_PATH = "/portcullis/v1";
export const CSRF_HEADER = "x-csrf-token";
const OWN_COOKIE_PREFIXES = ["__Host-pc_", "__Secure-pc_"];
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** Every value a cookie of this name was sent with, in the order sent. */
export function sessionCookieValues(ctx: Pick<RequestContext, "headers">, name: string): string[] {
  const header = ctx.headers.cookie;
  if (header === undefined || !header.includes(name)) return [];
  return cookiePairs(header).flatMap(([cookie, value]) => (cookie === name ? [value] : []));
}

/** The one value of a session cookie; a cookie sent twice is refused (which one would count?). */
export function sessionCookie(ctx: Pick<RequestContext, "headers">, name: string): string | undefined {
  const values = sessionCookieValues(ctx, name);
  if (values.length > 1) throw ambiguous();
  return values[0];
}

/**
 * The refresh cookie, where a sibling subdomain may have planted another of the same name: it is
 * `__Secure-` rather than `__Host-` because `__Host-` forces `Path=/`, which would send the
 * refresh token with every request. Of several, the one whose session the request's CSRF token
 * names is taken (the CSRF cookie is `__Host-`, so no sibling can plant that): a planted cookie
 * can neither block the real session's refresh nor sign the browser into another session.
 */
export function refreshCookie(ctx: Pick<RequestContext, "headers">, belongsToCsrf: (value: string) => boolean): string | undefined {
  const values = sessionCookieValues(ctx, REFRESH_COOKIE);
  if (values.length <= 1) return values[0];
  const matching = values.filter(belongsToCsrf);
  if (matching.length !== 1) throw ambiguous();
  return matching[0];
}

function ambiguous(): Problem {
  return new Problem("AMBIGUOUS_CREDENTIALS", "A session cookie was sent twice.");
}

/**
 * A cookie rides along with every request the browser makes, a forged cross-site one too: an
 * unsafe method authenticated by cookie must also carry the session's CSRF token in a header, which
 * only script of the session's own origin can read (from the CSRF cookie) and send.
 */
export function needsCsrf(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

export function csrfHeader(ctx: Pick<RequestContext, "headers">): string | undefined {
  const value = ctx.headers[CSRF_HEADER];
  return typeof value === "string" ? value : undefined;
}

/** The Cookie header without the gateway's own session cookies, for the upstream; undefined when nothing is left. */
export function withoutSessionCookies(header: string): string | undefined {
  if (!header.includes("pc_")) return header;
  const kept = header
    .split(";")
    .filter((part) => {
      const name = part.slice(0, part.indexOf("=") === -1 ? part.length : part.indexOf("=")).trim();
      return !OWN_COOKIE_PREFIXES.some((prefix) => name.startsWith(prefix));
    })
    .map((part) => part.trim())
    .filter((part) => part !== "");
  return kept.length === 0 ? undefined : kept.join("; ");
}

export interface CookieSettings {
  sameSite: "Strict" | "Lax";
}

/** The three Set-Cookie values of a session: access (HttpOnly), refresh (HttpOnly, session endpoints only), CSRF (readable by script). */
export function sessionCookies(settings: CookieSettings, tokens: { access: string; accessMaxAge: number; refresh: string; refreshMaxAge: number; csrf: string }): string[] {
  const common = `Secure; SameSite=${settings.sameSite}`;
  return [
    `${ACCESS_COOKIE}=${tokens.access}; Path=/; ${common}; HttpOnly; Max-Age=${tokens.accessMaxAge}`,
    `${REFRESH_COOKIE}=${tokens.refresh}; Path=${REFRESH_COOKIE_PATH}; ${common}; HttpOnly; Max-Age=${tokens.refreshMaxAge}`,
    `${CSRF_COOKIE}=${tokens.csrf}; Path=/; ${common}; Max-Age=${tokens.refreshMaxAge}`,
  ];
}

/** Set-Cookie values that make the browser forget the session. */
export function clearedSessionCookies(settings: CookieSettings): string[] {
  return sessionCookies(settings, { access: "", accessMaxAge: 0, refresh: "", refreshMaxAge: 0, csrf: "" });
}
