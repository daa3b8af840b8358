import { Response } from "undici";
import { z } from "zod";
import type { RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { bufferedBody } from "../server/read-body.js";
import { hasDuplicateKeys } from "../util/json-keys.js";
import { decodeParameter, frameworkNames, parameterPairs } from "../util/parameters.js";

/** An http(s) origin written as the browser writes it. */
export const originSchema = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a URL` });
    return z.NEVER;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") ctx.addIssue({ code: "custom", message: `"${value}" must be an http(s) origin` });
  else if (url.origin !== value.replace(/\/$/, "")) ctx.addIssue({ code: "custom", message: `"${value}" must be an origin alone (scheme, host, port), written as the browser writes it: ${url.origin}` });
  return url.origin;
});

export const returnUrlSchema = z.strictObject({
  /** The query parameters and body fields (form or JSON, `a.b` for nested members) that carry a URL to send the user to. */
  params: z.array(z.string().min(1).max(100)).min(1),
  /** The origins a return URL may point to, exactly: scheme, host and port. */
  allow: z.array(originSchema).min(1),
  /** Paths on the caller's own site (`/account`) pass; off, only absolute URLs to the listed origins do. */
  allowRelative: z.boolean().default(true),
  /** Where to look. The decision API never sees bodies, so it needs `[query]`. */
  in: z.array(z.enum(["query", "body"])).min(1).default(["query", "body"]),
  /** A body larger than this is refused rather than let through unread. */
  maxBodyBytes: z.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
});
export type ReturnUrlPolicy = z.infer<typeof returnUrlSchema>;

/** No real return URL is this long; a longer value is refused, not parsed. */
const MAX_URL_LENGTH = 4096;
/** Percent-decoding is repeated this many times at most: each layer an app might peel off is checked. */
const MAX_DECODINGS = 3;
/** Stands for the caller's own site when a relative URL is resolved: never a real host. */
const OWN_SITE = "https://own-site.portcullis.invalid";
/** C0 controls, DEL, and spaces other than a plain one: browsers strip some (`\t`, `\n`) inside a URL, which is how `/\t/evil` becomes `//evil`. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f\u0080-\u009f\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/**
 * Whether a browser told to go to `value` would land on one of `allowed` (or, with
 * `allowRelative`, on the page's own site). The URL is read as a browser reads it (WHATWG URL:
 * `\` as `/`, `https:evil` as `https://evil/`, default ports dropped, hosts lower-cased and
 * IDNA-mapped), so what is checked is where the browser goes, not how the string looks. Every
 * layer of percent-decoding an application might still apply is checked too: `%2F%2Fevil`
 * decoded once more is `//evil`.
 */
export function isAllowedReturnUrl(value: string, allowed: ReadonlySet<string>, allowRelative: boolean): boolean {
  if (value.length > MAX_URL_LENGTH) return false;
  let candidate = value;
  for (let layer = 0; layer <= MAX_DECODINGS; layer++) {
    if (!landsOnAllowedOrigin(candidate, allowed, allowRelative)) return false;
    if (!candidate.includes("%")) return true;
    let decoded: string;
    try {
      decoded = decodeURIComponent(candidate);
    } catch {
      return false;
    }
    if (decoded === candidate) return true;
    candidate = decoded;
  }
  // Still encoded after every layer checked: nobody needs that many.
  return false;
}

function landsOnAllowedOrigin(value: string, allowed: ReadonlySet<string>, allowRelative: boolean): boolean {
  if (CONTROL_CHARACTERS.test(value) || value.trim() !== value) return false;
  let url: URL;
  try {
    url = new URL(value, OWN_SITE);
  } catch {
    return false;
  }
  // `https://app.example.com@evil` lands on evil; `https://user@app.example.com` is refused too:
  // nobody sends a user home with a password in the address.
  if (url.username !== "" || url.password !== "") return false;
  if (url.origin === OWN_SITE) return allowRelative && !/^[a-z][a-z0-9+.-]*:/i.test(value);
  return (url.protocol === "https:" || url.protocol === "http:") && allowed.has(url.origin);
}

/**
 * Refuses a request that carries a return URL (`?next=…`, a form's `return_to`) pointing anywhere
 * but the listed origins, so that the API behind can never be used to send a signed-in user to a
 * look-alike site (an open redirect).
 */
export function returnUrlControl(policy: ReturnUrlPolicy): Control {
  const allowed = new Set(policy.allow);
  const names = new Set(policy.params.flatMap(frameworkNames));
  // Some frameworks match parameter names without case (ASP.NET), read `next[]` / `next[0]` as
  // `next` (PHP, qs), or `return.to` as `return_to` (PHP): any of its readings may be watched.
  const watched = (name: string): boolean => frameworkNames(name).some((reading) => names.has(reading));
  const inQuery = policy.in.includes("query");
  const inBody = policy.in.includes("body");
  const refused = (where: string) => new Problem("INVALID_RETURN_URL", `The return URL in ${where} is not one this service redirects to.`);
  const check = (value: unknown, where: string): void => {
    if (value === undefined || value === null || value === "") return;
    if (typeof value !== "string" || !isAllowedReturnUrl(value, allowed, policy.allowRelative)) throw refused(where);
  };
  const checkPairs = (text: string, where: "query" | "body"): void => {
    for (const [rawName, rawValue] of parameterPairs(text)) {
      const name = decodeParameter(rawName) ?? rawName;
      if (!watched(name)) continue;
      const value = decodeParameter(rawValue);
      // An undecodable value under a watched name is no URL anybody should be sent to.
      if (value === undefined) throw refused(`${where}.${name}`);
      check(value, `${where}.${name}`);
    }
  };
  const checkJson = (text: string, strict: boolean): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      if (strict) throw new Problem("BAD_REQUEST", "The body is not valid JSON.");
      return;
    }
    // Parsers disagree on which of two equal keys wins: either could be the one the upstream redirects to.
    if (hasDuplicateKeys(text, parsed)) throw new Problem("BAD_REQUEST", "The JSON body names a key twice.");
    for (const name of policy.params) for (const value of members(parsed, name)) check(value, `body.${name}`);
  };
  const checkBody = (ctx: RequestContext, body: Buffer): void | Promise<void> => {
    if (body.length === 0) return;
    const kind = bodyKind(ctx.rawHeaders);
    if (kind === "form") return checkPairs(body.toString("utf8"), "body");
    if (kind === "json") return checkJson(body.toString("utf8"), true);
    if (kind === "multipart") {
      return multipartFields(body, ctx.headers["content-type"]!).then((fields) => {
        for (const [name, value] of fields) if (watched(name)) check(value, `body.${name}`);
      });
    }
    // A type this control has no parser for (none, several, text/plain, XML …): some framework
    // may still parse it as a form (Rack does without a Content-Type) or as JSON, so it is read
    // both ways rather than passed unread.
    const text = body.toString("utf8");
    checkPairs(text, "body");
    checkJson(text, false);
  };
  return {
    name: "returnUrl",
    stage: "return-url",
    needsBody: inBody ? "returnUrl reads body fields (set returnUrl.in: [query] to check the query alone)" : undefined,
    run(ctx) {
      if (inQuery) checkPairs(ctx.target.query, "query");
      if (!inBody) return;
      const body = bufferedBody(ctx, policy.maxBodyBytes);
      if (body instanceof Promise) return body.then((b) => checkBody(ctx, b));
      return checkBody(ctx, body);
    },
  };
}

/**
 * How a body is to be read, by its one Content-Type: `application/json`, `+json` types and the
 * spellings frameworks still accept for JSON (`text/json` in ASP.NET Core, `application/jsonrequest`
 * in Rails, `text/x-json`, `application/x-json`); a form; multipart. "unknown" for anything else,
 * for no Content-Type, and for several (Node keeps the first, an upstream may keep the last).
 */
function bodyKind(rawHeaders: readonly string[]): "form" | "json" | "multipart" | "unknown" {
  let type: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== "content-type") continue;
    if (type !== undefined) return "unknown";
    type = rawHeaders[i + 1]!.toLowerCase().split(";", 1)[0]!.trim();
  }
  if (type === undefined) return "unknown";
  if (type === "application/x-www-form-urlencoded") return "form";
  if (type === "multipart/form-data") return "multipart";
  if (/^(application|text)\/(([a-z0-9.-]+\+)?json|x-json|jsonrequest)$/.test(type)) return "json";
  return "unknown";
}

/**
 * Every value `a.b` names: member `b` of member `a`, matched without case (model binders such as
 * ASP.NET's and Jackson's with case-insensitive properties read `Next` as `next`). A value that is
 * not a plain string is refused by the caller.
 */
function members(value: unknown, path: string): unknown[] {
  let current: unknown[] = [value];
  for (const key of path.toLowerCase().split(".")) {
    current = current.flatMap((v) =>
      v === null || typeof v !== "object" || Array.isArray(v) ? [] : Object.keys(v).filter((k) => k.toLowerCase() === key).map((k) => (v as Record<string, unknown>)[k]),
    );
  }
  return current;
}

/** A multipart body's text fields, parsed as the WHATWG algorithm does (undici's `formData()`); one that does not parse is refused. */
async function multipartFields(body: Buffer, contentType: string): Promise<[string, string][]> {
  try {
    const form = await new Response(body, { headers: { "content-type": contentType } }).formData();
    return [...form].flatMap(([name, value]) => (typeof value === "string" ? [[name, value] as [string, string]] : []));
  } catch {
    throw new Problem("BAD_REQUEST", "The multipart body does not parse.");
  }
}
