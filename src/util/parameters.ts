/**
 * Query strings and form bodies as the frameworks behind a gateway read them. A control that
 * looks for a parameter by name (a method override, a return URL) must find it under every
 * spelling some upstream parses it from, or the upstream acts on a value the control never saw.
 */

/**
 * Each `[name, value]` of a query or form body, still percent-encoded: the pairs split on `&` (as
 * WHATWG URLSearchParams, PHP, Express and Django do), and the pairs of any part that also holds a
 * `;` split on that as well (Rack 2, Python before 3.9.2 and Perl's CGI read `;` as `&`). Reading
 * both ways checks a superset of what either parser sees.
 */
export function parameterPairs(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  if (text === "") return pairs;
  for (const part of text.split("&")) {
    pairs.push(pair(part));
    if (part.includes(";")) for (const piece of part.split(";")) pairs.push(pair(piece));
  }
  return pairs;
}

function pair(part: string): [string, string] {
  const eq = part.indexOf("=");
  return eq === -1 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)];
}

/** A form-encoded name or value decoded (`+` is a space); undefined when it is not valid UTF-8 percent-encoding. */
export function decodeParameter(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

/**
 * The names, lower-cased, that frameworks read a decoded parameter name as: the name itself
 * (ASP.NET matches without case), its base before `[…]` (PHP and qs read `next[]` and `next[0]`
 * as `next`), and PHP's own folding, which drops leading spaces and turns spaces, dots and an
 * unclosed `[` into `_`, so that `.method`, ` method` and `[method` all reach Laravel and Symfony
 * as `_method`.
 */
export function frameworkNames(name: string): string[] {
  const lower = name.toLowerCase();
  const bracket = lower.indexOf("[");
  const closed = bracket > 0 && lower.indexOf("]", bracket) !== -1;
  const base = closed ? lower.slice(0, bracket) : lower;
  const php = (closed ? base : lower).replace(/^ +/, "").replace(/[ .[]/g, "_");
  return base === lower && php === lower ? [lower] : [...new Set([lower, base, php])];
}
