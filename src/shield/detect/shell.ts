import type { Finder, ParanoiaLevel } from "./finding.js";

/**
 * Command injection, found by reading the text as a POSIX shell and Windows `cmd` would: it is
 * split into words and operators, quoting and escapes are undone the way the shell undoes them
 * (`c''at`, `c\at`, `w^h^o^a^m^i`, `${IFS}`, `{cat,/etc/passwd}`), and each word in command
 * position (at the start, after `;`, `|`, `&`, a newline, `$(` or a backtick) is looked up. A
 * word that is only ever a command (`whoami`, `wget`) counts after an operator; one that is also
 * English (`cat`, `find`, `type`) only with an argument shaped like the shell's (`-la`, `/etc/…`,
 * `$HOME`, `>`). At the very start of a value, where no operator was needed, a command counts
 * only with such an argument reaching into the system (`/etc/`, `/bin/`, `c:\windows`) at level 1.
 *
 * Hand-written: the shell parsers on npm (`shell-quote`, `bash-parser`) build an AST for valid
 * scripts and throw on the broken fragments injection produces, and none reads `cmd`'s syntax.
 * One pass over the text, linear.
 */

/** Names that are commands and hardly ever words of prose. */
const COMMANDS = new Set(
  (
    "whoami uname ifconfig ipconfig netstat nslookup wget curl nc ncat netcat socat telnet bash zsh ksh dash csh tcsh " +
    "python python2 python3 perl ruby php lua chmod chown chgrp passwd useradd usermod crontab nohup sudo ls pwd env printenv hostname " +
    "systeminfo tasklist taskkill certutil bitsadmin powershell pwsh wmic rundll32 regsvr32 mshta cscript wscript msiexec tftp scp ssh " +
    "rsync base64 xxd awk gawk sed grep egrep fgrep uptime lsof dmesg traceroute tracert arp iptables mkfifo mknod nmap killall pkill " +
    "openssl sqlite3 mysql psql mongo redis-cli gcc apt-get yum dnf apk rm cp mv mkdir rmdir chattr whereis locate sysctl umount fdisk " +
    "findstr icacls cacls schtasks netsh reg id ps sh cmd ping dig ver xterm busybox getent lsb_release nproc sysinfo phpinfo"
  ).split(" "),
);
/** Commands that are also words: they count only with a shell-shaped argument. */
const WORD_COMMANDS = new Set(
  "cat echo sleep kill find head tail more less sort touch date time type set dir wait test read exit export alias source eval exec print mail file host who last top free man history cd open start call copy del move ren format shutdown reboot halt diff watch help tac rev net sc at w ip ss su ln tee dd cut tr od wc tar zip unzip node java make vol attrib".split(" "),
);
/** Commands a value may be on its own, with no operator before them: nothing else is spelt so. */
const DIRECT = new Set(["whoami", "uname", "ifconfig", "ipconfig", "netstat", "systeminfo", "sysinfo", "tasklist", "printenv", "phpinfo", "lsb_release", "getent", "nproc"]);
/** Administration commands no text starts with but a command line. */
const ADMIN = new Set(["netsh", "schtasks", "wmic", "certutil", "bitsadmin", "iptables", "useradd", "usermod", "crontab", "socat", "nmap", "mkfifo", "icacls", "cacls"]);
/** Commands that fetch: with a URL after them they download. */
const FETCHERS = new Set(["wget", "curl", "nc", "ncat", "netcat", "tftp", "ftp", "socat", "telnet", "lwp-download", "fetch"]);

/** Words that run the next word: `sudo id`, `nohup sh -c …`, `timeout 5 id`. */
const WRAPPERS = new Set(["sudo", "nohup", "env", "exec", "command", "builtin", "busybox", "time", "nice", "timeout", "xargs", "stdbuf", "setsid", "doas", "eval", "call", "start", "cmd", "cmd.exe"]);
/** An argument shaped like a shell's: an option, a path, a variable, a redirection, a Windows path. */
const SHELL_ARGUMENT = /^(-{1,2}[a-z0-9]|\/[a-z0-9._~-]|~\/?|\$|[<>]|\.{1,2}\/|[a-z]:[\\/]|%[a-z]+%|\/[a-z?]$)/;
/** Where an argument reaches into the system: no prose names these paths after a command. */
const SYSTEM_PATH = /(^|[\s'"=])(\/(etc|bin|sbin|usr|tmp|dev|proc|var|root|home|boot|opt|lib)(\/|$)|[a-z]:[\\/](windows|winnt|users|documents and settings|inetpub|boot\.ini)|\\\\[a-z0-9.]+\\|%(systemroot|windir|comspec|temp|userprofile)%)/;

/** What a command followed; `resume` is the rest of a command after a closed substitution, not a command. */
type Separator = "start" | ";" | "|" | "&" | "&&" | "||" | "\n" | "$(" | "`" | "`in-text" | "(" | "{" | "{," | "resume";

interface Command {
  after: Separator;
  words: string[];
  /** Spaces on both sides, as in a markdown table's `| Id |`. */
  padded: boolean;
}

/** Characters with no meaning to a shell. */
const PLAIN = /[^'"\\^$`;\n()|&{}<> \t]+/y;
/** A command's name and first arguments decide; a long argument list is not kept. */
const MAX_WORDS = 12;

/**
 * The commands of `text`, each with the operator it followed. Quotes are joined the shell's way
 * and dropped; `$@`, `$*`, `$()` and `${x}` inside a word expand to nothing, as they usually do.
 */
function commands(text: string, visit: (command: Command) => boolean): boolean {
  // One command object, refilled: a text of many short commands must not cost an object each.
  const current: Command = { after: "start", words: [], padded: false };
  let startedAt = 0;
  let stopped = false;
  let word = "";
  let inWord = false;
  const endWord = () => {
    if (inWord && current.words.length < MAX_WORDS) current.words.push(word);
    word = "";
    inWord = false;
  };
  const startCommand = (after: Separator) => {
    endWord();
    current.padded = text[startedAt] === " " && text[i - 1] === " ";
    if ((current.words.length > 0 || current.after !== "start") && visit(current)) stopped = true;
    current.after = after;
    current.words.length = 0;
    startedAt = i + (after === "&&" || after === "||" || after === "$(" ? 2 : 1);
  };
  const n = text.length;
  let i = 0;
  let backticks = 0;
  while (i < n && !stopped) {
    // Runs of ordinary characters are most of any text: taken whole.
    PLAIN.lastIndex = i;
    const plain = PLAIN.exec(text);
    if (plain !== null) {
      if (current.words.length < MAX_WORDS) word += plain[0];
      inWord = true;
      i += plain[0].length;
      continue;
    }
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      word += text.slice(i + 1, end === -1 ? n : end);
      inWord = true;
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (ch === "\\" && next !== undefined && /[a-z0-9]/.test(next)) {
      // `c\at` is `cat` to a shell; `c:\windows` keeps its backslash.
      if (inWord && word.endsWith(":")) word += ch;
      i++;
      continue;
    }
    if (ch === "^" && inWord) {
      i++;
      continue;
    }
    if (ch === "$" && (next === "@" || next === "*")) {
      i += 2;
      continue;
    }
    if (ch === "$" && next === "{") {
      const end = text.indexOf("}", i + 2);
      const name = text.slice(i + 2, end === -1 ? n : end);
      i = end === -1 ? n : end + 1;
      if (name === "ifs") endWord();
      continue;
    }
    if (ch === "$" && text.startsWith("ifs", i + 1)) {
      endWord();
      i += 4;
      if (text[i] === "$" && /[0-9]/.test(text[i + 1] ?? "")) i += 2;
      continue;
    }
    if (ch === "$" && next === "(") {
      if (text[i + 2] === ")") {
        i += 3;
        continue;
      }
      startCommand("$(");
      i += 2;
      continue;
    }
    if (ch === "`") {
      // An opening backtick starts a command; a closing one returns to the command around it.
      backticks++;
      // Markdown puts words in backticks mid-sentence (`` about `mkdir` in ``); an injection puts
      // them at the start, after an operator, a quote or an `=`.
      const before = text.slice(Math.max(0, i - 2), i).trimEnd().slice(-1);
      startCommand(backticks % 2 === 0 ? "resume" : before === "" || /[;|&=('"$\n]/.test(before) ? "`" : "`in-text");
      i++;
      continue;
    }
    if (ch === ";" || ch === "\n" || ch === "(" || ch === ")") {
      startCommand(ch === ")" ? "resume" : ch);
      i++;
      continue;
    }
    if (ch === "|" || ch === "&") {
      const doubled = next === ch;
      // `2>&1` is a redirection, not a background.
      if (ch === "&" && text[i - 1] === ">") {
        i++;
        continue;
      }
      startCommand(doubled ? (ch === "|" ? "||" : "&&") : ch);
      i += doubled ? 2 : 1;
      continue;
    }
    if (ch === "{" && !inWord) {
      // `{cat,/etc/passwd}`: brace expansion makes words of the parts.
      const end = text.indexOf("}", i + 1);
      const inner = text.slice(i + 1, end === -1 ? n : end);
      if (inner.includes(",") && !inner.includes(" ")) {
        startCommand("{,");
        current.words.push(...inner.split(",").filter((part) => part !== ""));
        i = end === -1 ? n : end + 1;
        continue;
      }
      startCommand("{");
      i++;
      continue;
    }
    if (ch === "<" || ch === ">" || ch === " " || ch === "\t" || ch === "}") {
      endWord();
      if (ch === "<" || ch === ">") current.words.push(ch);
      i++;
      continue;
    }
    word += ch;
    inWord = true;
    i++;
  }
  if (!stopped) startCommand("start");
  return stopped;
}

/** The command a list of words runs: past assignments and wrappers, its path dropped. */
function commandOf(words: readonly string[]): { name: string; byPath: boolean; args: string[] } | undefined {
  let i = 0;
  while (i < words.length) {
    const word = words[i]!;
    let name = word.includes("/") ? word.slice(word.lastIndexOf("/") + 1) : word;
    if (name.endsWith(".exe")) name = name.slice(0, -4);
    if (word.includes("=") && /^[a-z_][a-z0-9_]*=/.test(word)) i++;
    else if (WRAPPERS.has(name) && i + 1 < words.length && !SHELL_ARGUMENT.test(words[i + 1]!)) i += name === "timeout" ? 2 : 1;
    else return { name, byPath: /^(\.{0,2}|~)\//.test(word), args: words.slice(i + 1) };
  }
  return undefined;
}

/** `/???/??t`, `/b?n/c*t`: a path made of globs, so no command name need be spelt. */
const GLOB_PATH = /^\/[a-z?*[\]]*[?*][a-z?*[\]]*\/[a-z?*[\]]+/;

function judge(command: Command, find: Finder): boolean {
  const first = command.words[0];
  if (first === undefined) return false;
  // Most commands of most text are words that are no command (`mozilla/5.0`): rejected before
  // any work, unless named by a path (`./x.sh`), a glob, an escape or an assignment.
  const base = first.includes("/") ? first.slice(first.lastIndexOf("/") + 1) : first;
  if (!COMMANDS.has(base) && !WORD_COMMANDS.has(base) && !WRAPPERS.has(base) && !/^(\.{0,2}|~)\/|[?*=\\]|\.exe$/.test(first)) return false;
  if ((first.includes("?") || first.includes("*")) && GLOB_PATH.test(first) && command.after !== "start") {
    return find("cmdi-glob-command", 1);
  }
  const found = commandOf(command.words);
  if (found === undefined) return false;
  const { name, byPath, args } = found;
  const known = COMMANDS.has(name);
  const wordLike = WORD_COMMANDS.has(name);
  if (!known && !wordLike) return false;
  const shellArgument = args.length > 0 && SHELL_ARGUMENT.test(args[0]!);
  const systemArgument = args.some((arg) => SYSTEM_PATH.test(arg));
  const { after } = command;
  if (after === "resume") return false;
  // Substitution runs whatever it holds; markdown puts words in backticks too, so there a word
  // that is also English needs a shell-shaped argument.
  if (after === "$(" && (known || byPath || args.length > 0)) return find("cmdi-substitution", 1);
  if (after === "`" && (known || byPath || shellArgument)) return find("cmdi-substitution", 1);
  if (after === "`in-text" && (byPath || shellArgument || systemArgument)) return find("cmdi-substitution", 1);
  if (after === "$(" || after === "`" || after === "`in-text") return false;
  if (after !== "start" && after !== "{" && after !== "(" && after !== "{,") {
    // After an operator: a plain command, or a word-like one used as a command. Markdown tables
    // and prose put words after `|` and `&` too (`| Id Token |`): there a short name followed by
    // a word is not taken for a command.
    const single = after === "|" || after === "&";
    // Code, not a shell: `&& hostname !== …`, `; at < to;`.
    if (/^([!=<>]=|=)/.test(args[0] ?? "") || ((args[0] === "<" || args[0] === ">") && !known && name.length <= 3)) return false;
    if (single && name.length <= 3 && (args.length > 0 || command.padded) && !shellArgument && !byPath) return false;
    if (known || shellArgument || byPath) return find("cmdi-chained-command", 1);
    // A timing probe: `; sleep 5`, `| ping -n 10 127.0.0.1`.
    if ((name === "sleep" || name === "timeout") && /^\d+$/.test(args[0] ?? "")) return find("cmdi-chained-command", 1);
    if (args.length === 0 && wordLike && (after === ";" || after === "&&" || after === "||")) {
      return find("cmdi-chained-command", 3);
    }
    return false;
  }
  if (after === "{,") return find("cmdi-brace-command", 1);
  // At the start: nothing was broken out of, so only a whole command line counts at level 1: one
  // reaching into the system, a command no prose spells, or one with the shell's own arguments.
  if ((known || byPath || wordLike) && (systemArgument || SYSTEM_PATH.test(first)) && find("cmdi-command", 1)) return true;
  if (ADMIN.has(name) && args.length > 0 && find("cmdi-command", 1)) return true;
  if (known && name.length > 2 && (args.length === 0 ? DIRECT.has(name) : shellArgument || (FETCHERS.has(name) && /^(https?|ftp|tftp):\/\//.test(args[0]!))) && find("cmdi-command", 1)) return true;
  if (known && (shellArgument || args.length === 0) && name.length > 2 && find("cmdi-command", 2)) return true;
  return wordLike && shellArgument && find("cmdi-command", 3);
}

/** Shells started to run a string, reverse shells, and the forms that name no command at all. */
const SHELL_FORMS: readonly [string, 1 | 2, RegExp, RegExp][] = [
  ["cmdi-shell-invocation", 1, /sh|cmd|powershell|\/dev\/|nc/, /\b(ba|z|da|k|c|tc)?sh(\.exe)? -[a-z]*[ci]\b|\/bin\/(ba|z|da|k|c|tc)?sh\b|\/dev\/(tcp|udp)\/|\bcmd(\.exe)? ?\/[ck]\b|\bpowershell(\.exe)? .{0,40}-(e|ec|enc|encodedcommand|c|command|nop|noprofile|w|windowstyle|ep|executionpolicy)\b|\bnc(at)? .{0,40}-[a-z]*e [a-z/]/],
  ["cmdi-ifs", 1, /ifs/, /\$\{?ifs\b/],
  ["cmdi-shellshock", 1, /\(\)/, /\(\) ?\{ ?[:;]/],
  ["cmdi-windows-syntax", 1, /for|if|%|net|reg|wmic/, /\bfor ?\/[flrd]\b|\bfor %%?[a-z] in ?\(|\bif (not )?exist |%(comspec|systemroot|windir)%|\b(net (user|localgroup|share|view)|reg (query|add|delete)|wmic [a-z]+ (get|call|list))\b/],
  ["cmdi-php", 1, /php|\$|\{/, /\b(phpinfo|phpversion|php_uname|posix_getpwuid|posix_uname) ?\(|\{\$\{ ?[a-z_]+ ?\(|\$_(get|post|request|cookie|server|files|env)\b ?\[/],
  ["cmdi-code-execution", 1, /\( ?['"`$]/, /(^|[^.\w])(system|eval|shell_exec|passthru|popen|proc_open|pcntl_exec|exec|os\.system|os\.popen|subprocess\.(call|run|popen|check_output)|execsync|spawnsync|child_process\.[a-z]+|runtime\.getruntime\(\)\.exec)\( ?['"`$]/],
  ["cmdi-ssi", 1, /<!--#/, /<!--#(exec|include|echo|config) /],
  ["cmdi-redirect-system", 2, />/, /> ?\/(dev\/|etc\/|var\/www\/|tmp\/)/],
];
const ANY_COMMAND = new RegExp(`\\b(${[...COMMANDS, ...WORD_COMMANDS, ...WRAPPERS].map((c) => c.replaceAll(".", "\\.")).join("|")})\\b|[/?*\\\\^{]`);

/** Without one of these, only a command at the very start could count, and only from level 2 unless it names a system path. */
const OPERATOR = /[;|&`\n]|\$[({]|\{[a-z]/;
const PATH_HINT = /[/\\%]/;
/** A value that starts with a command a whole command line would (`uname -a`, `perl -e …`). */
export const START_COMMAND = new RegExp(`^ ?(${[...COMMANDS, ...ADMIN, ...WRAPPERS, "dir", "type", "cat", "net"].map((c) => c.replaceAll(".", "\\.")).join("|")})( |$)`);

export function commandInjection(text: string, find: Finder, level: ParanoiaLevel): void {
  for (const [rule, ruleLevel, hint, pattern] of SHELL_FORMS) {
    if (ruleLevel <= level && hint.test(text) && pattern.test(text) && find(rule, ruleLevel)) return;
  }
  if (!OPERATOR.test(text) && !START_COMMAND.test(text) && (level === 1 ? !PATH_HINT.test(text) || !SYSTEM_PATH.test(text) : !/^[a-z/]/.test(text))) return;
  // Without a command's name, a path, a glob or an escape anywhere, no command could be judged one.
  // Short texts are read at once: the look for a name costs more than reading them.
  if (text.length > 512 && !ANY_COMMAND.test(text)) return;
  // A command repeated (`;cat;cat;cat…`) is judged once, in a text long enough to repeat many.
  const judged = new Set<string>();
  const judgeOnce = (command: Command) => {
    if (text.length <= 512) return judge(command, find);
    // Everything judge reads: the operator, the words, and whether spaces pad the command.
    const key = `${command.after}${command.padded ? " padded " : " "}${command.words.join(" ")}`;
    if (judged.has(key)) return false;
    if (judged.size < 1_000) judged.add(key);
    return judge(command, find);
  };
  if (commands(text, judgeOnce)) return;
  // Read as the rest of a quoted argument too (`cmd "$input"`): `"||/usr/bin/id|"` leaves the quotes.
  for (const quote of ['"', "'"]) {
    if (text.includes(quote) && commands(quote + text, (command) => command.after !== "start" && judgeOnce(command))) return;
  }
}
