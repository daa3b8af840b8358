import { Problem } from "../problem/index.js";

export interface RequestTarget {
  /** The path as the client sent it; forwarded unchanged, since it was checked to be canonical. */
  rawPath: string;
  /** Everything after `?`, without it; forwarded unchanged. */
  query: string;
  /** Decoded path segments, the form routes are matched on. */
  segments: string[];
}

// Control characters are the point of this pattern.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_RAW = /[\\;#\u0000-\u001f\u007f]/;
const ESCAPE = /%[0-9A-Fa-f]{2}/;
const FORBIDDEN_ESCAPE = /%(2[fF]|5[cC]|00|3[bB])/;
/**
 * In a decoded segment: control and invisible format characters (zero-width, bidi, BOM) anywhere,
 * and whitespace at either end. Some stacks trim or drop them (Spring's trimmed path tokens,
 * Unicode-aware trims) and others keep them, so `/admin%20` or `/admin%09` would be another route
 * here and `/admin` upstream.
 */
const UNSEEN = /[\p{Cc}\p{Cf}]|^\s|\s$/u;
// eslint-disable-next-line no-control-regex -- the ASCII range is the point
const NON_ASCII = /[^\x00-\x7f]/;

function invalid(): Problem {
  return new Problem("INVALID_PATH", "The request path is not in canonical form.");
}

/**
 * Parses the request target and refuses every path that two HTTP stacks might read differently:
 * dot segments (also encoded), encoded slashes or backslashes, double encoding, empty segments,
 * matrix parameters, control characters, Unicode compatibility forms and (unless allowed)
 * segments ending in a dot. What passes means the
 * same to the gateway and to any upstream, so a route with weaker controls cannot be reached by a
 * spelling trick; and the raw path can be forwarded as it is.
 */
export function parseRequestTarget(url: string, options: { allowTrailingDots?: boolean } = {}): RequestTarget {
  if (url.charCodeAt(0) !== 47 /* "/" */ || url.startsWith("//")) throw invalid();
  const q = url.indexOf("?");
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? "" : url.slice(q + 1);
  if (FORBIDDEN_RAW.test(rawPath)) throw invalid();

  const rawSegments = rawPath.split("/");
  rawSegments.shift();
  // One trailing slash is common and harmless; the route sees the path without it.
  if (rawSegments.length > 1 && rawSegments[rawSegments.length - 1] === "") rawSegments.pop();

  const segments = new Array<string>(rawSegments.length);
  for (let i = 0; i < rawSegments.length; i++) {
    const raw = rawSegments[i]!;
    let segment = raw;
    if (raw.includes("%")) {
      if (FORBIDDEN_ESCAPE.test(raw)) throw invalid();
      try {
        segment = decodeURIComponent(raw);
      } catch {
        throw invalid();
      }
      if (ESCAPE.test(segment)) throw invalid();
    }
    if (segment === "." || segment === "..") throw invalid();
    // IIS and Windows file APIs strip a trailing dot: `/admin./x` would be `/admin/x` there.
    if (segment.endsWith(".") && options.allowTrailingDots !== true) throw invalid();
    const nonAscii = NON_ASCII.test(segment);
    if ((segment !== raw || nonAscii) && UNSEEN.test(segment)) throw invalid();
    // Fullwidth `ａｄｍｉｎ` or a ligature is another route here but the same to a stack that
    // folds compatibility forms (IIS's best-fit mapping, NFKC-normalising frameworks).
    if (nonAscii && segment.normalize("NFKC") !== segment) throw invalid();
    if (segment === "" && !(i === 0 && rawSegments.length === 1)) throw invalid();
    segments[i] = segment;
  }
  if (segments.length === 1 && segments[0] === "") segments.length = 0;
  return { rawPath, query, segments };
}
