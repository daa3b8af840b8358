import ipaddr from "ipaddr.js";
import { classifyAddress, isMetadataHostName } from "../../egress/addresses.js";
import { parseIp } from "../../net/ip.js";
import type { Finder, ParanoiaLevel } from "./finding.js";

/**
 * The attack classes whose syntax is small enough for patterns: each rule is aimed at a construct
 * that means something to one interpreter (PHP's stream wrappers, Log4j's lookups, a template
 * engine's expressions, MongoDB's operators, an LDAP filter, XPath axes, an HTTP header line) and
 * rarely appears in text. Every repetition is bounded or stops where the next attempt would start,
 * so each stays linear. The text is normalised (normalize.ts): decoded, folded, lower case.
 */
type Rule = readonly [rule: string, level: ParanoiaLevel, hint: string, pattern: RegExp];

function run(rules: readonly Rule[], text: string, find: Finder, paranoia: ParanoiaLevel): void {
  for (const [rule, level, hint, pattern] of rules) {
    if (level <= paranoia && text.includes(hint) && pattern.test(text) && find(rule, level)) return;
  }
}

/** Local and remote file inclusion: PHP's wrappers, and URLs shaped to be included rather than linked. */
const INCLUSION: readonly Rule[] = [
  ["inclusion-php-wrapper", 1, ":", /\b(php:\/\/(filter|input|fd|memory|temp|stdin)|(phar|zip|expect|glob|data|compress\.zlib|compress\.bzip2|rar|ogg|ssh2\.[a-z]+):\/\/)/],
  ["inclusion-file-url", 1, "file:", /\bfile:\/\/\/?[a-z/\\]/],
  ["inclusion-data-script", 1, "data:", /\bdata: ?[a-z/+-]*;base64, ?pd9wahag|\bdata:[a-z/+-]*, ?<\?php/],
  // `?x=http://evil/shell.txt?`: the trailing `?` (or a NUL) makes the include ignore the suffix the application appends.
  ["inclusion-remote-url", 1, "://", /^(https?|ftps?|smb|ssh2?):\/\/[^\s?]{1,2048}(\?|\u2400)$/],
  ["inclusion-php-code", 1, "<?", /<\?(php|=)[\s(]/],
  ["inclusion-remote-ip", 2, "://", /^(https?|ftps?):\/\/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/],
];

/**
 * Java: Log4j lookups (`${jndi:ldap://…}`) in every obfuscation Log4j itself undoes (`${lower:j}`,
 * `${::-j}`, `${env:X:-j}`, `${date:'j'}`), expression languages (EL, SpEL, OGNL, MVEL) reaching
 * the runtime, and serialised Java objects.
 */
const JAVA: readonly Rule[] = [
  ["java-jndi-lookup", 1, "${", /\$\{ ?jndi ?:/],
  ["java-lookup", 1, "${", /\$\{ ?(env|sys|java|ctx|main|bundle|docker|k8s|spring|log4j|web|jvmrunargs|marker|base64|sd|map|event) ?:[a-z0-9_.-]/],
  ["java-runtime", 1, "java", /\bjava\.(lang\.(runtime|processbuilder|system|class|reflect|thread)|io\.(file|objectinputstream)|net\.(url|socket))\b|\bjavax\.(script|naming)\b/],
  ["java-runtime", 1, "runtime", /\bgetruntime ?\( ?\) ?\.exec\b|\bprocessbuilder ?\(/],
  ["java-el", 1, "(", /(\$|#|%)\{[^{}]{0,200}(\.getclass ?\(|\.forname ?\(|t ?\( ?java\.|new java\.|\.getruntime|@java\.|#_memberaccess|#context|#request|#response|ognl\.|\.exec ?\()/],
  ["java-ognl", 1, "#", /#_memberaccess|@ognl\.ognlcontext|#(context|attr|application|session|request|parameters)\[|\(#[a-z_]+ ?=|@java\.lang\./],
  ["java-serialized", 1, "ro0ab", /\bro0ab[a-z0-9+/]/],
  // Java's serialisation magic, `AC ED 00 05`, its NUL already shown as U+2400 by the normaliser.
  // eslint-disable-next-line no-control-regex -- the magic holds a control character
  ["java-serialized", 1, "\u00ac\u00ed", /\u00ac\u00ed\u2400\u0005/],
  ["java-el", 2, "{", /(\$|#)\{ ?[a-z_][a-z0-9_.]{0,64}\(/],
];

/** Log4j undoes these before it looks the result up: resolved here the same way, innermost first. */
const LOG4J_WRAPPED = /\$\{ ?(?:lower|upper|date) ?: ?'?([^${}']{0,64})'? ?\}|\$\{ ?[a-z0-9_]{0,32} ?: ?[a-z0-9_.]{0,64} ?:- ?([^${}]{0,64})\}|\$\{ ?::- ?([^${}]{0,64})\}/g;

function unwrapLookups(text: string): string {
  let current = text;
  for (let round = 0; round < 8 && current.includes("${"); round++) {
    const next = current.replace(LOG4J_WRAPPED, (_, a?: string, b?: string, c?: string) => a ?? b ?? c ?? "");
    if (next === current) break;
    current = next;
  }
  return current;
}

/** Server-side template injection: an expression in a template language's delimiters that computes, or walks to the runtime. */
const SSTI: readonly Rule[] = [
  // Walked to, not named: `''.__class__`, `__builtins__.`, `['__globals__']` (docs name `__init__.py` all the time).
  ["ssti-python-internals", 1, "__", /[.'"[]__(class|mro|subclasses|globals|builtins|import|init|base|bases|getattribute|reduce|dict)__|__(class|mro|subclasses|globals|builtins)__ ?(\.|\[|\()/],
  ["ssti-arithmetic", 1, "{", /(\{\{|\$\{|#\{|\{%|\{#|<%=?|@\() ?-?\d+ ?[*+/-] ?-?\d+ ?(\}\}|\}|%\}|#\}|%>|\))/],
  ["ssti-arithmetic", 1, "<%", /<%=? ?-?\d+ ?[*+/-] ?-?\d+ ?%>/],
  ["ssti-engine-object", 1, "{", /\{\{[^{}]{0,200}\b(config|self|request|lipsum|cycler|joiner|namespace|range|url_for|get_flashed_messages|_self\.env|app\.request)\b[^{}]{0,200}(\.|\||\[)[^{}]{0,200}\}\}/],
  ["ssti-engine-object", 1, "{", /\{\{[^{}]{0,200}(constructor ?\.constructor|\|attr ?\(|\| ?map ?\(|\.__|\['__)[^{}]{0,200}\}\}/],
  ["ssti-freemarker", 1, "execute", /freemarker\.template\.utility\.(execute|objectconstructor|jythonruntime)|\?new ?\( ?\)/],
  ["ssti-velocity", 1, "#set", /#set ?\( ?\$[a-z_]+ ?= ?[^)]{0,200}\.(getclass|forname|class)\b/],
  ["ssti-smarty", 1, "{", /\{(php|system|exec|passthru)\b[^{}]{0,200}\}|\{\$smarty\.|\{if [a-z_]+ ?\(/],
  ["ssti-erb", 1, "<%", /<%=? ?(system|exec|file\.open|io\.popen|`|eval|%x)\b/],
  ["ssti-expression", 2, "{{", /\{\{ ?[a-z_][a-z0-9_]{0,64}\.[a-z_][a-z0-9_.]{0,64} ?\}\}/],
  ["ssti-expression", 2, "{", /(\{\{|\{%)[^{}]{0,200}(\(|\[|\|)[^{}]{0,200}(\}\}|%\})/],
  ["ssti-expression", 3, "{", /\{\{ ?[a-z_][a-z0-9_.]{0,64} ?\}\}|\$\{ ?[a-z_][a-z0-9_.]{0,64} ?\}/],
];

/** MongoDB's query operators: as a JSON key (`{"$ne": …}`), in a bracketed query name (`user[$ne]=`), or a `$where` script. */
const NOSQL_OPERATORS = "ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|not|nor|expr|function|accumulator|elemmatch|type|size|all|mod|text|jsonschema|lookup|merge|out";
const NOSQL_OPERATOR_NAME = new RegExp(`^\\$(${NOSQL_OPERATORS})$|\\[ ?\\$(${NOSQL_OPERATORS}) ?\\]`);
const NOSQL: readonly Rule[] = [
  ["nosql-operator", 1, "$", new RegExp(`\\{ ?['"]\\$(${NOSQL_OPERATORS})['"] ?:|\\[ ?\\$(${NOSQL_OPERATORS}) ?\\] ?=`)],
  // A `$where` script broken into from a string: `' || this.password.match(/.*/)//`, `'; return true; var x='`.
  ["nosql-where-script", 1, "'", /['"] ?(\|\||&&|;) ?(return )?(this\.[a-z_]+ ?(==|!=|\.match ?\(|\.length)|true\b|1\b|sleep ?\()|['"] ?\|\| ?['"]?1['"]? ?== ?['"]?1/],
  ["nosql-where-script", 1, '"', /" ?(\|\||&&|;) ?(return )?(this\.[a-z_]+ ?(==|!=|\.match ?\(|\.length)|true\b|1\b|sleep ?\()/],
  ["nosql-where-script", 1, "db.", /\bdb\.[a-z_]+\.(find|drop|insert|remove|update)\b|\bdb\.(getcollectionnames|dropdatabase|eval)\b/],
];

/** LDAP filters: a value that closes the application's filter and opens one of its own. */
const LDAP: readonly Rule[] = [
  ["ldap-filter-breakout", 1, ")", /\) ?\( ?[|&!] ?\(|\*\) ?\( ?[|&!]?[a-z]{1,40} ?[~<>]?=|\)\) ?\( ?[|&]|\) ?\( ?[a-z]{1,40} ?=\*?\)/],
  ["ldap-filter-breakout", 1, "(", /^\* ?\) ?\(|\( ?[|&] ?\( ?[a-z]{1,40} ?[~<>]?= ?[^()]{0,200}\) ?\( ?[a-z]{1,40} ?[~<>]?=/],
  ["ldap-filter-breakout", 1, "(", /\( ?[|&!] ?\( ?[a-z]{1,40} ?[~<>]?= ?\*? ?\)|\) ?\( ?[|&] ?\)/],
  ["ldap-wildcard", 2, "objectclass", /\bobjectclass ?= ?\*/],
];

/** XPath: axes and node tests no prose uses, and a predicate broken out of. */
const XPATH: readonly Rule[] = [
  ["xpath-axis", 1, "::", /\b(child|descendant|descendant-or-self|ancestor|ancestor-or-self|following|following-sibling|preceding|preceding-sibling|parent|self|attribute|namespace) ?:: ?(node|text|\*|comment|processing-instruction)\b/],
  ["xpath-function", 1, "(", /\b(count|name|string-length|local-name|substring|string|normalize-space) ?\( ?\/[/*a-z]|\bname ?\( ?\) ?= ?['"]|\bposition ?\( ?\) ?= ?\d|\btext ?\( ?\) ?=/],
  ["xpath-union", 1, "|", /['"\]] ?\] ?\| ?\/\/|\] ?\| ?\/\/[a-z*]/],
  ["xpath-path", 2, "//", /(^|['"]) ?\/\/[a-z*][a-z0-9_-]{0,64} ?\[/],
];

/** A header line slipped into a value: a line break, then a header a response would honour. */
const CRLF: readonly Rule[] = [
  ["crlf-header-injection", 1, "\n", /\n ?(set-cookie|location|content-type|content-length|content-disposition|refresh|transfer-encoding|access-control-allow-[a-z]+|x-xss-protection|content-security-policy|link|cache-control|x-forwarded-[a-z]+|host) ?:/],
  ["crlf-response-split", 1, "\n", /\n ?http\/\d(\.\d)? \d{3}\b|\n ?<(html|script|body|svg)\b/],
  ["crlf-header-injection", 2, "\n", /\n ?[a-z][a-z0-9-]{1,40} ?: ?\S/],
];

const INTERNAL_NAMES = /^(localhost|localhost\.localdomain|ip6-localhost|ip6-loopback|kubernetes\.default(\.svc)?|[a-z0-9-]+\.(internal|local|localhost|svc|cluster\.local|intranet|corp|lan))$/;
const URL_IN_TEXT = /\b(https?|gopher|dict|ftp|tftp|ldap|sftp|smb|jar|netdoc):\/\/(?:[^\s/?#@'"<>\\]{0,256}@)?(\[[0-9a-f:.]{2,64}\]|[^\s/?#:'"<>\\]{1,253})/g;
const DANGEROUS_SCHEMES = new Set(["gopher", "dict", "tftp", "ldap", "jar", "netdoc"]);

/** A host an internal-only service answers at: a special-purpose address in any spelling ipaddr.js reads (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`), or an internal name. */
function internalHost(host: string): boolean {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host.replace(/\.$/, "");
  if (INTERNAL_NAMES.test(bare) || isMetadataHostName(bare)) return true;
  // Only digits, hex and separators can spell an address: names are not handed to the parser.
  if (!/^[0-9a-fx.:]+$/.test(bare) || !ipaddr.isValid(bare)) return false;
  const parsed = ipaddr.parse(bare);
  const address = parseIp(parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address().toString() : parsed.toString());
  return address !== undefined && classifyAddress(address) !== undefined;
}

/** A URL to an internal address in a parameter: what a server fetching URLs for its caller should never be given. Reported, not refused, by default. */
export function serverSideRequestForgery(text: string, find: Finder): void {
  if (!text.includes("://")) return;
  let urls = 0;
  // The first URLs of a field are read; a field of thousands is the `urls` limit's business.
  for (const match of text.matchAll(URL_IN_TEXT)) {
    if (++urls > 64) return;
    if (DANGEROUS_SCHEMES.has(match[1]!) && find("ssrf-scheme", 1)) return;
    if (internalHost(match[2]!) && find("ssrf-internal-url", 1)) return;
  }
}

export function fileInclusion(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  run(INCLUSION, text, find, paranoia);
}

export function javaInjection(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  if (text.includes("${") && /\$\{[^{}$]{0,300}\$\{|\$\{ ?(lower|upper|date|::-)/.test(text)) run(JAVA, unwrapLookups(text), find, paranoia);
  run(JAVA, text, find, paranoia);
}

export function templateInjection(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  run(SSTI, text, find, paranoia);
}

export function nosqlInjection(text: string, find: Finder, paranoia: ParanoiaLevel, kind: "value" | "key" | "header"): void {
  if (kind === "key" && text.includes("$") && NOSQL_OPERATOR_NAME.test(text) && find("nosql-operator", 1)) return;
  run(NOSQL, text, find, paranoia);
}

export function ldapInjection(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  run(LDAP, text, find, paranoia);
}

export function xpathInjection(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  run(XPATH, text, find, paranoia);
}

export function headerInjection(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  run(CRLF, text, find, paranoia);
}

