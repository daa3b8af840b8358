import type { Finder } from "./finding.js";

/**
 * SQL injection, found by reading the text as SQL would, the way libinjection made known: the
 * text is split into tokens (strings in each dialect's quoting, numbers, variables, keywords,
 * functions, operators, comments) three times over, as it would read where an application puts
 * it bare (`WHERE id = …`), inside single quotes and inside double quotes. An injection is text
 * that, read in one of those places, leaves its literal and goes on as SQL: a quote followed by a
 * logical operator and a comparison, a UNION SELECT, a stacked statement, a comment that cuts the
 * query short. Prose rarely does: after an apostrophe comes a letter (`O'Brien`, `it's`), and an
 * inch mark is followed by a word (`7" #2 needle`).
 *
 * Written here because no maintained Node library does this (libinjection has no JavaScript
 * port kept up to date, and its fingerprint data is one of the yardsticks this project is
 * measured by, so it is not copied). The rules below are this project's own.
 *
 * One pass a reading, no backtracking: cost is linear in the text.
 */

type TokenType =
  | "s" // string literal
  | "1" // number
  | "v" // variable: @x, @@version
  | "n" // bare word: a name
  | "f" // a name called as a function
  | "k" // a clause keyword
  | "E" // a statement's first word
  | "U" // a set operator
  | "&" // and, or, xor, &&, ||
  | "!" // not
  | "o" // an operator
  | "(" | ")" | "," | ";" | "."
  | "c" // a comment
  | "?"; // anything else

interface Tokens {
  types: TokenType[];
  values: string[];
  /** For comments, by token index: whether it directly follows the previous token (`admin'--`), and what the comment holds. */
  comments: Map<number, { tight: boolean; body: string }>;
}

const STATEMENTS = new Set(["backup", "select", "insert", "update", "delete", "drop", "create", "alter", "truncate", "exec", "execute", "declare", "shutdown", "grant", "revoke", "replace", "merge", "call", "handler", "rename", "waitfor", "load", "begin", "set"]);
const SET_OPERATORS = new Set(["union", "intersect", "except", "minus"]);
const LOGIC = new Set(["and", "or", "xor", "&&", "||"]);
const WORD_OPERATORS = new Set(["like", "rlike", "ilike", "regexp", "similar", "is", "in", "between", "div", "mod", "sounds", "glob", "match", "collate", "escape"]);
const CLAUSES = new Set(["from", "where", "into", "outfile", "dumpfile", "limit", "offset", "order", "group", "by", "having", "as", "case", "when", "then", "else", "end", "null", "true", "false", "exists", "distinct", "all", "top", "values", "join", "on", "using", "procedure", "asc", "desc", "delay", "rownum"]);
/** What the rules after a broken literal read: the break shows at once. */
const BREAKOUT_TOKENS = 64;

/** Every word that is not a name, by its token type: one lookup a word. */
const KEYWORDS = new Map<string, TokenType>([
  ...[...CLAUSES].map((w) => [w, "k"] as const),
  ...[...SET_OPERATORS].map((w) => [w, "U"] as const),
  ...[...STATEMENTS].map((w) => [w, "E"] as const),
  ...[...WORD_OPERATORS].map((w) => [w, "o"] as const),
  ...[...LOGIC].map((w) => [w, "&"] as const),
  ["not", "!"],
  ["true", "1"],
  ["false", "1"],
  ["null", "1"],
]);

/** Operators, longest first so that `<=>` is not read as `<=` then `>`. */
const OPERATORS = ["<=>", "->>", "#>>", "!~*", "<>", "!=", "<=", ">=", "==", "::", "->", "#>", "@>", "<@", "?|", "?&", "||", "&&", "!~", "~*", "<<", ">>", "=", "<", ">", "+", "-", "*", "/", "%", "^", "|", "&", "~", "!"];

/** Functions that wait, raise an error carrying data, or reach outside the database: no query needs them from user input. */
const ATTACK_FUNCTIONS = new Set([
  "sleep", "benchmark", "pg_sleep", "pg_read_file", "pg_ls_dir", "lo_import", "extractvalue", "updatexml", "load_file", "xp_cmdshell", "xp_dirtree", "sys_eval", "sys_exec",
  "dbms_pipe.receive_message", "dbms_lock.sleep", "utl_inaddr.get_host_name", "utl_inaddr.get_host_address", "utl_http.request", "dbms_xmlgen.getxml", "ctxsys.drithsx.sn",
  "randomblob", "geometrycollection", "multipoint", "polygon", "multipolygon", "linestring", "multilinestring", "exp", "gtid_subset", "name_const", "make_set", "elt", "json_keys",
]);
/** Functions blind injection builds its questions from. */
const SQL_FUNCTIONS = new Set(["ascii", "substring", "substr", "mid", "char", "chr", "length", "len", "count", "if", "iif", "ifnull", "isnull", "nullif", "coalesce", "ord", "hex", "unhex", "concat", "concat_ws", "group_concat", "lower", "upper", "md5", "sha1", "left", "right", "instr", "locate", "position", "strcmp", "rand", "floor", "bin", "conv", "cast", "convert", "row", "exists", "select", "sleep", "benchmark", "pg_sleep", "extractvalue", "updatexml", "database", "version", "user", "schema", "current_user", "db_name", "sqlite_version", "unicode", "soundex", "regexp_like", "utl_inaddr.get_host_name", "dbms_pipe.receive_message"]);

/** What a probe reads to learn the database: harmless in a query the application wrote, telling in input. */
const INFO_FUNCTIONS = new Set(["version", "user", "database", "current_user", "session_user", "system_user", "schema", "db_name", "host_name", "suser_name", "suser_sname", "current_database", "connection_id", "last_insert_id", "row_count", "sqlite_version", "@@version"]);
const CATALOG = /\b(xp_[a-z]+|sp_(addsrvrolemember|addlogin|password|configure|executesql|oacreate|oamethod|makewebtask|adduser|helpdb)|information_schema|pg_catalog|pg_shadow|pg_user|pg_database|sysobjects|syscolumns|sys\.objects|sys\.tables|sqlite_master|sqlite_schema|mysql\.user|mysql\.db|all_tables|all_tab_columns|user_tables|dba_users|v\$version|msysobjects|master\.\.sysdatabases|sysibm\.[a-z0-9_]+|syscat\.[a-z0-9_]+)\b/;

/** A name, qualified ones (`dbms_pipe.receive_message`) whole. */
const WORD = /[a-z0-9_$]+(?:\.[a-z0-9_$]+)*/y;

function isIdentifierChar(ch: string | undefined): boolean {
  if (ch === undefined) return false;
  const c = ch.charCodeAt(0);
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 36;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\n" || ch === "\t" || ch === "\r" || ch === "\v" || ch === "\f";
}

function tokenize(text: string, limit: number): Tokens {
  const tokens: Tokens = { types: [], values: [], comments: new Map() };
  const push = (type: TokenType, value: string) => {
    tokens.types.push(type);
    tokens.values.push(value);
  };
  const comment = (value: string, tight: boolean, body: string) => {
    tokens.comments.set(tokens.types.length, { tight, body });
    push("c", value);
  };
  let i = 0;
  const n = text.length;
  while (i < n && tokens.types.length < limit) {
    const ch = text[i]!;
    if (isSpace(ch)) {
      i++;
      continue;
    }
    // Comments
    if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const close = end === -1 ? n : end + 2;
      // MySQL runs what is inside `/*!…*/`; `/*…*/` elsewhere is nothing, but read with its
      // content removed too, so `UN/**/ION` reads `UNION` for a filter that strips comments.
      if (text[i + 2] === "!") {
        i += 3;
        while (i < n && text[i]! >= "0" && text[i]! <= "9") i++;
        continue;
      }
      comment("/*", i > 0 && !isSpace(text[i - 1]!), text.slice(i + 2, end === -1 ? n : end).trim());
      i = close;
      continue;
    }
    if ((ch === "-" && text[i + 1] === "-") || ch === "#") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      // The body keeps its leading space: `'-- x` cuts a query, `'--no-dice` is an option in code.
      comment(ch === "#" ? "#" : "--", i > 0 && !isSpace(text[i - 1]!), text.slice(i + (ch === "#" ? 1 : 2), stop).trimEnd());
      i = stop;
      continue;
    }
    if (ch === "*" && text[i + 1] === "/") {
      // The end of an executable comment whose start was consumed.
      i += 2;
      continue;
    }
    // Strings in every dialect's quoting; an unterminated one runs to the end.
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < n) {
        if (text[j] === "\\") j += 2;
        else if (text[j] === ch) {
          if (text[j + 1] === ch) j += 2;
          else break;
        } else j++;
      }
      push("s", text.slice(i + 1, Math.min(j, n)));
      i = j + 1;
      continue;
    }
    if (ch === "$" && text[i + 1] === "$") {
      const end = text.indexOf("$$", i + 2);
      push("s", text.slice(i + 2, end === -1 ? n : end));
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (ch === "`" || ch === "[") {
      const close = ch === "`" ? "`" : "]";
      const end = text.indexOf(close, i + 1);
      push("n", text.slice(i + 1, end === -1 ? n : end));
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (ch === "@" && !isIdentifierChar(text[i - 1])) {
      let j = i + 1;
      if (text[j] === "@") j++;
      const start = j;
      while (j < n && isIdentifierChar(text[j])) j++;
      if (j > start) {
        push("v", text.slice(i, j));
        i = j;
        continue;
      }
    }
    if (isDigit(ch) || (ch === "." && isDigit(text[i + 1]))) {
      let j = i + 1;
      while (j < n && (isDigit(text[j]) || text[j] === "." || text[j] === "x" || (text[j]! >= "a" && text[j]! <= "f"))) j++;
      push("1", text.slice(i, j));
      i = j;
      continue;
    }
    if (isIdentifierChar(ch)) {
      WORD.lastIndex = i;
      const word = WORD.exec(text)![0];
      i += word.length;
      // n'…', x'…', e'…', b'…': prefixed string literals.
      if (word.length === 1 && "nxbeq".includes(word) && (text[i] === "'" || text[i] === '"')) continue;
      let k = i;
      while (k < n && isSpace(text[k]!)) k++;
      const called = text[k] === "(";
      const keyword = KEYWORDS.get(word);
      if (keyword === "!" || keyword === "1" || keyword === "&" || keyword === "o") push(keyword, word);
      else if (called && keyword === undefined) push("f", word);
      else push(keyword ?? "n", word);
      continue;
    }
    if (ch === "(" || ch === ")" || ch === "," || ch === ";" || ch === ".") {
      push(ch, ch);
      i++;
      continue;
    }
    const operator = OPERATORS.find((op) => text.startsWith(op, i));
    if (operator !== undefined) {
      push(LOGIC.has(operator) ? "&" : "o", operator);
      i += operator.length;
      continue;
    }
    push("?", ch);
    i++;
  }
  return tokens;
}

const OPERAND = new Set<TokenType>(["s", "1", "v", "n", "f", "("]);

/**
 * Whether a statement could start at `i` (after `;` or a broken literal): each statement's
 * next words, so that `; update me soon` or `; select one` in prose do not count.
 */
function statementAt(t: Tokens, i: number): boolean {
  if (t.types[i] !== "E") return false;
  const word = t.values[i]!;
  const next = t.types[i + 1];
  const nextValue = t.values[i + 1] ?? "";
  switch (word) {
    case "select":
      if (next === "(") return t.types[i + 2] !== ")";
      return next === "f" || next === "v" || next === "1" || next === "s" || (next === "o" && nextValue === "*") || (next === "n" && t.types.slice(i + 2, i + 12).includes("k") && t.values.slice(i + 2, i + 12).includes("from"));
    case "insert":
    case "replace":
      return nextValue === "into";
    case "update":
      return next === "n" && t.values[i + 2] === "set";
    case "delete":
      return nextValue === "from";
    case "drop":
    case "create":
    case "alter":
    case "truncate":
      return ["table", "database", "schema", "procedure", "function", "view", "index", "user", "trigger", "login"].includes(nextValue);
    case "exec":
    case "execute":
      return next === "n" || next === "f" || next === "v" || next === "(";
    case "declare":
      return next === "v";
    case "shutdown":
      return next === undefined || next === "c" || next === ";";
    case "waitfor":
      return nextValue === "delay" || nextValue === "time";
    case "grant":
    case "revoke":
      return next === "n" || next === "k";
    case "backup":
      return nextValue === "database" || nextValue === "log";
    default:
      return false;
  }
}

/** From `i`: an expression with a comparison, or a function call: `1=1`, `'a'='a'`, `sleep(5)`, `(select …)`. */
function conditionAt(t: Tokens, i: number, depth = 0): boolean {
  let j = i;
  while (t.types[j] === "(" || t.types[j] === "!") j++;
  const first = t.types[j];
  if (first === "f" || (first === "E" && t.values[j] === "select")) return true;
  if (first === undefined || !OPERAND.has(first)) return false;
  j++;
  while (t.types[j] === ")") j++;
  const after = t.types[j];
  if (after === "!") j++;
  if (t.types[j] === "o") return t.types[j + 1] !== undefined && (OPERAND.has(t.types[j + 1]!) || t.types[j + 1] === "!" || t.types[j + 1] === "o" || t.types[j + 1] === "k");
  // A bare operand ending the text or cut by a comment: `' or 1--`, `' or true`; or one
  // chained to a condition: `'=' 'or' and '=' 'or'`.
  if (after === "&" && depth < 4) return first === "1" || conditionAt(t, j + 1, depth + 1);
  return after === undefined || after === "c" || after === ";";
}

/** `1=1`, `('a'='a'`: a comparison of a literal with itself. */
function tautologyAt(t: Tokens, i: number): boolean {
  let j = i;
  while (t.types[j] === "(") j++;
  return t.values[j + 1] === "=" && t.values[j] === t.values[j + 2] && (t.types[j] === "1" || t.types[j] === "s");
}

/** Whether the parentheses closing before `i` close a literal (`1))`), not a call (`close()`). */
function valueBefore(t: Tokens, i: number): boolean {
  let j = i - 1;
  if (t.types[j] !== ")") return false;
  while (t.types[j] === ")") j--;
  return t.types[j] === "1" || t.types[j] === "s";
}

/**
 * A comment that ends the query on purpose: with nothing in it (`admin'--`, `admin' #`, `1' -- -`),
 * or glued to the quote with a space after it (`admin'-- x`). A comment with words after a space
 * (`7" #2 circular needle`) or none (`'--no-dice'`) is more likely text.
 */
function cutsQuery(t: Tokens, i: number): boolean {
  const found = t.comments.get(i);
  if (found === undefined) return false;
  if (t.values[i] === "/*") return true;
  return /^[-+ ]*$/.test(found.body) || (found.tight && found.body.startsWith(" "));
}

/** A union with its select: `union all select`, `union(select`, `union distinct select`. */
function unionAt(t: Tokens, i: number): boolean {
  if (t.types[i] !== "U") return false;
  let j = i + 1;
  if (t.values[j] === "all" || t.values[j] === "distinct") j++;
  while (t.types[j] === "(") j++;
  return t.types[j] === "E" && t.values[j] === "select";
}

/** Operators a break out of a literal goes on with: comparisons, concatenation, arithmetic (not `%`, `/`, `->`, which code puts after strings). */
const BREAK_OPERATORS = new Set(["=", "<>", "!=", "<=>", "==", "||", "+", "-", "*", "^", "&", "|", "<", ">", "<=", ">=", "like", "rlike", "ilike", "regexp", "is", "in", "between", "div", "sounds", "glob", "similar"]);

/** The text read from just after a broken literal: what comes there decides. */
function breakout(t: Tokens, find: Finder): void {
  let i = 1;
  while (t.types[i] === ")") i++;
  const type = t.types[i];
  if (type === undefined) return;
  // `' or 1=1`, `' and sleep(5)`; `' || 'x` (an operand left for the application's own quote to close) only from level 2.
  if (type === "&" && conditionAt(t, i + 1) && (t.types[i + 2] !== undefined || t.types[i + 1] !== "s") && find("sqli-break-condition", 1)) return;
  if (type === "&" && /^[a-z]/.test(t.values[i]!) && conditionAt(t, i + 1) && find("sqli-break-condition", 1)) return;
  if (type === "&" && conditionAt(t, i + 1) && find("sqli-break-condition", 2)) return;
  if (type === "!" && t.types[i + 1] === "o" && OPERAND.has(t.types[i + 2] ?? "?") && find("sqli-break-condition", 1)) return;
  if (type === "U" && unionAt(t, i) && find("sqli-break-union", 1)) return;
  if (type === "E" && statementAt(t, i) && find("sqli-break-statement", 1)) return;
  if (type === ";" && statementAt(t, i + 1) && find("sqli-break-stacked", 1)) return;
  if (type === "c" && cutsQuery(t, i) && find("sqli-break-comment", 1)) return;
  // `'+sleep(5)+'`, `'||(select …)||'`, `'=1 or '`: an operator with more SQL after it. A lone
  // quoted operator (`'+'`, `"*"`) is as often a string in code: from level 2.
  if (type === "o" && BREAK_OPERATORS.has(t.values[i]!) && (t.types[i + 1] === "f" || t.types[i + 1] === "(" || (t.types[i + 1] !== "n" && OPERAND.has(t.types[i + 1] ?? "?") && (t.types[i + 2] === "o" || t.types[i + 2] === "c" || t.types[i + 2] === "&"))) && find("sqli-break-operator", 1)) return;
  if (type === "k") {
    const word = t.values[i];
    if (((word === "order" || word === "group") && t.values[i + 1] === "by" && t.types[i + 2] === "1") && find("sqli-break-order-by", 1)) return;
    if (((word === "having" || word === "where") && conditionAt(t, i + 1)) && find("sqli-break-clause", 1)) return;
    if ((word === "into" && (t.values[i + 1] === "outfile" || t.values[i + 1] === "dumpfile")) && find("sqli-break-outfile", 1)) return;
    if (word === "limit" && t.types[i + 1] === "1" && find("sqli-break-clause", 2)) return;
  }
  if (type === "o" && OPERAND.has(t.types[i + 1] ?? "?") && find("sqli-break-operator", 2)) return;
  if (type === "&" && OPERAND.has(t.types[i + 1] ?? "?") && t.types[i + 2] !== "n" && find("sqli-break-logic", 3)) return;
  if (type === "," && OPERAND.has(t.types[i + 1] ?? "?") && find("sqli-break-list", 3)) return;
}

/** Rules over the text read bare, where it would sit as a number or a name. */
function bare(t: Tokens, find: Finder, start = 0): void {
  const { types, values } = t;
  // A value that is a statement of its own: `exec master..xp_cmdshell 'dir'`, `declare @x …`,
  // and a select ended as a statement is (`select current_setting('port');`).
  if (types[start] === "E" && values[start] !== "select" && values[start] !== "set" && statementAt(t, start) && find("sqli-statement", 1)) return;
  const last = types.length - 1;
  if (types[start] === "E" && values[start] === "select" && last > start + 1 && (types[last] === ";" || types[last] === "c") && find("sqli-statement", 1)) return;
  if (types[start] === "k" && (values[start] === "having" || values[start] === "where") && conditionAt(t, start + 1) && find("sqli-clause", 1)) return;
  for (let i = start; i < types.length; i++) {
    const type = types[i];
    if (type === "U" && unionAt(t, i) && find("sqli-union-select", 1)) return;
    if (type === ";" && statementAt(t, i + 1) && find("sqli-stacked-query", 1)) return;
    if (type === "f" && ATTACK_FUNCTIONS.has(values[i]!)) {
      // `exp(` and `elt(` are ordinary names elsewhere: only with SQL around them.
      if (values[i] !== "exp" && values[i] !== "elt" && values[i] !== "polygon" && find("sqli-attack-function", 1)) return;
      if ((types[i - 1] === "&" || types[i - 1] === "o" || types[i - 1] === "(") && find("sqli-attack-function", 1)) return;
    }
    if (type === "E" && values[i] === "waitfor" && statementAt(t, i) && find("sqli-attack-function", 1)) return;
    if (type === "v" && values[i]!.startsWith("@@") && find("sqli-system-variable", 1)) return;
    if (type === "f" && INFO_FUNCTIONS.has(values[i]!) && types[i + 1] === "(" && types[i + 2] === ")" && find("sqli-info-function", 1)) return;
    if (type === "f" && (values[i] === "cast" || values[i] === "convert")) {
      const inner = values.slice(i + 2, i + 12);
      if ((inner.includes("as") || types.slice(i + 2, i + 8).includes("f")) && find("sqli-cast", 1)) return;
    }
    if (type === "E" && values[i] === "select" && statementAt(t, i) && i + 1 < types.length) {
      const rest = types.slice(i + 1, i + 24);
      // A subquery: `(select …`, `= (select …`, `rlike (select …`.
      if (types[i - 1] === "(" && (types[i - 2] === "o" || types[i - 2] === "&" || types[i - 2] === "," || types[i - 2] === "f" || i - 1 === start) && find("sqli-subquery", 1)) return;
      const calls = t.values.slice(i + 1, i + 24).some((v, k) => rest[k] === "f" && (SQL_FUNCTIONS.has(v) || ATTACK_FUNCTIONS.has(v) || INFO_FUNCTIONS.has(v)));
      if ((calls || rest.includes("v") || rest.includes(",") || values.slice(i + 1, i + 24).includes("*") || rest.includes("c")) && find("sqli-select", 1)) return;
      if (values.slice(i + 1, i + 24).includes("from") && find("sqli-select", 2)) return;
    }
    if ((type === "k" && (values[i] === "order" || values[i] === "group") && values[i + 1] === "by" && types[i + 2] === "1" && (types[i + 3] === undefined || types[i + 3] === "c" || types[i + 3] === ",")) && find("sqli-order-by-probe", 1)) return;
    // `or 1=1`, `where 'a'='a'`: a comparison whose answer is known.
    if ((type === "&" || (type === "k" && (values[i] === "where" || values[i] === "having" || values[i] === "when"))) && tautologyAt(t, i + 1) && find("sqli-tautology", 1)) return;
    if (type === "k" && values[i] === "having" && conditionAt(t, i + 1) && find("sqli-clause", 1)) return;
    if (type === "E" && (values[i] === "exec" || values[i] === "execute") && (types[i + 1] === "(" || types[i + 1] === "v") && find("sqli-statement", 1)) return;
    if (type === "&" && (types[i - 1] === "1" || types[i - 1] === ")" || i === start) && conditionAt(t, i + 1) && types[i + 2] !== undefined) {
      // `1 or 1=1`, `1 and sleep(5)`, a value that starts with `or x=x`; after a call only SQL's
      // own functions count, since prose and code join calls with `and` too (`close() and stop()`).
      const sqlFunction = types[i + 1] === "f" && SQL_FUNCTIONS.has(values[i + 1]!);
      if (((i <= start + 2 && types[i + 1] !== "f") || (valueBefore(t, i) && i <= start + 8) || sqlFunction) && find("sqli-numeric-condition", 1)) return;
      if (find("sqli-condition", 2)) return;
    }
    if (type === "1" && i === 0 && cutsQuery(t, 1) && types.length === 2 && find("sqli-number-comment", 2)) return;
    if (type === "&" && conditionAt(t, i + 1) && types[i + 2] === "o" && find("sqli-condition", 3)) return;
  }
}

/**
 * A cheap look for anything the whole-text rules need: most text has none of it and is not
 * tokenized. In pieces, each behind the character it needs, since one alternation of all of them
 * is tried at every position of every text.
 */
const TRIGGER_WORDS = /union|select|waitfor|order by|group by|having|@@/;
/**
 * What the level-1 rules can match in text with none of the characters SQL needs elsewhere
 * (quotes, operators, parentheses): the detector is only run on such text if it holds one.
 */
export const SQL_WORDS = /union|select|waitfor|order by|group by|having|shutdown|sysobjects|syscolumns|mysql\.|sys\.|sysibm\.|syscat\.|v\$|\b(and|or|xor) (true|false|\d)|^ ?(exec|execute|declare|drop|create|alter|truncate|insert|replace|delete|update|grant|revoke|backup|where|as)\b/;
const TRIGGER_STACKED = new RegExp(`; ?(${[...STATEMENTS].join("|")})\\b`);
const TRIGGER_CALL = new RegExp(`\\b(${[...ATTACK_FUNCTIONS, ...INFO_FUNCTIONS, "cast", "convert", "exec", "execute"].join("|").replaceAll(".", "\\.").replaceAll("@", "")}) ?\\(`);
const TRIGGER_LOGIC = /\b(and|or|xor)\b|&&|\|\|/;
const TRIGGER_CONDITION = /(\b(and|or|xor)\b|&&|\|\|).{0,60}[=<>(]|(\b(and|or|xor)\b|&&|\|\|) \(*(true|false|\d)/;
const TRIGGER_START = /^ ?(having|where|exec|execute|declare|shutdown|waitfor|drop|create|alter|insert|replace|delete|update|truncate|grant|revoke|backup|as)\b|^[\d.]+ ?(--|#|\/\*)/;

function wholeTextRulesMayMatch(text: string): boolean {
  return (
    TRIGGER_WORDS.test(text) ||
    TRIGGER_START.test(text) ||
    (text.includes(";") && TRIGGER_STACKED.test(text)) ||
    (text.includes("(") && TRIGGER_CALL.test(text)) ||
    (TRIGGER_LOGIC.test(text) && TRIGGER_CONDITION.test(text))
  );
}

/**
 * SQL comments are dropped, so `un/**\/ion` reads `union` (to a filter that strips comments it
 * does), except MySQL's executable comments (`/*!50000union*\/`), whose content MySQL runs.
 */
function withoutSqlComments(text: string): string {
  const stripped = text.replace(/\/\*(?!!).*?\*\//g, "");
  return stripped.includes("/*!") ? stripped.replace(/\/\*!\d*|\*\//g, " ") : stripped;
}

export function sqlInjection(text: string, find: Finder): void {
  let found = false;
  const record: Finder = (rule, level) => (found = find(rule, level));
  // A comment is a space to SQL (`'/**/or/**/1=1`), and nothing to a filter that strips it (`UN/**/ION`): both are read.
  if (text.includes("/*")) {
    readAsSql(text.replace(/\/\*(?!!).*?\*\//g, " "), record);
    if (!found) readAsSql(withoutSqlComments(text), record);
  } else readAsSql(text, record);
}

function readAsSql(text: string, find: Finder): void {
  // The tokenizer reads line breaks (a `--` comment ends at one); the patterns that look for
  // words take them for the spaces they are between words.
  const flat = text.includes("\n") ? text.replaceAll("\n", " ") : text;
  const catalog = flat.includes("_") || flat.includes(".") || flat.includes("$") || flat.includes("sys") ? CATALOG.exec(flat) : null;
  if (catalog !== null && find("sqli-catalog", 1)) return;
  // The rules that read a whole text need one of the trigger's words; without them a quoted
  // reading need only go as far as a break out of the literal shows, its first tokens.
  const anywhere = wholeTextRulesMayMatch(flat);
  for (const quote of ["'", '"'] as const) {
    if (!text.includes(quote)) continue;
    const t = tokenize(quote + text, anywhere ? Number.POSITIVE_INFINITY : BREAKOUT_TOKENS);
    // The first token is the application's literal, closed by the text's own quote; unclosed, nothing broke out.
    if (t.types.length > 1) {
      breakout(t, find);
      // What follows the break is SQL as much as a bare value is: `',null) waitfor delay '0:0:5'--`.
      if (anywhere) bare(t, find, 1);
    }
  }
  if (anywhere) bare(tokenize(text, Number.POSITIVE_INFINITY), find);
}
