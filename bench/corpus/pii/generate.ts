/**
 * Writes the labelled PII corpus (tune.jsonl, heldout.jsonl): synthetic log lines, tickets and
 * JSON documents with every entity the redaction engine knows, in the forms people write them,
 * among look-alikes that are not personal data. Run: node dist/bench/corpus/pii/generate.js.
 *
 * Values come from @faker-js/faker (names, domains, words; seeded, so the files are reproducible)
 * and from generators here for what must be valid: phone numbers drawn within the number plans
 * (libphonenumber-js's metadata decides what is a real number), Luhn-valid cards under the
 * networks' prefixes, IBANs with their mod-97 check digits, SSNs outside the excluded ranges.
 * The two splits use different seeds and different templates (`TUNE` and `HELDOUT` below), so
 * the held-out split tests phrasing the detectors were never adjusted to.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Faker, base, de, en, en_GB, fr } from "@faker-js/faker";
import { isValidIBAN } from "ibantools";
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";

export type Label = "email" | "phone" | "card" | "iban" | "ssn" | "ip" | "jwt" | "secret" | "bearer" | "sensitive_value";
export interface Span {
  entity: Label;
  start: number;
  end: number;
}
export interface Example {
  text: string;
  spans: Span[];
}

type Piece = string | { entity: Label; value: string };
type Template = (g: Gen) => Piece[];

class Gen {
  constructor(readonly f: Faker) {}
  pick<T>(items: readonly T[]): T {
    return items[this.f.number.int(items.length - 1)]!;
  }
  digits(n: number, first = "0123456789"): string {
    let out = this.pick([...first]);
    while (out.length < n) out += String(this.f.number.int(9));
    return out;
  }
  chance(p: number): boolean {
    return this.f.number.float() < p;
  }

  email(): string {
    const first = this.f.person.firstName().toLowerCase().replace(/[^a-z]/g, "");
    const last = this.f.person.lastName().toLowerCase().replace(/[^a-z]/g, "");
    const local = this.pick([`${first}.${last}`, `${first}${this.f.number.int(99)}`, `${first[0]}${last}`, `${first}+${this.f.word.noun()}`, `${last}_${first}`]);
    const domain = this.pick([this.f.internet.domainName(), "gmail.com", "example.org", "mail.co.uk", "uni-heidelberg.de", "outlook.fr"]);
    return `${local || "x"}@${domain}`;
  }

  phone(): string {
    const region = this.pick<CountryCode>(["US", "US", "GB", "DE", "FR", "IN", "BR", "AU", "JP", "ES", "NL", "CA"]);
    for (;;) {
      const number = parsePhoneNumberFromString(PLAN[region]!(this), region);
      if (number?.isValid() !== true) continue;
      const national = region === "US" || region === "GB" || region === "DE" || region === "FR" || region === "CA";
      const form = this.f.number.int(national ? 5 : 2);
      if (form === 0) return number.number; // E.164
      if (form === 1) return number.formatInternational();
      if (form === 2) return number.formatInternational().replace(/ /g, "-");
      if (form === 3 || form === 5) return number.formatNational();
      return number.formatNational().replace(/[() ]+/g, (m) => (m.trim() === "" ? this.pick(["-", ".", " "]) : "")).replace(/^[-. ]/, "");
    }
  }

  card(): string {
    const network = this.pick(["visa", "visa", "mc", "mc2", "amex", "discover", "jcb"]);
    const prefix = { visa: "4", mc: String(51 + this.f.number.int(4)), mc2: String(2221 + this.f.number.int(499)), amex: this.pick(["34", "37"]), discover: "6011", jcb: String(3528 + this.f.number.int(61)) }[network]!;
    const length = network === "amex" ? 15 : 16;
    const digits = withLuhn(prefix + this.digits(length - prefix.length - 1));
    const sep = this.pick(["", " ", " ", "-"]);
    if (sep === "") return digits;
    return network === "amex" ? [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)].join(sep) : digits.match(/.{4}/g)!.join(sep);
  }

  iban(): string {
    const [country, bban] = this.pick<[string, () => string]>([
      ["DE", () => this.digits(18)],
      ["GB", () => this.f.string.alpha({ length: 4, casing: "upper" }) + this.digits(14)],
      ["FR", () => this.digits(10) + this.f.string.alphanumeric({ length: 11, casing: "upper" }) + this.digits(2)],
      ["ES", () => this.digits(20)],
      ["NL", () => this.f.string.alpha({ length: 4, casing: "upper" }) + this.digits(10)],
      ["IT", () => this.f.string.alpha({ length: 1, casing: "upper" }) + this.digits(10) + this.f.string.alphanumeric({ length: 12, casing: "upper" })],
    ]);
    let iban: string;
    // Some countries' account numbers carry national check digits too: drawn until ibantools, which checks them, agrees.
    do {
      const body = bban();
      iban = `${country}${String(98 - mod97(`${body}${country}00`)).padStart(2, "0")}${body}`;
    } while (!isValidIBAN(iban));
    return this.chance(0.5) ? iban : iban.match(/.{1,4}/g)!.join(" ");
  }

  ssn(): string {
    let area: number;
    do area = 1 + this.f.number.int(898);
    while (area === 666);
    return `${String(area).padStart(3, "0")}-${String(1 + this.f.number.int(98)).padStart(2, "0")}-${String(1 + this.f.number.int(9998)).padStart(4, "0")}`;
  }

  ip(): string {
    if (this.chance(0.7)) return this.f.internet.ipv4();
    const v6 = this.f.internet.ipv6();
    // Written compressed, as software prints them, as often as in full.
    return this.chance(0.5) ? v6 : v6.replace(/(^|:)0{1,3}/g, "$1").replace(/(?:^|:)(?:0:){2,}/, "::");
  }

  jwt(): string {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    return `${b64({ alg: this.pick(["HS256", "RS256", "EdDSA"]), typ: "JWT" })}.${b64({ sub: this.f.string.uuid(), iat: 1_733_000_000 + this.f.number.int(9_999_999), scope: this.f.word.noun() })}.${Buffer.from(this.f.string.alphanumeric(32)).toString("base64url")}`;
  }

  secret(): string {
    const an = (n: number) => this.f.string.alphanumeric(n);
    return this.pick([
      () => `sk_live_${an(32)}${an(6)}`,
      () => `sk_test_${an(24)}`,
      () => `AKIA${this.f.string.alphanumeric({ length: 16, casing: "upper" })}`,
      () => `ghp_${an(36)}`,
      () => `xoxb-${this.digits(12)}-${this.digits(12)}-${an(24)}`,
      () => `AIza${this.f.string.alphanumeric(35)}`,
      () => `-----BEGIN ${this.pick(["RSA ", "EC ", "", "OPENSSH "])}PRIVATE KEY-----\\n${this.f.string.alphanumeric(64)}\\n-----END PRIVATE KEY-----`,
    ])();
  }

  opaque(): string {
    return this.f.string.alphanumeric({ length: 24 + this.f.number.int(40) });
  }

  // Look-alikes, never labelled.
  orderNumber(): string {
    return this.pick([() => this.digits(10, "123456789"), () => `ORD-${this.digits(8)}`, () => this.digits(12, "123456789"), () => `#${this.digits(7)}`])();
  }
  luhnId(): string {
    return withLuhn(this.pick(["1", "7", "8", "9", "0"]) + this.digits(14));
  }
  version(): string {
    return this.pick([() => `${this.f.number.int(20)}.${this.f.number.int(30)}.${this.f.number.int(99)}`, () => `v${this.f.system.semver()}`, () => `${this.f.number.int(9)}.${this.f.number.int(9)}.${this.f.number.int(9)}-rc.${this.f.number.int(9)}`])();
  }
  timestamp(): string {
    const date = this.f.date.between({ from: "2020-01-01", to: "2026-12-31" });
    return this.pick([() => date.toISOString(), () => String(Math.floor(date.getTime() / 1000)), () => date.toUTCString(), () => date.toISOString().replace("T", " ").slice(0, 19), () => String(date.getTime())])();
  }
  amount(): string {
    return this.pick([() => this.f.commerce.price(), () => `${this.f.number.int(99999)}.${this.digits(2)}`, () => `${this.f.number.int(999)},${this.digits(3)}.${this.digits(2)}`])();
  }
  hash(): string {
    return this.pick([() => this.f.string.hexadecimal({ length: 40, casing: "lower", prefix: "" }), () => this.f.string.uuid(), () => this.f.string.hexadecimal({ length: 64, casing: "lower", prefix: "" })])();
  }
  mac(): string {
    return this.f.internet.mac();
  }
  duration(): string {
    return `${this.f.number.int(2000)}.${this.digits(3)}`;
  }
}

/** National significant numbers drawn in the ranges the plans use; libphonenumber then keeps the valid ones. */
const PLAN: Record<string, (g: Gen) => string> = {
  US: (g) => `${g.digits(3, "23456789")}${g.digits(7, "23456789")}`,
  CA: (g) => `${g.pick(["416", "604", "514", "613", "403"])}${g.digits(7, "23456789")}`,
  GB: (g) => g.pick([() => `020${g.digits(8, "378")}`, () => `07${g.digits(9, "1234579")}`, () => `01${g.digits(9)}`])(),
  DE: (g) => g.pick([() => `030${g.digits(8, "123456789")}`, () => `015${g.digits(9)}`, () => `089${g.digits(7, "123456789")}`, () => `017${g.digits(8)}`])(),
  FR: (g) => `0${g.pick(["1", "6", "7", "4"])}${g.digits(8)}`,
  IN: (g) => g.digits(10, "6789"),
  BR: (g) => `${g.pick(["11", "21", "31"])}9${g.digits(8, "6789")}`,
  AU: (g) => `04${g.digits(8)}`,
  JP: (g) => `090${g.digits(8, "1234")}`,
  ES: (g) => `6${g.digits(8)}`,
  NL: (g) => `06${g.digits(8, "12345")}`,
};

function withLuhn(partial: string): string {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return partial + String((10 - (sum % 10)) % 10);
}

function mod97(text: string): number {
  let rest = 0;
  for (const ch of text) {
    const value = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of value) rest = (rest * 10 + Number(d)) % 97;
  }
  return rest;
}

const e = (entity: Label, value: string): Piece => ({ entity, value });
const ts = (g: Gen) => g.timestamp();
const uuid = (g: Gen) => g.f.string.uuid();

/** Templates the detectors may be adjusted against. */
const TUNE: Template[] = [
  (g) => [`${ts(g)} INFO user signed up email=`, e("email", g.email()), ` ip=`, e("ip", g.ip()), ` req_id=${uuid(g)}`],
  (g) => [`{"level":30,"time":"${ts(g)}","msg":"profile updated","user":{"id":"${uuid(g)}","email":"`, e("email", g.email()), `","phone":"`, e("phone", g.phone()), `"},"duration_ms":${g.duration()}}`],
  (g) => [`Hi, my card `, e("card", g.card()), ` was charged twice for order ${g.orderNumber()} (${g.amount()} EUR). Call me on `, e("phone", g.phone()), `.`],
  (g) => [e("ip", g.ip()), ` - - [${ts(g)}] "GET /api/${g.version()}/items/${g.orderNumber()} HTTP/1.1" 200 ${g.f.number.int(99999)}`],
  (g) => [`payout to `, e("iban", g.iban()), ` ref ${g.orderNumber()} amount ${g.amount()} on ${ts(g)}`],
  (g) => [`W-4 form: SSN `, e("ssn", g.ssn()), `, employee ${g.f.person.fullName()}, badge ${g.digits(6)}`],
  (g) => [`curl -H "Authorization: Bearer `, e("jwt", g.jwt()), `" https://${g.f.internet.domainName()}/v1/me`],
  (g) => [`config loaded: {"stripe_key":"`, e("sensitive_value", g.opaque()), `","region":"eu-west-1","build":"${g.hash()}"}`],
  (g) => [`deploy ${g.version()} commit ${g.hash()} leaked AWS key `, e("secret", g.secret()), ` in logs at ${ts(g)}`],
  (g) => [`POST /login username=${g.f.internet.username()}&password=`, e("sensitive_value", g.f.internet.password()), ` from `, e("ip", g.ip())],
  (g) => [`upstream timeout after ${g.duration()}s, retry ${g.f.number.int(5)} of request ${uuid(g)}; device mac ${g.mac()}`],
  (g) => [`invoice ${g.orderNumber()} tracking ${g.luhnId()} version ${g.version()} at ${ts(g)}`],
  (g) => [`Contact: `, e("email", g.email()), ` / `, e("phone", g.phone()), ` / ${g.f.location.streetAddress()}`],
  (g) => [`Authorization: Token `, e("bearer", g.opaque()), ` user-agent=Mozilla/5.0 (X11; Linux x86_64) build ${g.version()}`],
  (g) => [`order ${g.orderNumber()} paid with card ending ${g.digits(4)}; gift card ${g.luhnId()}; total ${g.amount()}`],
];

/** Templates kept apart: phrasing and layouts the detectors never saw while being adjusted. */
const HELDOUT: Template[] = [
  (g) => [`[${ts(g)}] support ticket #${g.digits(6)}: customer `, e("email", g.email()), ` says their IBAN `, e("iban", g.iban()), ` was rejected`],
  (g) => [`<14>1 ${ts(g)} web-${g.f.number.int(9)} app - - - client `, e("ip", g.ip()), ` GET /search?q=${g.f.word.words(2).replace(/ /g, "+")} took ${g.duration()}ms`],
  (g) => [`{"event":"checkout","amount":${g.amount()},"pan":"`, e("card", g.card()), `","order":"${g.orderNumber()}","ts":${g.timestamp().replace(/\D/g, "").slice(0, 10)}}`],
  (g) => [`please ring `, e("phone", g.phone()), ` after 5pm, or write to `, e("email", g.email())],
  (g) => [`Employee record: ${g.f.person.fullName()}, SSN: `, e("ssn", g.ssn()), `, hired ${ts(g)}, id ${g.luhnId()}`],
  (g) => [`token refreshed for ${uuid(g)}: `, e("jwt", g.jwt()), ` (exp ${g.timestamp()})`],
  (g) => [`ERROR db connect failed host=${g.f.internet.domainName()} port=${g.f.number.int(65535)} password=`, e("sensitive_value", g.f.internet.password()), ` attempt ${g.f.number.int(9)}`],
  (g) => [`git push rejected: secret detected `, e("secret", g.secret()), ` in ${g.f.system.filePath()}`],
  (g) => [`X-Forwarded-For: `, e("ip", g.ip()), `, `, e("ip", g.ip()), ` Via: 1.1 proxy-${g.f.number.int(99)} (${g.version()})`],
  (g) => [`Wire transfer: beneficiary ${g.f.person.fullName()}, account `, e("iban", g.iban()), `, reference INV-${g.digits(8)}, value date ${ts(g)}`],
  (g) => [`sms to `, e("phone", g.phone()), `: your code is ${g.digits(6)} (valid ${g.f.number.int(15)} min)`],
  (g) => [`metrics cpu=${g.duration()} mem=${g.f.number.int(99999)}kB uptime=${g.f.number.int(9999999)} build=${g.version()} sha=${g.hash()} rss=${g.amount()}`],
  (g) => [`shipment ${g.luhnId()} for order ${g.orderNumber()} left hub ${g.f.location.zipCode()} at ${ts(g)}; weight ${g.amount()} kg`],
  (g) => [`{"headers":{"authorization":"Bearer `, e("bearer", g.opaque()), `","accept":"application/json"},"path":"/v${g.f.number.int(3)}/users/${g.orderNumber()}"}`],
  (g) => [`Kunde `, e("email", g.email()), ` zahlte mit Karte `, e("card", g.card()), ` am ${ts(g)}`],
];

function render(pieces: Piece[]): Example {
  let text = "";
  const spans: Span[] = [];
  for (const piece of pieces) {
    if (typeof piece === "string") {
      text += piece;
      continue;
    }
    spans.push({ entity: piece.entity, start: text.length, end: text.length + piece.value.length });
    text += piece.value;
  }
  return { text, spans };
}

export function generate(templates: readonly Template[], seed: number, count: number): Example[] {
  const f = new Faker({ locale: [en, en_GB, de, fr, base] });
  f.seed(seed);
  const g = new Gen(f);
  const out: Example[] = [];
  for (let i = 0; i < count; i++) out.push(render(g.pick(templates)(g)));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "../../../../bench/corpus/pii");
  for (const [name, templates, seed] of [["tune", TUNE, 1], ["heldout", HELDOUT, 2]] as const) {
    const examples = generate(templates, seed, 4_000);
    writeFileSync(join(dir, `${name}.jsonl`), examples.map((x) => JSON.stringify(x)).join("\n") + "\n");
    console.log(`${name}: ${examples.length} lines, ${examples.reduce((n, x) => n + x.spans.length, 0)} labelled spans`);
  }
}
