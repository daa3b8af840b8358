import { isValidIBAN } from "ibantools";
import ipaddr from "ipaddr.js";
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";

export const ENTITIES = ["email", "phone", "card", "iban", "ssn", "ip", "jwt", "secret", "bearer", "sensitive_value"] as const;
export type Entity = (typeof ENTITIES)[number];

export interface Finding {
  entity: Entity;
  start: number;
  end: number;
}

export interface DetectorOptions {
  /** Regions whose national phone formats are recognised (without a leading +). */
  phoneRegions: readonly CountryCode[];
}

/*
 * The detectors are written by hand, around the libraries that validate: no library finds these
 * entities in text at tens of MB/s (redact-pii runs one regex per entity over the whole text and
 * validates nothing). Each scan is linear: literal anchors (`@`, `eyJ`, a digit, a key's prefix)
 * are found first and expanded within fixed bounds, so no input makes a pattern backtrack.
 */

/** Character classes of ASCII, one bit each, so that the scans test a code rather than run a regex per character. */
const C_WORD = 1;
const C_LOCAL = 2;
const C_DOMAIN = 4;
const C_KEY = 8;
const C_VALUE_END = 16;
const C_SEPARATOR = 32;
const CLASSES = new Uint8Array(128);
const mark = (chars: string, bit: number) => {
  for (const ch of chars) CLASSES[ch.charCodeAt(0)]! |= bit;
};
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
mark(`${ALNUM}_`, C_WORD);
// The local parts people use (RFC 5322 allows more, such as "/" and "=", which would swallow a path or a query before it).
mark(`${ALNUM}._%+'-`, C_LOCAL);
mark(`${ALNUM}.-`, C_DOMAIN);
mark(`${ALNUM}_.-`, C_KEY);
mark(" \t\r\n\"'&,;}])", C_VALUE_END);
// Inside a written number: a space, - . / and parentheses (and the no-break space, below).
mark(" -./()", C_SEPARATOR);
const is = (code: number, bit: number) => code < 128 && (CLASSES[code]! & bit) !== 0;
const isWord = (text: string, i: number) => is(text.charCodeAt(i), C_WORD);
const isSeparator = (code: number) => is(code, C_SEPARATOR) || code === 0xa0;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlnum = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

// --- email: every '@', expanded left over the local part and right over the domain ---------------


function emails(text: string, out: Finding[]): void {
  emailsAround(text, "@", out);
  // Paths and queries are logged as sent: an address in one is often percent-encoded.
  if (text.includes("%40")) emailsAround(text, "%40", out);
}

function emailsAround(text: string, sign: string, out: Finding[]): void {
  for (let at = text.indexOf(sign); at !== -1; at = text.indexOf(sign, at + 1)) {
    let start = at;
    while (start > 0 && at - start < 64 && is(text.charCodeAt(start - 1), C_LOCAL)) start--;
    while (start < at && (text[start] === "." || text[start] === "'")) start++;
    if (start === at) continue;
    const domainStart = at + sign.length;
    let end = domainStart;
    while (end < text.length && end - domainStart < 253 && is(text.charCodeAt(end), C_DOMAIN)) end++;
    while (end > domainStart && (text[end - 1] === "." || text[end - 1] === "-")) end--;
    const labels = text.slice(domainStart, end).split(".");
    if (labels.length < 2 || labels.some((l) => l === "" || l.length > 63 || l.startsWith("-"))) continue;
    if (!/^[A-Za-z]{2,24}$/.test(labels.at(-1)!)) continue;
    out.push({ entity: "email", start, end });
  }
}

// --- numbers: runs of digits and the separators people write them with -----------------------------

const DATE = /^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})(?![\d])/;
const PHONE_EXTENSION = /^(?:x|ext\.?)\d{1,6}(?![\w])/i;
const PHONE_CONTEXT = /(?:phone|tel|mobile|cell|call|sms|fax|whatsapp|contact|telefon|t[ée]l[ée]phone)\W{0,3}[\w ]{0,12}$/i;
const DOTTED = /(?:^|\s)\d+\.\d+\.\d+/;
const NANP = new Set(["US", "CA"]);
const SSN = /^(\d{3})([- ])(\d{2})\2(\d{4})$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes of the card networks, and their lengths: a Luhn-valid id under none of them is not a card. */
function cardNetwork(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === "4") return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305) || p3 === 309) return n >= 14 && n <= 19; // Diners
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 16 && n <= 19; // Maestro (its rare 12- to 15-digit cards would make order numbers cards)
  return false;
}

/** Card groups as printed: all digits, or groups split by single spaces or dashes only. */
const CARD_SHAPE = /^\d{4}([ -]?)\d{4,6}(?:\1\d{1,5}){0,3}$/;

function validSsn(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

const NUMBER_START = /[\d+(]/g;

function numbers(text: string, out: Finding[], options: DetectorOptions): void {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    NUMBER_START.lastIndex = i;
    if (NUMBER_START.exec(text) === null) return;
    i = NUMBER_START.lastIndex - 1;
    const c = text.charCodeAt(i);
    const plus = c === 43 && i + 1 < n && isDigit(text.charCodeAt(i + 1));
    const paren = c === 40 && i + 1 < n && isDigit(text.charCodeAt(i + 1));
    if (!isDigit(c) && !plus && !paren) continue;
    // A run that begins inside a word, or inside a dotted or dashed token (a UUID, a version), is not a number of its own.
    if (i > 0) {
      const before = text.charCodeAt(i - 1);
      if (is(before, C_WORD)) {
        while (i + 1 < n && (isWord(text, i + 1) || ((text[i + 1] === "." || text[i + 1] === "-") && i + 2 < n && isWord(text, i + 2)))) i++;
        continue;
      }
      if ((before === 46 || before === 45) && i > 1 && isAlnum(text.charCodeAt(i - 2))) {
        while (i + 1 < n && isWord(text, i + 1)) i++;
        continue;
      }
    }
    let end = i + 1;
    let digits = isDigit(c) ? 1 : 0;
    // Parentheses hold an area code at the start, or after a country code: "(415) 555", "+44 (0)20"; "#51 (40" is two numbers.
    let parenOpen = paren;
    while (end < n && end - i < 48) {
      const code = text.charCodeAt(end);
      if (isDigit(code)) {
        digits++;
        end++;
        continue;
      }
      if (!isSeparator(code)) break;
      if (code === 40) {
        if (parenOpen || !plus || digits > 3) break;
        parenOpen = true;
      } else if (code === 41) {
        if (!parenOpen) break;
        parenOpen = false;
      }
      if (text.charCodeAt(end + 1) === 40 && (parenOpen || !plus || digits > 3)) break;
      const next = text.charCodeAt(end + 1);
      // One separator between digits, or a parenthesis beside a space: "(415) 555".
      if (isDigit(next)) {
        end += 1;
        continue;
      }
      if (isSeparator(next) && (code === 41 || next === 40) && end + 2 < n && isDigit(text.charCodeAt(end + 2))) {
        end += 2;
        continue;
      }
      break;
    }
    if (end < n && text[end] === ")" && text.slice(i, end).includes("(")) end++;
    // "415-555-2671x204": an extension written onto the number is part of it, not a word it sits in.
    const extension = end < n && isWord(text, end) ? PHONE_EXTENSION.exec(text.slice(end, end + 12)) : null;
    // A run that ends inside a word is part of that word.
    if (end < n && isWord(text, end) && extension === null) {
      i = end;
      while (i + 1 < n && isWord(text, i + 1)) i++;
      continue;
    }
    const run = text.slice(i, end);
    const date = DATE.exec(run);
    if (date !== null) {
      i += date[0].length - 1;
      continue;
    }
    if (digits >= 4) {
      // Dotted numbers (addresses, versions, dates) stand alone: "10.0.0.1 1.2.3.4.5" is two tokens, not one number.
      if (run.includes(" ") && DOTTED.test(run)) {
        for (const piece of run.matchAll(/\S+/g)) {
          const pieceDigits = piece[0].replace(/\D/g, "").length;
          if (pieceDigits >= 4 && DATE.exec(piece[0]) === null) classify(text, piece[0], i + piece.index, pieceDigits, out, options);
        }
      } else {
        classify(text, run, i, digits, out, options);
        const found = out.at(-1);
        if (extension !== null && found?.entity === "phone" && found.end === end) found.end += extension[0].length;
      }
    }
    i = end + (extension?.[0].length ?? 0) - 1;
  }
}

function classify(text: string, run: string, start: number, digitCount: number, out: Finding[], options: DetectorOptions): void {
  const end = start + run.length;
  const ip = IPV4.exec(run);
  if (ip !== null) {
    // Dotted quads only: "1.2.3" and "1.2.3.4.5" are versions, and the run check left them out.
    if (ip.slice(1).every((octet) => Number(octet) <= 255 && (octet.length === 1 || octet[0] !== "0"))) out.push({ entity: "ip", start, end });
    return;
  }
  const digits = run.replace(/\D/g, "");
  if (digitCount >= 13 && digitCount <= 19 && CARD_SHAPE.test(run) && luhn(digits) && cardNetwork(digits)) {
    out.push({ entity: "card", start, end });
    return;
  }
  const ssn = SSN.exec(run);
  if (ssn !== null) {
    if (validSsn(Number(ssn[1]), Number(ssn[3]), Number(ssn[4]))) out.push({ entity: "ssn", start, end });
    return;
  }
  if (digitCount < 7 || digitCount > 15) return;
  if (phone(text, run, start, options)) out.push({ entity: "phone", start, end });
}

/**
 * A phone number, as libphonenumber's metadata knows them: international with a +, or national
 * in one of `phoneRegions`. A national number written as bare digits is one only beside a word
 * like "phone" or "tel": otherwise order numbers and timestamps would be phones too.
 */
function phone(text: string, run: string, start: number, options: DetectorOptions): boolean {
  const international = run.startsWith("+");
  if (!international && !/[^\d]/.test(run) && !PHONE_CONTEXT.test(text.slice(Math.max(0, start - 24), start))) return false;
  const key = `${options.phoneRegions.join()} ${run}`;
  let valid = validPhones.get(key);
  if (valid === undefined) {
    valid = international ? parsePhoneNumberFromString(run)?.isValid() === true : nationalPhone(run, options.phoneRegions);
    // Logs repeat themselves: the same number is parsed once in a while, not once a line.
    if (validPhones.size >= 10_000) validPhones.clear();
    validPhones.set(key, valid);
  }
  return valid;
}

const validPhones = new Map<string, boolean>();
/** How many digits a national number has, written with its trunk prefix, where the plan is known: most runs fail this before any parsing. */
const NATIONAL_DIGITS: Readonly<Record<string, readonly [number, number]>> = { US: [10, 11], CA: [10, 11], GB: [10, 11], DE: [6, 13], FR: [10, 10], ES: [9, 9], IT: [6, 11], NL: [10, 10] };

function nationalPhone(run: string, regions: readonly CountryCode[]): boolean {
  const digits = run.replace(/\D/g, "");
  // National formats begin with the trunk prefix 0, but in the North American plan, which has none.
  const trunk = digits[0] === "0";
  for (const region of regions) {
    if (trunk === NANP.has(region)) continue;
    const bounds = NATIONAL_DIGITS[region];
    if (bounds !== undefined && (digits.length < bounds[0] || digits.length > bounds[1])) continue;
    if (parsePhoneNumberFromString(run, region)?.isValid() === true) return true;
  }
  return false;
}

// --- IBAN: two letters, two check digits, then groups; mod-97 and the country's length by ibantools ----

const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g;

function ibans(text: string, out: Finding[]): void {
  IBAN.lastIndex = 0;
  for (let match = IBAN.exec(text); match !== null; match = IBAN.exec(text)) {
    // A word after the number ("… 00 DATE") can look like a group: drop groups from the end until it checks.
    let candidate = match[0];
    while (candidate.length >= 15) {
      if (isValidIBAN(candidate.replace(/ /g, ""))) {
        out.push({ entity: "iban", start: match.index, end: match.index + candidate.length });
        break;
      }
      const cut = candidate.lastIndexOf(" ");
      if (cut < 4) break;
      candidate = candidate.slice(0, cut);
    }
  }
}

// --- IPv6: hex groups and colons, checked by ipaddr.js ------------------------------------------------

const C_HEX_COLON = 64;
mark("0123456789ABCDEFabcdef:", C_HEX_COLON);
const isHexOrColon = (code: number) => is(code, C_HEX_COLON);

/** Each ':' between hex digits or beside another ':': the address-looking token around it, checked whole. */
function ipv6s(text: string, out: Finding[]): void {
  const n = text.length;
  for (let colon = text.indexOf(":"); colon !== -1; colon = text.indexOf(":", colon + 1)) {
    const before = text.charCodeAt(colon - 1);
    const after = text.charCodeAt(colon + 1);
    if (!(isHexOrColon(after) && (isHexOrColon(before) || after === 58))) continue;
    let start = colon;
    while (start > 0 && colon - start < 40 && isHexOrColon(text.charCodeAt(start - 1))) start--;
    let end = colon + 1;
    while (end < n && end - start < 48 && (isHexOrColon(text.charCodeAt(end)) || text.charCodeAt(end) === 46)) end++;
    let zone = end;
    if (text.charCodeAt(end) === 37) for (zone = end + 1; zone < n && zone - end <= 16 && isWord(text, zone); ) zone++;
    colon = end;
    // Inside a longer word or a dotted name it is not an address of its own.
    if ((start > 0 && (isWord(text, start - 1) || text.charCodeAt(start - 1) === 46)) || (zone < n && isWord(text, zone))) continue;
    const value = text.slice(start, end);
    if (!value.includes("::") && value.split(":").length !== 8) continue;
    // "a::b" and "dead::beef" are valid addresses that logs mostly hold as something else (C++ names, labels).
    if (!/\d/.test(value)) continue;
    if (ipaddr.IPv6.isValid(value)) out.push({ entity: "ip", start, end: zone });
  }
}

// --- tokens and secrets, found by their literal prefixes ----------------------------------------------

const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{0,1024}/g;
/** Portcullis keys, then the providers' published formats (AWS, GitHub, Stripe, Slack, Google, Standard Webhooks). */
const SECRET =
  /\b(?:sk_(?:live|test)_[A-Za-z0-9]{24,99}|(?:rk|pk)_(?:live|test)_[A-Za-z0-9]{24,99}|whsec_[A-Za-z0-9+/=]{24,100}|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255}|xox[abposr]-[A-Za-z0-9-]{10,250}|AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,2048})(?![A-Za-z0-9_])|https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/]{20,120}/g;
/**
 * What the literal-prefixed detectors begin with, found in one pass: a line without a private
 * key's header, a JWT's "eyJ", an auth scheme or a secret's prefix is not scanned for them.
 */
const TRIGGERS = /(Bearer|Basic|Token)|(sk_|rk_|pk_|whsec_|A(?:KIA|SIA|GPA|IDA|ROA|NPA|Iza)|gh[pousr]_|github_pat_|xox[abposr]-|ya29\.|hooks\.slack)/g;
const T_PRIVATE_KEY = 1;
const T_JWT = 2;
const T_SCHEME = 4;
const T_SECRET = 8;

function triggersIn(text: string): number {
  // Literal searches are cheaper than the alternation for these two.
  let found = (text.includes("-----BEGIN") ? T_PRIVATE_KEY : 0) | (text.includes("eyJ") ? T_JWT : 0);
  TRIGGERS.lastIndex = 0;
  for (let m = TRIGGERS.exec(text); m !== null && (found & (T_SCHEME | T_SECRET)) !== (T_SCHEME | T_SECRET); m = TRIGGERS.exec(text)) found |= m[1] !== undefined ? T_SCHEME : T_SECRET;
  return found;
}
const BEARER = /\b(?:Bearer|Basic|Token)\s+([A-Za-z0-9._~+/-]{8,4096}=*)/g;
const PRIVATE_KEY = /-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY( BLOCK)?-----/g;

function literal(text: string, pattern: RegExp, entity: Entity, out: Finding[], group = 0): void {
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const offset = group === 0 ? 0 : match[0].indexOf(match[group]!);
    out.push({ entity, start: match.index + offset, end: match.index + offset + match[group]!.length });
  }
}

function endOfValue(text: string, from: number): number {
  const ends = [text.indexOf('"', from), text.indexOf("\n", from)].filter((i) => i !== -1);
  return ends.length === 0 ? text.length : Math.min(...ends);
}

function privateKeys(text: string, out: Finding[]): void {
  for (const match of text.matchAll(PRIVATE_KEY)) {
    const footer = text.indexOf("-----END", match.index + match[0].length);
    const close = footer === -1 ? -1 : text.indexOf("-----", footer + 8);
    // With no footer, all that follows the header is taken for the key (fail closed), to the end of
    // its line or of the JSON string holding it, so a log line keeps its shape.
    const end = close !== -1 ? close + 5 : endOfValue(text, match.index + match[0].length);
    out.push({ entity: "secret", start: match.index, end });
  }
}

// --- values under sensitive names: "password": "…", token=…, Authorization: … -------------------------

const SENSITIVE_WORDS = new Set(["password", "passwd", "pass", "passphrase", "pwd", "secret", "secrets", "token", "authorization", "auth", "cookie", "cookies", "apikey", "credential", "credentials", "csrf", "xsrf", "otp", "pin", "cvv", "cvc", "ssn", "signature", "jwt", "bearer"]);
const SENSITIVE_PAIRS = /(?:api|private|access|secret)_key|client_secret|session_id|set_cookie/;

/** Whether a field's name says its value is a credential or personal, whatever the value looks like. */
export function sensitiveName(name: string): boolean {
  if (!MAYBE_SENSITIVE.test(name)) return false;
  const snake = name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().replace(/[-.]/g, "_");
  if (BENIGN_KEYS.has(snake)) return false;
  const parts = snake.split("_");
  return parts.some((part) => SENSITIVE_WORDS.has(part)) || parts.at(-1) === "key" || SENSITIVE_PAIRS.test(snake);
}

const namesSeen = new Map<string, boolean>();

/** Log lines repeat their field names: each is judged once in a while, not once a line. */
function sensitiveNameCached(name: string): boolean {
  let sensitive = namesSeen.get(name);
  if (sensitive === undefined) {
    sensitive = sensitiveName(name);
    if (namesSeen.size >= 4_096) namesSeen.clear();
    namesSeen.set(name, sensitive);
  }
  return sensitive;
}

/** Names ending in "key" that name no secret. */
const BENIGN_KEYS = new Set(["idempotency_key", "cache_key", "sort_key", "partition_key", "primary_key", "foreign_key", "object_key", "routing_key", "dedup_key", "lookup_key", "public_key", "key_id", "kid"]);
/** A cheap first test most names fail ("level", "time", "msg"): only these go on to the full one. */
const MAYBE_SENSITIVE = /pass|pwd|secret|token|auth|cookie|key|credential|csrf|xsrf|otp|pin|cvv|cvc|ssn|signature|jwt|bearer|session/i;
const AUTH_SCHEME = /^(?:Bearer|Basic|Token|Digest|Negotiate)$/i;

/** Each ':' or '=': the name before it (quoted or not) and, when the name is sensitive, the value after it. */
function keyValues(text: string, out: Finding[]): void {
  const n = text.length;
  let colon = text.indexOf(":");
  let equals = text.indexOf("=");
  while (colon !== -1 || equals !== -1) {
    const i = colon === -1 ? equals : equals === -1 ? colon : Math.min(colon, equals);
    const resume = keyValueAt(text, i, n, out);
    if (colon !== -1 && colon < resume) colon = text.indexOf(":", resume);
    if (equals !== -1 && equals < resume) equals = text.indexOf("=", resume);
  }
}

/** The finding at the separator `i`, if any; returns where to look for the next separator. */
function keyValueAt(text: string, i: number, n: number, out: Finding[]): number {
  let k = i - 1;
  while (k >= 0 && text.charCodeAt(k) === 32) k--;
  const quote = text[k] === '"' || text[k] === "'" ? text[k] : undefined;
  if (quote !== undefined) k--;
  const nameEnd = k + 1;
  while (k >= 0 && nameEnd - k <= 40 && is(text.charCodeAt(k), C_KEY)) k--;
  // A name is at least two characters and begins with a letter: "18:05" and "2026-12-01T18:" are times.
  if (nameEnd - k - 1 < 2 || isDigit(text.charCodeAt(k + 1)) || !sensitiveNameCached(text.slice(k + 1, nameEnd))) return i + 1;
  let v = i + 1;
  while (v < n && text.charCodeAt(v) === 32) v++;
  const open = text[v];
  let end = v;
  if (open === '"' || open === "'") {
    end = ++v;
    while (end < n && end - v < 4096 && text[end] !== open && text[end] !== "\n") end += text[end] === "\\" ? 2 : 1;
  } else {
    while (end < n && end - v < 4096 && !is(text.charCodeAt(end), C_VALUE_END)) end++;
  }
  end = Math.min(end, n);
  // "Authorization: Bearer …": the scheme is no secret; the credential after it is the bearer detector's.
  if (end === v || (open !== '"' && open !== "'" && AUTH_SCHEME.test(text.slice(v, end)))) return end + 1;
  out.push({ entity: "sensitive_value", start: v, end });
  return end + 1;
}

/** Every finding in the text, overlaps resolved: the earliest wins, then the longest, then the most specific. */
export function findAll(text: string, options: DetectorOptions, wanted: ReadonlySet<Entity>): Finding[] {
  const out: Finding[] = [];
  const triggers = triggersIn(text);
  if (wanted.has("sensitive_value")) keyValues(text, out);
  if (wanted.has("secret") && (triggers & T_PRIVATE_KEY) !== 0) privateKeys(text, out);
  if (wanted.has("jwt") && (triggers & T_JWT) !== 0) literal(text, JWT, "jwt", out);
  if (wanted.has("bearer") && (triggers & T_SCHEME) !== 0) literal(text, BEARER, "bearer", out, 1);
  if (wanted.has("secret") && (triggers & T_SECRET) !== 0) literal(text, SECRET, "secret", out);
  if (wanted.has("email")) emails(text, out);
  if (wanted.has("iban")) ibans(text, out);
  if (wanted.has("ip") && text.includes(":")) ipv6s(text, out);
  if (wanted.has("phone") || wanted.has("card") || wanted.has("ssn") || wanted.has("ip")) {
    const found: Finding[] = [];
    numbers(text, found, options);
    for (const f of found) if (wanted.has(f.entity)) out.push(f);
  }
  if (out.length <= 1) return out;
  // A value under a sensitive name that is itself an entity ("ssn: 123-45-6789") is named as that entity.
  out.sort((a, b) => a.start - b.start || b.end - a.end || Number(a.entity === "sensitive_value") - Number(b.entity === "sensitive_value"));
  const kept: Finding[] = [];
  let reach = -1;
  for (const f of out) {
    if (f.start < reach) continue;
    kept.push(f);
    reach = f.end;
  }
  return kept;
}
