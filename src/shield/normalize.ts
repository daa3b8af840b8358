/**
 * Undoes the encodings attackers use to slip a payload past pattern matching, so the detectors
 * see what the upstream will eventually see: percent-encoding (repeatedly, for double and triple
 * encoding), HTML entities, JavaScript and CSS escapes, Unicode compatibility forms (fullwidth
 * `＜`, ligatures) and case. Whitespace runs become one space. Written here because no library
 * does this as one pass for detection (decoders for one layer each exist, and are used where they
 * fit: NFKC is the platform's own).
 */
const MAX_ROUNDS = 4;

const NAMED_ENTITIES: Record<string, string> = {
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  amp: "&",
  sol: "/",
  bsol: "\\",
  colon: ":",
  semi: ";",
  lpar: "(",
  rpar: ")",
  equals: "=",
  tab: "\t",
  newline: "\n",
  nbsp: " ",
  grave: "`",
  num: "#",
  percnt: "%",
  period: ".",
  comma: ",",
};

function fromCodePoint(code: number): string {
  return code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "";
}

const OVERLONG = /%c[01]%|%[ef][0-9a-f]%80%/i;

/**
 * `%XX` decoded as UTF-8, as the platform's decoder does, all at once where the whole text is
 * valid; otherwise run by run, and a run that is not UTF-8 byte by byte, so nothing is left
 * undecoded for a lenient decoder upstream to read.
 */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      }
    });
  }
}

/** One layer of each encoding; a layer whose marker character is absent is not scanned for. */
function decodeRound(value: string): string {
  let out = value;
  if (out.includes("%")) {
    // %XX and the IIS-style %uXXXX, and overlong UTF-8 for ASCII (`%c0%ae` is `.`, `%c1%9c` is
    // `\`, `%e0%80%af` and the longer forms up to six bytes are `/`), which lenient decoders
    // still read as the character it spells.
    // No valid UTF-8 starts with `%c0` or `%c1`, so nothing legitimate is changed.
    if (OVERLONG.test(out)) {
      out = out
        .replace(/%c([01])%([0-9a-f]{2})/gi, (_, low: string, hex: string) => String.fromCharCode(((Number(low) & 1) << 6) | (parseInt(hex, 16) & 0x3f)))
        .replace(/%(?:e0|f0%80|f8%80%80|fc%80%80%80)%80%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16) & 0x3f));
    }
    // `%%35%%63`: each digit encoded on its own, for a decoder that decodes twice (`%5c`).
    if (out.includes("%%")) out = out.replace(/%%([0-9a-f]{2})%%([0-9a-f]{2})/gi, (_, a: string, b: string) => `%${String.fromCharCode(parseInt(a, 16))}${String.fromCharCode(parseInt(b, 16))}`);
    if (/%u[0-9a-f]{4}/i.test(out)) out = out.replace(/%u([0-9a-f]{4})/gi, (_, hex: string) => fromCodePoint(parseInt(hex, 16)));
    out = percentDecoded(out);
  }
  if (out.includes("&")) {
    // &#60; &#x3c; with or without the semicolon, and the named ones that matter here
    out = out
      .replace(/&#x([0-9a-f]{1,6});?/gi, (_, hex: string) => fromCodePoint(parseInt(hex, 16)))
      .replace(/&#(\d{1,7});?/g, (_, dec: string) => fromCodePoint(Number(dec)))
      .replace(/&([a-z]{2,8});/gi, (entity, name: string) => NAMED_ENTITIES[name.toLowerCase()] ?? entity);
  }
  if (out.includes("\\")) {
    // \u003c \u{3c} \x3c
    out = out
      .replace(/\\u\{([0-9a-f]{1,6})\}/gi, (_, hex: string) => fromCodePoint(parseInt(hex, 16)))
      .replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => fromCodePoint(parseInt(hex, 16)))
      .replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      // `\n` and `\r` as JSON and most languages write them: a line break to whatever unescapes the value.
      .replace(/\\([nr])(?![a-z])/g, (_, letter: string) => (letter === "n" ? "\n" : "\r"));
  }
  return out;
}

export function normalizeForDetection(value: string): string {
  let current = value;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = decodeRound(current);
    if (next === current) break;
    current = next;
  }
  // eslint-disable-next-line no-control-regex -- ASCII is already in normal form; NFKC only for the rest
  if (/[^\x00-\x7f]/.test(current)) current = current.normalize("NFKC");
  return foldForDetection(current.replaceAll("\u0000", "\u2400"));
}

/**
 * Lower case, and one space for a run of whitespace, or one line break where the run holds one:
 * a line break ends a shell command and starts a header line, so it must stay what it is.
 */
const OTHER_WHITESPACE = /[^\S ]| {2}/;

export function foldForDetection(value: string): string {
  const lower = value.toLowerCase();
  // Most text has single spaces only, and is left as it is.
  if (!OTHER_WHITESPACE.test(lower)) return lower;
  if (!lower.includes("\n") && !lower.includes("\r")) return lower.replace(/\s+/g, " ");
  return lower.replace(/\s+/g, (run) => (run.includes("\n") || run.includes("\r") ? "\n" : " "));
}

/** Whether a value has anything a decoder would change: most values do not, and skip the work. */
export function needsDecoding(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- a NUL is exactly what must not slip through undecoded
  return /[%&\\\x00]|[^\x00-\x7f]/.test(value);
}
