/**
 * The shield's detectors against a corpus (bench/corpus/, see its README): true-positive rate per
 * attack class and false-positive rate on benign input, on the set the rules were tuned with and on
 * a held-out set they never saw (the honest figure). Then throughput in MB/s over JSON bodies:
 * parse, walk, normalise and detect, as the gateway does for each inspected body.
 */
import { readFileSync } from "node:fs";
import { Detector, type AttackClass } from "../src/shield/detectors.js";
import { Inspection } from "../src/shield/inspect.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const ALL: ReadonlySet<AttackClass> = new Set(["sqli", "xss", "traversal", "cmdi"]);
const LIMITS = { maxJsonDepth: 32, maxJsonKeys: 100_000, maxFieldLength: 1_000_000, maxUrls: 1e9, maxPhoneNumbers: 1e9, detector: new Detector(ALL) };

const load = <T>(name: string) => JSON.parse(readFileSync(`${ROOT}bench/corpus/${name}`, "utf8")) as T;

function flagged(value: string): boolean {
  const inspection = new Inspection(LIMITS);
  inspection.text("field", value);
  return inspection.findings.some((f) => ALL.has(f.check as AttackClass));
}

function report(title: string, attacks: Record<AttackClass, string[]>, benign: string[]) {
  console.log(title);
  let hits = 0;
  let total = 0;
  for (const [cls, list] of Object.entries(attacks)) {
    const caught = list.filter(flagged).length;
    hits += caught;
    total += list.length;
    console.log(`  ${cls.padEnd(10)} true positives ${caught}/${list.length}  ${((100 * caught) / list.length).toFixed(1)} %`);
  }
  const falsePositives = benign.filter(flagged).length;
  console.log(`  all        true positives ${hits}/${total}  ${((100 * hits) / total).toFixed(1)} %`);
  console.log(`  benign     false positives ${falsePositives}/${benign.length}  ${((100 * falsePositives) / benign.length).toFixed(1)} %`);
}

report("shield detectors, tuning corpus", load("attacks.json"), load("benign.json"));
report("shield detectors, held-out corpus (never tuned against)", load("attacks-heldout.json"), load("benign-heldout.json"));

// A realistic API body: records with names, free text, numbers and nested tags, about 64 KiB.
const benign = load<string[]>("benign.json");
const records = Array.from({ length: 220 }, (_, i) => ({
  id: i,
  name: benign[i % benign.length],
  comment: `${benign[(i * 7) % benign.length]} ${benign[(i * 13) % benign.length]}`,
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
    const inspection = new Inspection(LIMITS);
    inspection.json("body", JSON.parse(body.toString("utf8")));
    inspection.finish();
    bytes += body.length;
  }
  rounds.push(bytes / 1e6 / ((performance.now() - start) / 1000));
}
rounds.sort((a, b) => a - b);
console.log(`shield throughput on ${(body.length / 1024).toFixed(0)} KiB JSON bodies: ${rounds[3]!.toFixed(1)} MB/s (median of 7 rounds; parse + walk + detect)`);
