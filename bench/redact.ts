/**
 * The redaction engine on the labelled corpus (bench/corpus/pii, README there): precision,
 * recall and F1 per entity on the tuning split and on the held-out split, beside the
 * `redact-pii` package on the same lines in the same run; then MB/s of CPU on one core on
 * realistic log lines with PII and without, for both. Run with `--split heldout` for one split.
 */
import { readFileSync } from "node:fs";
import { base, en, Faker } from "@faker-js/faker";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Redactor } from "../src/redact/index.js";
import type { Example, Label, Span } from "./corpus/pii/generate.js";
import { median, ROOT } from "./harness.js";

const require = createRequire(import.meta.url);
const { SyncRedactor } = require("redact-pii") as { SyncRedactor: new () => { redact(text: string): string } };

const LABELS: Label[] = ["email", "phone", "card", "iban", "ssn", "ip", "jwt", "secret", "bearer", "sensitive_value"];
/** Credentials are one family: a token redacted as the value of `authorization` is not leaked. */
const CREDENTIALS = new Set<Label>(["jwt", "secret", "bearer", "sensitive_value"]);
/** redact-pii's labels for what it finds, mapped onto ours; its others (names, zip codes, digits…) count as findings of no entity here. */
const THEIRS: Record<string, Label> = { EMAIL_ADDRESS: "email", PHONE_NUMBER: "phone", CREDIT_CARD_NUMBER: "card", US_SOCIAL_SECURITY_NUMBER: "ssn", IP_ADDRESS: "ip", PASSWORD: "sensitive_value", CREDENTIALS: "sensitive_value" };

interface Predicted {
  entity: Label | "other";
  start: number;
  end: number;
}

function load(split: string): Example[] {
  return readFileSync(join(ROOT, "bench/corpus/pii", `${split}.jsonl`), "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Example);
}

const sameKind = (gold: Label, found: Label | "other") => gold === found || (CREDENTIALS.has(gold) && found !== "other" && CREDENTIALS.has(found));
const covers = (p: Predicted, g: Span) => p.start <= g.start && p.end >= g.end;
const overlaps = (p: Predicted, g: Span) => p.start < g.end && g.start < p.end;

interface Score {
  tp: number;
  fp: number;
  fn: number;
  /** Gold spans left in the output by every finding, whatever entity it named: what leaked. */
  leaked: number;
}

/** A gold span is found when a finding of its kind covers it whole; a finding overlapping no gold span of its kind is a false positive. */
function score(examples: Example[], predict: (text: string) => Predicted[]): Map<Label, Score> {
  const scores = new Map(LABELS.map((l) => [l, { tp: 0, fp: 0, fn: 0, leaked: 0 }]));
  for (const { text, spans } of examples) {
    const found = predict(text);
    for (const g of spans) {
      const s = scores.get(g.entity)!;
      if (found.some((p) => sameKind(g.entity, p.entity) && covers(p, g))) s.tp++;
      else s.fn++;
      if (!found.some((p) => covers(p, g))) s.leaked++;
    }
    for (const p of found) {
      if (p.entity === "other") continue;
      if (!spans.some((g) => sameKind(g.entity, p.entity) && overlaps(p, g))) scores.get(p.entity)!.fp++;
    }
  }
  return scores;
}

/** redact-pii's labels (its built-in patterns); it gives back the text with these in place of what it found. */
const THEIR_LABELS = /(CREDENTIALS|CREDIT_CARD_NUMBER|EMAIL_ADDRESS|IP_ADDRESS|NAME|PASSWORD|PHONE_NUMBER|STREET_ADDRESS|URL|US_SOCIAL_SECURITY_NUMBER|USERNAME|ZIPCODE|DIGITS)/;

/** Spans recovered by matching the redacted text against the line: each label spans from the text before it to the text after it. */
function theirSpans(redactor: { redact(text: string): string }, text: string): Predicted[] {
  const parts = redactor.redact(text).split(THEIR_LABELS);
  const found: Predicted[] = [];
  let at = 0;
  for (let i = 0; i < parts.length; i += 2) {
    const literal = parts[i]!;
    const next = i === parts.length - 1 && literal === "" ? text.length : text.indexOf(literal, at);
    if (next === -1) break; // the text around a label changed: stop rather than guess
    if (i > 0) found.at(-1)!.end = next;
    at = next + literal.length;
    if (i + 1 < parts.length) found.push({ entity: THEIRS[parts[i + 1]!] ?? "other", start: at, end: at });
  }
  return found;
}

function f1(s: Score) {
  const p = s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp);
  const r = s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn);
  return { p, r, f1: p + r === 0 ? 0 : (2 * p * r) / (p + r) };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(5);

function report(split: string, examples: Example[]): void {
  const ours = new Redactor({}, Buffer.alloc(32));
  const theirs = new SyncRedactor();
  const a = score(examples, (text) => ours.find(text));
  const b = score(examples, (text) => theirSpans(theirs, text));
  console.log(`\n${split}: ${examples.length} lines, ${examples.reduce((n, x) => n + x.spans.length, 0)} labelled spans`);
  console.log(`${"entity".padEnd(16)} ${"n".padStart(5)} | portcullis   P     R    F1  leak | redact-pii   P     R    F1  leak`);
  for (const label of LABELS) {
    const sa = a.get(label)!;
    const sb = b.get(label)!;
    const n = sa.tp + sa.fn;
    if (n === 0 && sa.fp === 0) continue;
    const fa = f1(sa);
    const fb = f1(sb);
    const leak = (s: Score) => pct(n === 0 ? 0 : s.leaked / n);
    console.log(`${label.padEnd(16)} ${String(n).padStart(5)} |           ${pct(fa.p)} ${pct(fa.r)} ${pct(fa.f1)} ${leak(sa)} |           ${pct(fb.p)} ${pct(fb.r)} ${pct(fb.f1)} ${leak(sb)}`);
  }
}

/** CPU seconds on this thread for `bytes` of lines, median of rounds. */
function throughput(lines: string[], redact: (line: string) => string, minBytes: number): number {
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
  const passes = Math.max(1, Math.ceil(minBytes / bytes));
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    let sink = 0;
    for (let p = 0; p < passes; p++) for (const line of lines) sink += redact(line).length;
    const used = process.cpuUsage(start);
    if (sink === -1) console.log(sink);
    rates.push((bytes * passes) / 1e6 / ((used.user + used.system) / 1e6));
  }
  return median(rates);
}

const only = process.argv.includes("--split") ? process.argv[process.argv.indexOf("--split") + 1] : undefined;
console.log("redaction: the labelled corpus (bench/corpus/pii/README.md); a span is found when a finding of its entity covers it whole");
for (const split of ["tune", "heldout"]) if (only === undefined || only === split) report(split, load(split));

/**
 * Log lines as the gateway writes them (access lines, security events, service lines), each
 * with one personal value in the place it would come in by (a path, a principal, a client
 * address, a message), or with a neutral value there instead.
 */
function gatewayLines(count: number, pii: boolean): string[] {
  const f = new Faker({ locale: [en, base] });
  f.seed(pii ? 11 : 12);
  const time = () => f.date.recent({ days: 30 }).toISOString();
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const head = `{"level":30,"time":"${time()}","service":"portcullis","req_id":"${f.string.uuid()}"`;
    const kind = i % 10;
    if (kind < 6) {
      const path = pii ? `/v1/users/${f.internet.email()}/orders` : `/v1/users/${f.string.uuid()}/orders`;
      lines.push(`${head},"method":"GET","path":"${path}","route":"orders","status":200,"outcome":"forwarded","duration_ms":${f.number.float({ max: 90, fractionDigits: 3 })},"tenant_id":"${f.string.uuid()}","principal":"key:${f.string.uuid()}","msg":"request"}\n`);
    } else if (kind < 8) {
      const client = pii ? f.internet.ipv4() : "unknown";
      lines.push(`${head},"security_event":{"type":"rate_limited","severity":"warning","at":"${time()}","client":"${client}","route":"orders","detail":{"limit":"per-key","retry_after_ms":${f.number.int(9999)}}},"msg":"security event: rate_limited"}\n`);
    } else {
      const who = pii ? `${f.person.fullName()} <${f.internet.email()}>, phone ${f.helpers.arrayElement(["+1 415 555 2671", "(212) 555-0187", "+44 20 7946 0958"])}` : `account ${f.string.alphanumeric(12)}, plan ${f.commerce.productName()}`;
      lines.push(`${head},"tenant_id":"${f.string.uuid()}","event":"profile_updated","msg":"profile updated for ${who}"}\n`);
    }
  }
  return lines;
}

const heldout = load("heldout");
const ours = new Redactor({}, Buffer.alloc(32));
const theirs = new SyncRedactor();
const measure = (name: string, lines: string[]) => {
  const a = throughput(lines, (l) => ours.text(l), 20e6);
  const b = throughput(lines, (l) => theirs.redact(l), 1e6);
  console.log(`  ${name.padEnd(44)} portcullis ${a.toFixed(1).padStart(6)} MB/s   redact-pii ${b.toFixed(2).padStart(5)} MB/s   (${(a / b).toFixed(0)}×)`);
};
console.log("\nthroughput, MB of text per CPU second on one core");
measure("gateway log lines, one personal value each", gatewayLines(5_000, true));
measure("gateway log lines, none", gatewayLines(5_000, false));
measure("held-out corpus lines with PII (dense)", heldout.filter((x) => x.spans.length > 0).map((x) => x.text));
measure("held-out corpus look-alikes only", heldout.filter((x) => x.spans.length === 0).map((x) => x.text));
