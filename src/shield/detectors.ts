import type { Finder, ParanoiaLevel } from "./detect/finding.js";
import { crossSiteScripting } from "./detect/html.js";
import { fileInclusion, headerInjection, javaInjection, ldapInjection, nosqlInjection, serverSideRequestForgery, templateInjection, xpathInjection } from "./detect/patterns.js";
import { START_COMMAND, commandInjection } from "./detect/shell.js";
import { SQL_WORDS, sqlInjection } from "./detect/sql.js";
import { SENSITIVE_FILES, pathTraversal } from "./detect/traversal.js";
import { foldForDetection, needsDecoding, normalizeForDetection } from "./normalize.js";

export type { ParanoiaLevel } from "./detect/finding.js";

export const ATTACK_CLASSES = ["sqli", "xss", "traversal", "cmdi", "inclusion", "java", "ssti", "nosql", "ldap", "xpath", "crlf", "ssrf"] as const;
export type AttackClass = (typeof ATTACK_CLASSES)[number];

/** Where a text came from: names (JSON keys, query and form names) are read for operators only a name can carry. */
export type TextKind = "value" | "key" | "header";

export interface Detection {
  rule: string;
  class: AttackClass;
  /** The lowest paranoia level the rule runs at. */
  level: ParanoiaLevel;
  /** What the finding adds to its class's anomaly score (see Inspection). */
  score: number;
}

type ClassDetector = (text: string, find: Finder, level: ParanoiaLevel, kind: TextKind) => void;

const DETECTORS: Record<AttackClass, ClassDetector> = {
  sqli: sqlInjection,
  xss: crossSiteScripting,
  traversal: pathTraversal,
  cmdi: commandInjection,
  inclusion: fileInclusion,
  java: javaInjection,
  ssti: templateInjection,
  nosql: nosqlInjection,
  ldap: ldapInjection,
  xpath: xpathInjection,
  crlf: headerInjection,
  ssrf: serverSideRequestForgery,
};

/**
 * Every rule is as severe as CRS's critical ones: one finding reaches the default threshold of
 * 5, so scores matter when a route raises its threshold to ask for two findings before refusing.
 */
const SCORE = 5;

export interface DetectorOptions {
  classes: ReadonlySet<AttackClass>;
  /** Rules above this level are not run (default 1). */
  paranoia?: ParanoiaLevel;
  /**
   * Off: every class's detector reads every text, whatever characters it holds. Only for
   * checking that the level-1 shortcut (NEEDS below) never hides a finding: the bench and the
   * tests compare both.
   */
  shortcut?: boolean;
}

/**
 * At level 1 every rule of a class needs one of its characters here, or one of the words
 * below: most values (names, addresses, sentences, ids) have few of them, so one scan of the
 * text decides which detectors are worth running. Each bit is one character, or a pair.
 */
const enum Has {
  Quote = 1, Lt = 2, Gt = 4, Semicolon = 8, Pipe = 16, Ampersand = 32, Dollar = 64, Paren = 128, Brace = 256, Bracket = 512,
  Backslash = 1024, Percent = 2048, Equals = 4096, Star = 8192, At = 16384, Hash = 32768, LineBreak = 65536, Colon = 131072,
  Slash = 262144, DotDot = 524288, NonAscii = 1048576, Underscore = 2097152, DashDash = 4194304, Backtick = 8388608,
}

/** Letters, digits, spaces and the punctuation of prose (no `--`, no `..`): a text of only these sets no bit. */
const PLAIN_TEXT = /^[a-z0-9 ,.!?+-]*$/;

/** The bit of each ASCII character that has one. */
const BITS = new Uint32Array(128);
for (const [characters, bit] of [
  ["'\"", Has.Quote], ["`", Has.Quote | Has.Backtick], ["<", Has.Lt], [">", Has.Gt], [";", Has.Semicolon], ["|", Has.Pipe],
  ["&", Has.Ampersand], ["$", Has.Dollar], ["()", Has.Paren], ["{}", Has.Brace], ["[]", Has.Bracket], ["\\", Has.Backslash],
  ["%", Has.Percent], ["=", Has.Equals], ["*", Has.Star], ["@", Has.At], ["#", Has.Hash], ["\n\r", Has.LineBreak],
  [":", Has.Colon], ["/", Has.Slash], ["_", Has.Underscore],
] as const) {
  for (const character of characters) BITS[character.charCodeAt(0)] = bit;
}

function characters(text: string): number {
  if (PLAIN_TEXT.test(text) && !text.includes("--") && !text.includes("..")) return 0;
  let mask = text.includes("..") ? Has.DotDot : 0;
  if (text.includes("--")) mask |= Has.DashDash;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    mask |= c < 128 ? BITS[c]! : Has.NonAscii;
  }
  return mask;
}

/** What each class's level-1 rules need, as characters, or as words for the few that need none. */
const NEEDS: Record<AttackClass, { characters: number; words?: RegExp }> = {
  sqli: { characters: Has.Quote | Has.Semicolon | Has.At | Has.Paren | Has.Equals | Has.Lt | Has.Gt | Has.Hash | Has.DashDash | Has.Underscore | Has.Star | Has.DotDot | Has.NonAscii, words: SQL_WORDS },
  xss: { characters: Has.Lt | Has.Quote | Has.Colon | Has.Paren | Has.Equals | Has.NonAscii, words: /binding|behavior/ },
  traversal: { characters: Has.DotDot | Has.Slash | Has.Backslash | Has.NonAscii, words: new RegExp(`0x(2e|2f|5c)|${SENSITIVE_FILES.source}`) },
  cmdi: { characters: Has.Semicolon | Has.Pipe | Has.Ampersand | Has.Backtick | Has.LineBreak | Has.Dollar | Has.Brace | Has.Lt | Has.Gt | Has.Paren | Has.Slash | Has.Backslash | Has.Percent | Has.NonAscii, words: new RegExp(`${START_COMMAND.source}|\\bnet (user|view|share|localgroup)\\b`) },
  inclusion: { characters: Has.Colon | Has.Lt },
  java: { characters: Has.Dollar | Has.Hash | Has.Percent | Has.NonAscii, words: /java\.|getruntime|processbuilder|ro0ab/ },
  ssti: { characters: Has.Brace | Has.Lt | Has.Underscore | Has.Paren | Has.Hash, words: /freemarker/ },
  nosql: { characters: Has.Dollar | Has.Paren | Has.Semicolon | Has.Quote, words: /this\.|db\./ },
  ldap: { characters: Has.Paren | Has.Star },
  xpath: { characters: Has.Colon | Has.Paren | Has.Pipe | Has.Slash },
  crlf: { characters: Has.LineBreak },
  ssrf: { characters: Has.Colon },
};

/** The readers that see line breaks as such. */
const LINE_SENSITIVE: ReadonlySet<AttackClass> = new Set(["sqli", "cmdi", "crlf"]);

/** Any of the words above: one scan tells whether the classes' own need be tried. */
const ANY_WORD = new RegExp(
  Object.values(NEEDS)
    .flatMap((needs) => (needs.words === undefined ? [] : [needs.words.source]))
    .join("|"),
);

const REMEMBERED = 2_048;
const REMEMBERED_LENGTH = 256;

/** The attack detectors of the enabled classes at one paranoia level, over normalised text (normalize.ts). */
export class Detector {
  readonly paranoia: ParanoiaLevel;
  private readonly shortcut: boolean;
  private readonly remembered: Record<TextKind, Map<string, readonly Detection[]>> = { value: new Map(), key: new Map(), header: new Map() };
  private readonly classes: readonly { cls: AttackClass; characters: number; words: RegExp | undefined; detect: ClassDetector }[];

  constructor(options: DetectorOptions) {
    this.paranoia = options.paranoia ?? 1;
    this.shortcut = this.paranoia === 1 && options.shortcut !== false;
    this.classes = ATTACK_CLASSES.filter((c) => options.classes.has(c)).map((cls) => ({ cls, ...NEEDS[cls], words: NEEDS[cls].words, detect: DETECTORS[cls] }));
  }

  get enabled(): boolean {
    return this.classes.length > 0;
  }

  /**
   * The detections of a raw value, normalised first. Requests repeat their values (the same
   * `User-Agent` and `Accept` on every request of a client, `"status": "active"` in every
   * record), so short values are remembered, a few thousand a kind, the oldest forgotten first.
   * An attacker sending unique values only makes it forget; what is remembered is what the
   * detectors would answer again.
   */
  inspect(value: string, kind: TextKind = "value"): readonly Detection[] {
    const memory = value.length <= REMEMBERED_LENGTH ? this.remembered[kind] : undefined;
    const known = memory?.get(value);
    if (known !== undefined) return known;
    const found = this.detect(needsDecoding(value) ? normalizeForDetection(value) : foldForDetection(value), kind);
    if (memory !== undefined) {
      if (memory.size >= REMEMBERED) memory.delete(memory.keys().next().value!);
      memory.set(value, found);
    }
    return found;
  }

  /** At most one detection a class: the first rule at or below the paranoia level that matched. */
  detect(normalized: string, kind: TextKind = "value"): Detection[] {
    const found: Detection[] = [];
    const mask = this.shortcut ? characters(normalized) : -1;
    // A line break is whitespace to every language but the shell and HTTP's header lines (and
    // SQL's `--` comments, which the SQL reader sees ending there): the others read it as a
    // space, so no pattern written with a space is walked past with a `%0a`.
    const flat = normalized.includes("\n") ? normalized.replaceAll("\n", " ") : normalized;
    const words = mask !== -1 && ANY_WORD.test(flat);
    let current: AttackClass = "sqli";
    let done = false;
    const find: Finder = (rule, level) => {
      if (done || level > this.paranoia) return false;
      found.push({ rule, class: current, level, score: SCORE });
      done = true;
      return true;
    };
    for (const { cls, characters: needed, words: classWords, detect } of this.classes) {
      if ((mask & needed) === 0 && (!words || classWords === undefined || !classWords.test(flat))) continue;
      current = cls;
      done = false;
      detect(LINE_SENSITIVE.has(cls) ? normalized : flat, find, this.paranoia, kind);
    }
    return found;
  }
}
