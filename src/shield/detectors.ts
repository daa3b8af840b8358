export type AttackClass = "sqli" | "xss" | "traversal" | "cmdi";

export interface Rule {
  id: string;
  class: AttackClass;
  /** The pattern cannot match text containing none of these: a substring test is far cheaper than the pattern. */
  hints: readonly string[];
  pattern: RegExp;
}

/**
 * Every repetition in these patterns is bounded, or stops where the next attempt would start, so
 * no input can make a pattern backtrack for long: a field is at most `maxFieldLength` characters,
 * and each match attempt stays linear.
 *
 * Patterns over normalised text (see normalize.ts: decoded, NFKC, lower case, one space for any
 * whitespace run). Each is aimed at a construct that means something to an interpreter and rarely
 * appears in prose; the corpus in bench/corpus/ measures how well that holds.
 */
const COMMANDS =
  "cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|python[23]?|perl|ruby|php|rm|chmod|chown|ping|nslookup|dig|sleep|echo|env|printenv|ifconfig|ps|kill|telnet|powershell|cmd";
/** Commands that fetch or grant: no prose puts them after a `;`. */
const NETWORK_COMMANDS = "wget|curl|nc|ncat|netcat|chmod|chown|telnet|whoami|nslookup|ifconfig|printenv";
/** A command may be named by its path: `/usr/bin/id` runs what `id` does. */
const PATH_PREFIX = "(?:(?:/[a-z0-9._-]{1,64}){0,8}/)?";

export const RULES: readonly Rule[] = [
  // SQL injection: SQL comments are stripped first (see Detector.detect).
  { id: "sqli-union-select", class: "sqli", hints: ["union"], pattern: /\bunion( all| distinct)? ?\(? ?select\b/ },
  { id: "sqli-quote-tautology", class: "sqli", hints: ["'", "\"", "`", ")"], pattern: /['"`)] ?(or|and|\|\||&&) ?\(?(['"`]?[\w-]{0,64}['"`]? ?(=|<>|!=|like|>|<|is )|(true|false|not)\b)/ },
  { id: "sqli-numeric-tautology", class: "sqli", hints: ["="], pattern: /\b(or|and) \({0,8} ?(\d+) ?= ?\({0,8}\2\b/ },
  { id: "sqli-stacked-query", class: "sqli", hints: [";"], pattern: /; ?(drop|delete|insert|update|alter|create|truncate|exec|execute|declare|shutdown|grant)\b/ },
  { id: "sqli-quote-comment", class: "sqli", hints: ["--", "#"], pattern: /['"`] ?\)* ?(--|#)/ },
  { id: "sqli-time-based", class: "sqli", hints: ["(", "waitfor"], pattern: /\b(sleep|benchmark|pg_sleep|dbms_pipe\.receive_message) ?\(|\bwaitfor delay\b/ },
  { id: "sqli-catalog", class: "sqli", hints: ["information_schema", "pg_catalog", "sysobjects", "syscolumns", "sqlite_master", "xp_cmdshell", "mysql.user"], pattern: /\b(information_schema|pg_catalog|sysobjects|syscolumns|sqlite_master|xp_cmdshell|mysql\.user)\b/ },
  { id: "sqli-select-from", class: "sqli", hints: ["select"], pattern: /\bselect\b.{1,80}\bfrom\b.{1,80}\b(where|limit|order by|--)/ },
  { id: "sqli-error-based", class: "sqli", hints: ["extractvalue", "updatexml"], pattern: /\b(extractvalue|updatexml) ?\(/ },
  { id: "sqli-column-probe", class: "sqli", hints: ["order by", "group by", "having"], pattern: /['"`)] ?((order|group) by \d|having \d+ ?=)/ },
  { id: "sqli-into-outfile", class: "sqli", hints: ["into", "load_file"], pattern: /\binto (out|dump)file\b|\bload_file ?\(/ },
  // Cross-site scripting
  { id: "xss-script-tag", class: "xss", hints: ["<"], pattern: /< ?\/? ?script\b/ },
  // The tag's text runs to its first `>`, or, read with its quoted values whole (a `>` inside one
  // does not end the tag for a browser), to the `>` after them; either way it stops at the next
  // tag opening. So however long the attributes before the handler (a bound here was a bypass),
  // each reading is linear: no two attempts read the same text. Both readings are needed: an
  // unclosed or `<`-holding quote defeats the second, a quoted `>` the first.
  {
    id: "xss-event-handler",
    class: "xss",
    hints: ["<"],
    pattern: /<[a-z](?:[^<>]|<(?![a-z]))*[\s/"'](on[a-z]{3,30}) ?=|<[a-z](?:[^<>"']|<(?![a-z])|"(?:[^"<]|<(?![a-z]))*"|'(?:[^'<]|<(?![a-z]))*')*[\s/"'](on[a-z]{3,30}) ?=/,
  },
  // A value that closes an attribute's quote and opens a handler of its own: `" onmouseover=…`.
  { id: "xss-attribute-breakout", class: "xss", hints: ["on"], pattern: /["'`] ?(on[a-z]{3,30}) ?=/ },
  { id: "xss-js-uri", class: "xss", hints: [":"], pattern: /\b(javascript|vbscript|livescript) ?:/ },
  { id: "xss-dangerous-tag", class: "xss", hints: ["<"], pattern: /< ?(iframe|frame|object|embed|applet|base|meta|link|svg|math|form|isindex|template)\b/ },
  { id: "xss-data-html", class: "xss", hints: ["data"], pattern: /\bdata ?: ?(text\/html|image\/svg\+xml|application\/x?html)/ },
  { id: "xss-css-expression", class: "xss", hints: ["expression", "-moz-binding", "srcdoc"], pattern: /\bexpression ?\(|\b-moz-binding\b|\bsrcdoc ?=/ },
  { id: "xss-dom-sink", class: "xss", hints: ["(", "document.", "window.location"], pattern: /\b(document\.(cookie|domain|write)|window\.location|eval\(|settimeout\(|new function ?\(|alert\(|prompt\(|confirm\()/ },
  // Path traversal
  // `..;/` is `../` to Tomcat, which drops a segment's `;` parameters before resolving it.
  { id: "traversal-dot-dot", class: "traversal", hints: [".."], pattern: /(^|[\\/])\.\.(;[^\\/]{0,64})?(?:[\\/]|$)/ },
  { id: "traversal-sensitive-file", class: "traversal", hints: ["/etc/", "/proc/", "windows", "boot.ini", "win.ini", "/.ssh/", "web.config", ".htaccess"], pattern: /(\/etc\/(passwd|shadow|hosts|group)|\/proc\/self\/|c:\\windows\\|\\windows\\system32|boot\.ini|[\\/]win\.ini\b|\/\.ssh\/|web\.config|\.htaccess)/ },
  { id: "traversal-null-byte", class: "traversal", hints: ["\u2400"], pattern: /\u2400/ },
  // File URLs and PHP's stream wrappers, which read local files wherever a URL is included.
  { id: "traversal-file-scheme", class: "traversal", hints: ["file:", "php:", "phar:", "expect:"], pattern: /\bfile:\/\/\/?[a-z/\\]|\bphp:\/\/(filter|input)\b|\b(phar|expect):\/\// },
  // `%c0%af`, an overlong UTF-8 slash some decoders still accept, arrives here as `à¯`.
  { id: "traversal-overlong-slash", class: "traversal", hints: [".."], pattern: /\.\.[\u00e0\u00e1]/ },
  // Command injection
  // After `;` or `|`, which prose and markdown tables use too, a command word counts only when
  // an argument-like token follows it; after `&&`, `||`, a backtick or `$(`, any command word does.
  { id: "cmdi-chained-command", class: "cmdi", hints: [";", "|", "&", "`", "$("], pattern: new RegExp(`(&&|\\|\\||\`|\\$\\() ?${PATH_PREFIX}(${COMMANDS})\\b|(;|\\|) ?${PATH_PREFIX}(${COMMANDS})( ?$| ?[-/~$.;&<>\\d]| -)|(;|\\||&) ?${PATH_PREFIX}(${NETWORK_COMMANDS})\\b`) },
  // Shell syntax that names a command without spelling it: `/???/??t` (globs), `{ls,-la}` (braces).
  { id: "cmdi-obfuscated-command", class: "cmdi", hints: ["?", "*", "{"], pattern: new RegExp(`(;|\\||&|\`|\\$\\() ?(\\/[?*]{1,8}\\/|\\{(${COMMANDS}),)`) },
  { id: "cmdi-substitution", class: "cmdi", hints: ["$(", "`", "${"], pattern: new RegExp(`\\$\\( ?[a-z]{2,}[^)]{0,200}\\)|\`(${COMMANDS})\\b[^\`]{0,200}\`|\\$\\{ifs\\}`) },
  { id: "cmdi-shell-path", class: "cmdi", hints: ["/bin/", "cmd", "powershell"], pattern: /\/bin\/(ba|z|da|k)?sh\b|\bcmd(\.exe)? \/c\b|\bpowershell(\.exe)? -/ },
];

export interface Detection {
  rule: string;
  class: AttackClass;
}

/**
 * All enabled rules of a text kind as one alternation: one scan of the string instead of one per
 * rule. Only when it matches are the rules tried one by one, to name the one that did.
 */
function combined(rules: readonly Rule[]): RegExp | undefined {
  return rules.length === 0 ? undefined : new RegExp(rules.map((r) => `(?:${r.pattern.source})`).join("|"));
}

export class Detector {
  private readonly sqlRules: readonly Rule[];
  private readonly otherRules: readonly Rule[];
  private readonly sqlScan: RegExp | undefined;
  private readonly otherScan: RegExp | undefined;

  constructor(classes: ReadonlySet<AttackClass>) {
    const enabled = RULES.filter((r) => classes.has(r.class));
    this.sqlRules = enabled.filter((r) => r.class === "sqli");
    this.otherRules = enabled.filter((r) => r.class !== "sqli");
    this.sqlScan = combined(this.sqlRules);
    this.otherScan = combined(this.otherRules);
  }

  get enabled(): boolean {
    return this.sqlScan !== undefined || this.otherScan !== undefined;
  }

  /** The first matching rule, if any, over normalised text. */
  detect(normalized: string): Detection | undefined {
    if (this.otherScan !== undefined) {
      if (this.otherScan.test(normalized)) return firstMatch(this.otherRules, normalized);
      // A shell joins `c''at`, `c""at` and `c\at` into `cat`.
      const unquoted = normalized.replace(SHELL_QUOTING, "");
      if (unquoted !== normalized && this.otherScan.test(unquoted)) return firstMatch(this.otherRules, unquoted);
    }
    if (this.sqlScan === undefined) return undefined;
    const sql = normalized.includes("/*") ? withoutSqlComments(normalized) : normalized;
    return this.sqlScan.test(sql) ? firstMatch(this.sqlRules, sql) : undefined;
  }
}

const SHELL_QUOTING = /''|""|\\(?=[a-z])/g;

/**
 * SQL comments are stripped, so `un/**\/ion` reads `union`, except MySQL's executable comments
 * (`/*!50000union*\/`), whose content MySQL runs: only their markers go.
 */
function withoutSqlComments(text: string): string {
  const stripped = text.replace(/\/\*(?!!).*?\*\//g, "");
  return stripped.includes("/*!") ? stripped.replace(/\/\*!\d*|\*\//g, " ").replace(/ {2,}/g, " ") : stripped;
}

function firstMatch(rules: readonly Rule[], text: string): Detection | undefined {
  for (const rule of rules) if (containsAny(text, rule.hints) && rule.pattern.test(text)) return { rule: rule.id, class: rule.class };
  return undefined;
}

function containsAny(text: string, hints: readonly string[]): boolean {
  for (const hint of hints) if (text.includes(hint)) return true;
  return false;
}
