import { Problem } from "../problem/index.js";

/** Longer than any key or sane JWT; a larger header is an attack or a mistake, not a credential. */
export const MAX_CREDENTIAL_LENGTH = 8192;
const TOKEN = /^[A-Za-z0-9._~+/=-]+$/;

/**
 * Finds the one credential a request presents: `Authorization: Bearer …` or `X-API-Key: …`.
 * Node keeps only the first of duplicated `authorization` headers and joins duplicated others,
 * so the raw header list is read: a request with two credentials is refused rather than letting
 * the gateway and the upstream each pick a different one.
 */
export function extractCredential(req: { readonly rawHeaders: readonly string[] }): string | undefined {
  let found: string | undefined;
  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 13 && name.length !== 9) continue;
    const lower = name.toLowerCase();
    if (lower === "authorization") found = bearerToken(raw[i + 1]!);
    else if (lower === "x-api-key") found = raw[i + 1]!.trim();
    else continue;
    count++;
  }
  if (count > 1) throw new Problem("AMBIGUOUS_CREDENTIALS", "Present exactly one Authorization or X-API-Key header.");
  if (found === undefined) return undefined;
  if (found.length === 0 || found.length > MAX_CREDENTIAL_LENGTH || !TOKEN.test(found)) {
    throw new Problem("MALFORMED_CREDENTIALS", "The credential is not well-formed.");
  }
  return found;
}

function bearerToken(header: string): string {
  if (header.length > MAX_CREDENTIAL_LENGTH + 64) throw new Problem("MALFORMED_CREDENTIALS", "The credential is not well-formed.");
  // Spaces only before the token: with optional spaces on both sides of it (`\S*` may be empty),
  // a header of many spaces made the pattern backtrack quadratically, 0.3 s for 16 KB.
  const match = /^Bearer +(\S*)$/i.exec(header.trimEnd());
  if (match === null) throw new Problem("MALFORMED_CREDENTIALS", "Use the Bearer authorization scheme.");
  return match[1]!;
}

/** One answer for every failed authentication, so that it tells an attacker nothing. */
export function unauthenticated(): Problem {
  return new Problem("UNAUTHENTICATED", "A valid API key or bearer token is required.");
}
