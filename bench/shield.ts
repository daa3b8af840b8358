/**
 * The shield's detectors measured on public attack payloads and benign input at scale (see
 * bench/corpus/README.md), per class and per paranoia level, on the tuning split and on the
 * held-out split that was never tuned on (the honest figure). Then throughput in MB/s over JSON
 * bodies, and the worst cost of one 1 MiB field.
 */
import { existsSync, readFileSync } from "node:fs";
import { ATTACK_CLASSES, Detector, type AttackClass, type ParanoiaLevel } from "../src/shield/detectors.js";
import { Inspection, blockingClasses } from "../src/shield/inspect.js";
import { normalizeForDetection } from "../src/shield/normalize.js";
import { benignSources, isHeldOut } from "./corpus/benign-sources.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const PUBLIC_ATTACKS = `${ROOT}../shared/corpora/shield-payloads.jsonl`;
const LEVELS: readonly ParanoiaLevel[] = [1, 2, 3, 4];
const ALL = new Set(ATTACK_CLASSES);
const limitsAt = (paranoia: ParanoiaLevel) => ({
  maxJsonDepth: 32,
  maxJsonKeys: 100_000,
  maxFieldLength: 10_000_000,
  maxUrls: 1e9,
  maxPhoneNumbers: 1e9,
  detector: new Detector({ classes: ALL, paranoia }),
});
const LIMITS = new Map(LEVELS.map((level) => [level, limitsAt(level)]));

/** `ssrf` only reports by default: it refuses nothing unless a route says so. */
const REPORTED_ONLY: ReadonlySet<AttackClass> = new Set(["ssrf"]);

/** Whether a request carrying `value` in its query would be refused at `level`, with the default modes. */
function flagged(value: string, level: ParanoiaLevel): boolean {
  const inspection = new Inspection(LIMITS.get(level)!);
  inspection.text("query.q", value);
  return [...blockingClasses(inspection.finish())].some((cls) => !REPORTED_ONLY.has(cls));
}

const percent = (part: number, whole: number) => (whole === 0 ? "   -  " : `${((100 * part) / whole).toFixed(1).padStart(5)}%`);

function rates(values: readonly string[]): string {
  const cells: string[] = [];
  for (const level of LEVELS) {
    const tune = values.filter((v) => !isHeldOut(v));
    const held = values.filter(isHeldOut);
    cells.push(`${percent(tune.filter((v) => flagged(v, level)).length, tune.length)} ${percent(held.filter((v) => flagged(v, level)).length, held.length)}`);
  }
  return cells.join(" | ");
}

const header = `${"".padEnd(38)} ${"n".padStart(6)} | ${LEVELS.map((l) => `PL${l} tune  held`.padEnd(13)).join(" | ")}`;

if (existsSync(PUBLIC_ATTACKS)) {
  const rows = readFileSync(PUBLIC_ATTACKS, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { input: string; class: string; source: string; path: string });
  console.log("shield: attacks caught, public payloads (PayloadsAllTheThings, fuzzdb; ../shared/corpora/), tuning and held-out splits");
  console.log(header);
  const groups = new Map<string, string[]>();
  const add = (name: string, input: string) => groups.set(name, [...(groups.get(name) ?? []), input]);
  for (const row of rows) {
    add(row.class, row.input);
    add(`${row.class} / ${row.source}`, row.input);
    // dotdotpwn's 21 000 generated traversals would drown every other list of the class.
    if (row.class === "path_traversal" && !row.path.includes("dotdotpwn")) add("path_traversal without dotdotpwn", row.input);
  }
  for (const [name, inputs] of [...groups].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${name.padEnd(36)} ${String(inputs.length).padStart(6)} | ${rates(inputs)}`);
  // The level-1 shortcut skips the classes a text holds none of the characters for: it must never hide a finding.
  const everything = new Detector({ classes: ALL, paranoia: 1, shortcut: false });
  const shortcut = new Detector({ classes: ALL, paranoia: 1 });
  const classesOf = (detector: Detector, input: string) => detector.detect(normalizeForDetection(input)).map((d) => d.class).join();
  const hidden = rows.filter((row) => classesOf(everything, row.input) !== classesOf(shortcut, row.input)).length;
  console.log(`  the level-1 shortcut changed the findings of ${hidden} of ${rows.length} payloads`);
} else {
  console.log(`shield: ${PUBLIC_ATTACKS} not found, public attack payloads not measured`);
}

console.log("shield: false positives, benign input (bench/corpus/README.md), tuning and held-out splits");
console.log(header);
const benign = benignSources(ROOT);
const allBenign: string[] = [];
for (const source of benign) {
  allBenign.push(...source.values);
  console.log(`  ${source.name.padEnd(36)} ${String(source.values.length).padStart(6)} | ${rates(source.values)}`);
}
console.log(`  ${"all benign".padEnd(36)} ${String(allBenign.length).padStart(6)} | ${rates(allBenign)}`);

const project = <T>(name: string) => JSON.parse(readFileSync(`${ROOT}bench/corpus/${name}`, "utf8")) as T;
for (const [title, attacks, clean] of [
  ["project evasion set (bench/corpus/attacks.json)", "attacks.json", "benign.json"],
  ["project held-out set (bench/corpus/attacks-heldout.json)", "attacks-heldout.json", "benign-heldout.json"],
] as const) {
  const all = Object.values(project<Record<AttackClass, string[]>>(attacks)).flat();
  const quiet = project<string[]>(clean);
  console.log(`shield: ${title}: PL1 catches ${percent(all.filter((v) => flagged(v, 1)).length, all.length)} of ${all.length}, flags ${percent(quiet.filter((v) => flagged(v, 1)).length, quiet.length)} of ${quiet.length} benign`);
}

// A realistic API body: records with names, free text, numbers and nested tags, about 64 KiB.
const texts = benign.find((s) => s.name.startsWith("people"))!.values;
const records = Array.from({ length: 220 }, (_, i) => ({
  id: i,
  name: texts[i % texts.length],
  comment: `${texts[(i * 7) % texts.length]} ${texts[(i * 13) % texts.length]}`,
  price: i * 3.5,
  tags: ["alpha", "beta", `tag-${i}`],
  address: { street: `${i} Main Street`, city: "Springfield", zip: String(10_000 + i) },
}));
const body = Buffer.from(JSON.stringify({ records }));
const rounds: number[] = [];
for (let round = 0; round < 7; round++) {
  const start = performance.now();
  let bytes = 0;
  while (performance.now() - start < 500) {
    // A detector of its own each time: it remembers values across requests, and the same body
    // again would be measuring that memory, not the detectors.
    const inspection = new Inspection({ ...LIMITS.get(1)!, detector: new Detector({ classes: ALL, paranoia: 1 }) });
    inspection.json("body", JSON.parse(body.toString("utf8")));
    inspection.finish();
    bytes += body.length;
  }
  rounds.push(bytes / 1e6 / ((performance.now() - start) / 1000));
}
rounds.sort((a, b) => a - b);
console.log(`shield throughput on ${(body.length / 1024).toFixed(0)} KiB JSON bodies: ${rounds[3]!.toFixed(1)} MB/s (median of 7 rounds; parse + walk + detect, PL1)`);

// A GET request's fields as a browser sends them, per request: with the route's long-lived
// detector (a client's headers repeat, and are remembered) and with a fresh one (nothing remembered).
const browserHeaders = {
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "accept-language": "en-US,en;q=0.9,de;q=0.8",
  referer: "https://app.example.com/dashboard?tab=billing&range=30d",
  host: "api.example.com",
};
const getRequest = (inspection: Inspection, i: number) => {
  for (const segment of ["v1", "orders", String(10_000 + i)]) inspection.text("path", segment);
  for (const [name, value] of [["page", String(i % 50)], ["sort", "-created_at"], ["q", texts[i % texts.length]!]] as const) {
    inspection.text(`query.${name}`, name, "key");
    inspection.text(`query.${name}`, value);
  }
  for (const [name, value] of Object.entries(browserHeaders)) inspection.text(`header.${name}`, value, "header");
  inspection.finish();
};
const cpuPerRequest = (limits: () => ReturnType<typeof limitsAt>) => {
  const start = process.cpuUsage();
  for (let i = 0; i < 20_000; i++) getRequest(new Inspection(limits()), i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 20_000;
};
const longLived = limitsAt(1);
cpuPerRequest(() => longLived);
console.log(`shield CPU per GET request (path, query, browser headers, PL1): ${cpuPerRequest(() => longLived).toFixed(1)} µs with the route's detector, ${cpuPerRequest(() => limitsAt(1)).toFixed(1)} µs with a fresh one each time`);

// The slowest text a client could send: each detector's trigger characters, repeated to 1 MiB.
const MiB = 1 << 20;
const worst: [string, string][] = [
  ["prose", "the quick brown fox jumps over the lazy dog; ".repeat(MiB / 45)],
  ["quotes", "'\"".repeat(MiB / 2)],
  ["tags", "<a b=".repeat(MiB / 5)],
  ["open tags", "<".repeat(MiB)],
  ["SQL words", "or 1=1 union ".repeat(MiB / 13)],
  ["shell", ";$(`|".repeat(MiB / 5)],
  ["dots", "../".repeat(MiB / 3)],
  ["braces", "${{".repeat(MiB / 3)],
  ["percent", "%25".repeat(MiB / 3)],
];
const costs: string[] = [];
for (const [name, text] of worst) {
  const times = ([1, 4] as const).map((level) => {
    const start = performance.now();
    // A fresh detector: it would remember a value it has read.
    new Inspection({ ...LIMITS.get(level)!, detector: new Detector({ classes: ALL, paranoia: level }) }).text("body", text);
    return (performance.now() - start).toFixed(0);
  });
  costs.push(`${name} ${times.join(" / ")}`);
}
console.log(`shield worst case, one 1 MiB field, ms at PL1 / PL4: ${costs.join(", ")}`);
