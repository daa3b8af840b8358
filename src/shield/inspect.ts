import { isOverrideParameter } from "../routing/method.js";
import { ATTACK_CLASSES, type AttackClass, type Detector } from "./detectors.js";
import type { FieldExclusions } from "./exclusions.js";
import type { SHIELD_CHECKS } from "./schema.js";

export type ShieldCheck = (typeof SHIELD_CHECKS)[number];

export interface Finding {
  check: ShieldCheck;
  /** The detector rule or the limit that was passed. */
  rule: string;
  /** Where: `path`, `query.q`, `header.user-agent`, `body.items[2].name`. */
  field: string;
  /** For attack findings: what it adds to its class's anomaly score. */
  score?: number;
}

const ATTACKS: ReadonlySet<string> = new Set(ATTACK_CLASSES);

export function isAttack(check: ShieldCheck): check is AttackClass {
  return ATTACKS.has(check);
}

/**
 * The attack classes whose findings in one request add up to their threshold, CRS's anomaly
 * scoring: with the default threshold one finding is enough, a higher one asks for several.
 */
export function blockingClasses(findings: readonly Finding[], threshold = 5, thresholds: Partial<Record<AttackClass, number>> = {}, beyondReport?: ReadonlyMap<AttackClass, number>): Set<AttackClass> {
  const scores = new Map<AttackClass, number>(beyondReport);
  for (const f of findings) if (isAttack(f.check)) scores.set(f.check, (scores.get(f.check) ?? 0) + (f.score ?? 0));
  const out = new Set<AttackClass>();
  for (const [cls, score] of scores) if (score >= (thresholds[cls] ?? threshold)) out.add(cls);
  return out;
}

export interface InspectionLimits {
  maxJsonDepth: number;
  maxJsonKeys: number;
  maxFieldLength: number;
  maxUrls: number;
  maxPhoneNumbers: number;
  words?: { min: number; max: number; fields: readonly string[] } | undefined;
  detector: Detector;
  exclusions?: FieldExclusions;
  /** A field too long, with `fieldLength` refusing, is refused already: its content is not read on. */
  refusesLongFields?: boolean;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+|\bwww\.[a-z0-9-]+\.[^\s<>"']+/gi;
/** A run of digits with the usual separators; 9 to 15 digits (E.164), so dates and prices are not phones. */
const PHONE_CANDIDATE = /\+?\(?\d[\d\s().-]{7,20}\d/g;
const DATE_LIKE = /^\d{4}-\d{2}-\d{2}/;
/** Nothing can be a phone number without three digits in a row somewhere. */
const DIGIT_RUN = /\d{3}/;

/**
 * Collects findings over the fields of one request: each string is length-checked, counted for
 * URLs and phone numbers, and run through the detectors after normalisation. The report holds 20
 * findings, and past them only each check's first and the attack classes' scores: an attacker
 * can neither make the report the expensive part nor hide a finding behind twenty others.
 */
export class Inspection {
  readonly findings: Finding[] = [];
  /** Attack scores of findings the report had no room for, by class. */
  readonly scoresBeyondReport = new Map<AttackClass, number>();
  private urls = 0;
  private phones = 0;
  private keys = 0;
  /** Arrays of records repeat their keys: each distinct key is inspected once. */
  private readonly seenKeys = new Set<string>();

  constructor(private readonly limits: InspectionLimits) {}

  /**
   * `value` for query and body values, `key` for names, `header` for header and cookie values
   * (their size is the header limit's business, not the field limit's).
   */
  text(field: string, value: string, kind: "value" | "key" | "header" = "value"): void {
    if (kind === "key") {
      // Before the repeated-key shortcut: `prototype` is harmless under most parents, not under `constructor`.
      if (pollutesPrototype(field, value)) this.add("prototypePollution", "__proto__ or constructor.prototype as a key", field);
      if (this.seenKeys.has(value)) return;
      if (this.seenKeys.size < 10_000) this.seenKeys.add(value);
    }
    const tooLong = kind === "value" && value.length > this.limits.maxFieldLength;
    if (tooLong) {
      this.add("fieldLength", `max ${this.limits.maxFieldLength} characters`, field);
      if (this.limits.refusesLongFields) return;
    }
    if (this.limits.words !== undefined && kind === "value" && this.limits.words.fields.includes(lastName(field))) {
      const words = value.trim() === "" ? 0 : value.trim().split(/\s+/).length;
      if (words < this.limits.words.min || words > this.limits.words.max) this.add("words", `${this.limits.words.min}-${this.limits.words.max} words`, field);
    }
    if (value.length >= 10) {
      if (value.includes("http") || value.includes("www.")) this.urls += value.match(URL_PATTERN)?.length ?? 0;
      for (const candidate of (DIGIT_RUN.test(value) && value.match(PHONE_CANDIDATE)) || []) {
        const digits = candidate.replace(/\D/g, "").length;
        if (digits >= 9 && digits <= 15 && !DATE_LIKE.test(candidate.trim())) this.phones++;
      }
    }
    if (!this.limits.detector.enabled || value.length < 2) return;
    for (const detection of this.limits.detector.inspect(value, kind)) {
      if (this.limits.exclusions?.excludes(field, detection.class)) continue;
      this.add(detection.class, detection.rule, field, detection.score);
    }
  }

  /** A parsed JSON value, walked with its depth and total key count bounded. */
  json(field: string, value: unknown, depth = 1): void {
    if (depth > this.limits.maxJsonDepth) {
      this.add("jsonDepth", `max depth ${this.limits.maxJsonDepth}`, field);
      return;
    }
    if (typeof value === "string") this.text(field, value);
    else if (Array.isArray(value)) value.forEach((item, i) => this.json(`${field}[${i}]`, item, depth + 1));
    else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (++this.keys === this.limits.maxJsonKeys + 1) this.add("jsonKeys", `max ${this.limits.maxJsonKeys} keys`, field);
        this.text(`${field}.${key}`, key, "key");
        this.json(`${field}.${key}`, item, depth + 1);
      }
    }
  }

  /**
   * A form or multipart field named `_method`: frameworks that honour it run the request as
   * another method than the one its route was chosen by (the query parameter is refused earlier,
   * for every route, in routing/method.ts).
   */
  formField(field: string, name: string): void {
    if (isOverrideParameter(name)) this.add("methodOverride", "_method field", field);
  }

  /** The request-wide counts, once every field has been seen. */
  finish(): Finding[] {
    if (this.urls > this.limits.maxUrls) this.add("urls", `max ${this.limits.maxUrls} URLs`, "request");
    if (this.phones > this.limits.maxPhoneNumbers) this.add("phoneNumbers", `max ${this.limits.maxPhoneNumbers} phone numbers`, "request");
    return this.findings;
  }

  add(check: ShieldCheck, rule: string, field: string, score?: number): void {
    const finding = score === undefined ? { check, rule, field } : { check, rule, field, score };
    if (this.findings.length < 20) this.findings.push(finding);
    // Past the report's length, a check still gets its first finding, and an attack class's
    // scores still add up: twenty findings of a class under its threshold must not hide
    // another class's, nor the one that would reach the threshold.
    else if (!this.findings.some((f) => f.check === check)) this.findings.push(finding);
    else if (isAttack(check) && score !== undefined) this.scoresBeyondReport.set(check, (this.scoresBeyondReport.get(check) ?? 0) + score);
  }
}

/**
 * A key that a JavaScript upstream merging the input into an object (lodash `merge`, `qs`-style
 * bracket names) would follow onto `Object.prototype`: `__proto__` anywhere in a name, or
 * `prototype` under `constructor`, nested (`field` ends with both) or in one bracketed name.
 */
function pollutesPrototype(field: string, key: string): boolean {
  if (key.includes("__proto__")) return true;
  if (key === "prototype") return field.endsWith(".constructor.prototype");
  return key.includes("constructor") && key.includes("prototype");
}

function lastName(field: string): string {
  return field.slice(field.lastIndexOf(".") + 1).replace(/\[\d+\]$/, "");
}
