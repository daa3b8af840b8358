/**
 * Benign input at scale for measuring the shield's false positives, gathered at bench time from
 * what this machine has (Debian's word list and package documentation, the npm packages the
 * project installs) and from a seeded generator. Each source is named in bench/corpus/README.md.
 * Nothing here is committed data: the same `npm ci` and Debian packages give the same strings.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { faker } from "@faker-js/faker";

export interface BenignSource {
  name: string;
  values: string[];
}

/** At most this many strings a source, picked by hash so that the pick does not follow file order. */
const PER_SOURCE = 6_000;

/** Held out: a fifth of every corpus, chosen by a hash of the string itself, never tuned on. */
export function isHeldOut(value: string): boolean {
  return createHash("sha1").update(value).digest()[0]! % 5 === 0;
}

function sample(values: Iterable<string>): string[] {
  const unique = [...new Set([...values].map((v) => v.trim()).filter((v) => v.length >= 2 && v.length <= 2_000))];
  const keyed = unique.map((v) => [createHash("sha1").update(`pick:${v}`).digest("hex"), v] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return keyed.slice(0, PER_SOURCE).map(([, v]) => v);
}

function* walk(dir: string, accept: (name: string) => boolean, depth = 0): Generator<string> {
  if (depth > 8 || !existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path, accept, depth + 1);
    else if (entry.isFile() && accept(entry.name) && statSync(path).size < 2_000_000) yield path;
  }
}

/** Appends without spreading: a changelog can have more lines than a call has room for arguments. */
function append(out: string[], items: readonly string[]): void {
  for (const item of items) out.push(item);
}

function lines(text: string): string[] {
  return text.split("\n").map((line) => line.trim());
}

function debianDocs(): string[] {
  const out: string[] = [];
  for (const path of walk("/usr/share/doc", (name) => name === "copyright" || name.startsWith("changelog"))) {
    const text = path.endsWith(".gz") ? gunzipSync(readFileSync(path)).toString("utf8") : readFileSync(path, "utf8");
    append(out, lines(text).filter((line) => /[a-z]{3}/i.test(line)));
  }
  return out;
}

function packageReadmes(root: string): string[] {
  const out: string[] = [];
  for (const path of walk(join(root, "node_modules"), (name) => /^readme\.md$/i.test(name))) append(out, lines(readFileSync(path, "utf8")));
  return out;
}

function packageCode(root: string): string[] {
  const out: string[] = [];
  for (const path of walk(join(root, "node_modules"), (name) => name.endsWith(".js") && !name.endsWith(".min.js"))) {
    append(out, lines(readFileSync(path, "utf8")).filter((line) => line.length <= 200));
    if (out.length > 400_000) break;
  }
  return out;
}

/** Every string in the package manifests but their `scripts` (build commands, not user input). */
function packageJsonValues(root: string): string[] {
  const out: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) if (key !== "scripts") collect(item);
    }
  };
  for (const path of walk(join(root, "node_modules"), (name) => name === "package.json")) {
    try {
      collect(JSON.parse(readFileSync(path, "utf8")));
    } catch {
      // Some packages ship a template package.json that is not JSON; it is no one's input.
    }
  }
  return out;
}

function fileNames(): string[] {
  const out: string[] = [];
  for (const path of walk("/usr/share", () => true, 3)) {
    out.push(path.slice(path.lastIndexOf("/") + 1), path.replace(/^\/usr\/share\//, ""));
    if (out.length > 200_000) break;
  }
  return out;
}

/** What a shop's or a CRM's API receives, seeded so every run generates the same strings. */
function generated(): { catalogue: string[]; people: string[]; queries: string[] } {
  faker.seed(20261201);
  const catalogue: string[] = [];
  const people: string[] = [];
  const queries: string[] = [];
  for (let i = 0; i < 3_000; i++) {
    const inches = faker.number.int({ min: 1, max: 60 });
    catalogue.push(
      faker.commerce.productName(),
      faker.commerce.productDescription(),
      `${inches}" #${faker.number.int({ min: 1, max: 20 })} ${faker.commerce.productMaterial().toUpperCase()} ${faker.commerce.product().toUpperCase()}`,
      `${faker.commerce.productAdjective()} ${faker.commerce.product()}, ${inches}' x ${faker.number.int({ min: 1, max: 12 })}' (${faker.color.human()})`,
      `SKU-${faker.string.alphanumeric(8).toUpperCase()}`,
      `${faker.commerce.price()} ${faker.finance.currencyCode()}`,
    );
    people.push(
      faker.person.fullName(),
      `${faker.person.lastName()}, ${faker.person.firstName()}`,
      faker.helpers.arrayElement(["O'Brien", "D'Angelo", "O'Neil", "Dell'Olio", "N'Diaye"]) + ` ${faker.person.firstName()}`,
      faker.location.streetAddress({ useFullAddress: true }),
      `${faker.location.city()}, ${faker.location.state()} ${faker.location.zipCode()}`,
      faker.company.name(),
      faker.company.catchPhrase(),
      faker.internet.email(),
      faker.internet.url(),
      faker.internet.userAgent(),
      faker.lorem.sentence(),
      faker.hacker.phrase(),
    );
    queries.push(
      `${faker.commerce.productAdjective()} ${faker.commerce.product()} under $${faker.number.int({ min: 5, max: 500 })}`,
      `${faker.word.verb()} ${faker.word.noun()} and ${faker.word.noun()}`,
      `"${faker.word.adjective()} ${faker.word.noun()}" -${faker.word.noun()}`,
      `${faker.word.noun()} or ${faker.word.noun()} near ${faker.location.city()}`,
      `how to ${faker.word.verb()} a ${faker.word.noun()} from ${faker.word.noun()}`,
      `select ${faker.word.noun()} from ${faker.word.noun()} where ${faker.word.adjective()}`,
    );
  }
  return { catalogue, people, queries };
}

export function benignSources(root: string): BenignSource[] {
  const words = existsSync("/usr/share/dict/words") ? lines(readFileSync("/usr/share/dict/words", "utf8")) : [];
  const { catalogue, people, queries } = generated();
  return [
    { name: "words (wamerican)", values: sample(words) },
    { name: "prose (Debian copyright, changelogs)", values: sample(debianDocs()) },
    { name: "docs (npm READMEs)", values: sample(packageReadmes(root)) },
    { name: "code (npm JavaScript lines)", values: sample(packageCode(root)) },
    { name: "JSON values (npm manifests)", values: sample(packageJsonValues(root)) },
    { name: "file names and paths", values: sample(fileNames()) },
    { name: "catalogue (generated)", values: sample(catalogue) },
    { name: "people, places (generated)", values: sample(people) },
    { name: "search queries (generated)", values: sample(queries) },
  ];
}
