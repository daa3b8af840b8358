import type { Finder } from "./finding.js";

/**
 * Path traversal after every decoding a stack may apply. The text arrives percent-, entity- and
 * escape-decoded and NFKC-folded (normalize.ts); here the separators and dots that some decoder
 * somewhere still turns into `/`, `\` and `.` are folded too: overlong UTF-8 (`%c0%af`, `%c0%ae`,
 * `%e0%80%af`, read byte by byte as `à¯`, `à®`), the division and set-minus slashes IIS accepts
 * (`%u2215`, `%u2216`, and the private-use `%uEFC8` and `%uF025` some best-fit mappings turn
 * into one), and the backslash Windows reads as a separator. Then a segment of two or
 * more dots (`..`, `...`, `....`, Windows drops trailing dots) or a well-known system file.
 */
const SEPARATORS = /[\\\u2215\u2216\u2044\u29f5\u29f8\u29f9\uefc8\uf025]|\u00e0\u0080\u00af|\u00e0\u00af|\u00c0\u00af|\u00c1\u009c|\u00e0\u0080\u00ae|\u00e0\u00ae|\u00c0\u00ae/g;
const FOLDED: Record<string, string> = { "\u00e0\u0080\u00ae": ".", "\u00e0\u00ae": ".", "\u00c0\u00ae": "." };

/**
 * A dot segment: two dots, maybe with trailing spaces or `;parameters` (Tomcat's `..;/`); or
 * more dots (Windows drops the extra ones, `....//` is what a filter stripping `../` leaves) after
 * a separator or before another dot segment. A lone leading `.../` is how tools shorten a path.
 */
const DOT_SEGMENT = /(^|\/)\.\. *(;[^/]{0,64})?(\/|\u2400|$)|\/\.{3,}[ .]*(\/|\u2400|$)|(^|\/)\.{3,}[ .]*\/\.{2,}/;
export const SENSITIVE_FILES =
  /(^|\/)(etc\/(passwd|shadow|group|hosts|issue|motd|sudoers|crontab|fstab|profile|environment|ssh\/|mysql\/|apache2?\/|nginx\/|httpd\/)|proc\/(self|\d+)\/|windows\/(system32|win\.ini|system\.ini|repair)|winnt\/|boot\.ini|win\.ini|system\.ini|\.ssh\/(id_|authorized_keys)|\.(htaccess|htpasswd|git\/(config|head)|svn\/entries|env|bash_history|aws\/credentials)\b|web\.config|wp-config\.php|var\/(log|adm)\/|inetpub\/|localstart\.asp|(httpd|apache2?|nginx|lighttpd|php-fpm)\.conf|php\.ini|my\.(cnf|ini)|config\.inc\.php|\.(bash_(profile|history|rc|logout)|cshrc|netrc|profile|mysql_history|viminfo|passwd)$|id_[rd]sa\b|authorized_keys|known_hosts|sources\.list)/;
/** A whole value that is an absolute path into the system's own directories: no form field holds one but to read it. */
const SYSTEM_PATH_VALUE = /^ ?([a-z]:)?\/(etc|proc|sys|var|usr\/local|opt|root|boot|windows|winnt|program files|documents and settings|xampp|wamp)\/[^ ]*$/;
const NUL_AFTER_NAME = /[a-z0-9/.]\u2400|^\u2400|\u2400$/;
const TRIGGER = /\.\.|\\\.|0x(2e|2f|5c)|^ ?([a-z]:)?[/\\]|\.(conf|ini|cnf|php|list|profile|netrc|cshrc|passwd|bash)|id_[rd]sa|authorized_keys|known_hosts|\/etc\/|\/proc\/|windows|win\.ini|boot\.ini|\.ssh|\.ht|\.git|\.env|web\.config|wp-config|\/var\/log|\u2400|[\u00c0-\u00e0\u2215\u2216\u2044\uefc8\uf025]/;

/** `0x2e0x2e/`: dots and slashes spelt as hex literals, for a decoder that reads them. */
const HEX_SPELT = /0x(2e|2f|5c)/g;
const HEX_CHARACTERS: Record<string, string> = { "2e": ".", "2f": "/", "5c": "/" };

export function pathTraversal(text: string, find: Finder): void {
  if (!TRIGGER.test(text)) return;
  // `.\/\.\.\/`: dots and slashes escaped as in a JavaScript string, once unescaped.
  const unescaped = text.includes("\\/") ? text.replace(/\\([./])/g, "$1") : text;
  let path = unescaped.replace(SEPARATORS, (match) => FOLDED[match] ?? "/");
  if (path.includes("0x")) path = path.replace(HEX_SPELT, (_, hex: string) => HEX_CHARACTERS[hex]!);
  if (DOT_SEGMENT.test(path) && find("traversal-dot-dot", 1)) return;
  if ((SENSITIVE_FILES.test(path) || SYSTEM_PATH_VALUE.test(path)) && find("traversal-sensitive-file", 1)) return;
  // A NUL that ends a name (`shell.php%00.jpg`, `passwd%00`): C's string ends there, the application's check does not.
  if (NUL_AFTER_NAME.test(path) && find("traversal-null-byte", 1)) return;
  if (/\/\.{3,}\/|^\.{3,}\//.test(path) && find("traversal-dot-dot", 2)) return;
  // `..` glued to a name, the way a filter that strips `../` leaves it (`....//` is caught above).
  if (/\.\.[a-z0-9_-]{0,64}\//.test(path) && find("traversal-dot-dot", 3)) return;
}
