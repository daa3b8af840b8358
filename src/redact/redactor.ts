import { createHmac } from "node:crypto";
import type { CountryCode } from "libphonenumber-js";
import { z } from "zod";
import { ENTITIES, findAll, sensitiveName, type Entity, type Finding } from "./detectors.js";

export const redactModeSchema = z.enum(["mask", "hash", "drop", "keep"]);
export type RedactMode = z.infer<typeof redactModeSchema>;
const modes = z.partialRecord(z.enum(ENTITIES), redactModeSchema);

export const redactOptionsSchema = z.strictObject({
  /** Per entity: `mask` (a label), `hash` (a keyed hash: equal values correlate, none is revealed), `drop`, or `keep`. Default mask. */
  entities: modes.default({}),
  /** Regions whose national phone formats count (ISO 3166 alpha-2); a number written with + counts from anywhere. */
  phoneRegions: z.array(z.string().regex(/^[A-Z]{2}$/)).min(1).default(["US", "GB", "DE", "FR"]),
  /** Each tenant's own modes, over `entities`. */
  tenants: z.record(z.string(), z.strictObject({ entities: modes.default({}) })).default({}),
});
export type RedactOptions = z.input<typeof redactOptionsSchema>;

const LABEL: Record<Entity, string> = {
  email: "EMAIL",
  phone: "PHONE",
  card: "CARD",
  iban: "IBAN",
  ssn: "SSN",
  ip: "IP",
  jwt: "JWT",
  secret: "SECRET",
  bearer: "TOKEN",
  sensitive_value: "REDACTED",
};

interface Profile {
  modes: Record<Entity, RedactMode>;
  wanted: ReadonlySet<Entity>;
}

const MAX_TENANT_KEYS = 10_000;

/**
 * The one redaction engine: logs, audit, events and exports go through it. `text` redacts what
 * the detectors find in a string; `value` walks a JSON value, redacting every value under a
 * sensitive name (`password`, `token`, `authorization`, `cookie`, …) whatever it holds, and the
 * strings elsewhere as text. The hash mode is an HMAC under a key of each tenant's own (derived
 * from `hashKey`), so a tenant's equal values correlate and nobody can confirm a guessed value
 * without the key, nor link two tenants' records of one person.
 */
export class Redactor {
  private readonly base: Profile;
  private readonly tenants = new Map<string, Profile>();
  private readonly regions: readonly CountryCode[];
  private readonly tenantKeys = new Map<string, Buffer>();

  constructor(
    options: RedactOptions = {},
    private readonly hashKey?: Uint8Array,
  ) {
    const parsed = redactOptionsSchema.parse(options);
    this.regions = parsed.phoneRegions as CountryCode[];
    this.base = profile(parsed.entities);
    for (const [tenant, own] of Object.entries(parsed.tenants)) this.tenants.set(tenant, profile({ ...parsed.entities, ...own.entities }));
    const hashing = [this.base, ...this.tenants.values()].some((p) => Object.values(p.modes).includes("hash"));
    if (hashing && (hashKey === undefined || hashKey.length < 32)) throw new Error("the redaction's hash mode needs a key of at least 32 bytes");
  }

  /** Where each entity is in the text, for those this tenant's settings redact. */
  find(text: string, tenantId?: string): Finding[] {
    return findAll(text, { phoneRegions: this.regions }, this.profileOf(tenantId).wanted);
  }

  text(text: string, tenantId?: string): string {
    const found = this.find(text, tenantId);
    if (found.length === 0) return text;
    const { modes } = this.profileOf(tenantId);
    let out = "";
    let at = 0;
    for (const f of found) {
      out += text.slice(at, f.start) + this.replacement(f.entity, modes[f.entity], text.slice(f.start, f.end), tenantId);
      at = f.end;
    }
    return out + text.slice(at);
  }

  /** A redacted copy of a JSON value. */
  value<T>(value: T, tenantId?: string): T {
    return this.walk(value, tenantId, 0) as T;
  }

  private walk(value: unknown, tenantId: string | undefined, depth: number): unknown {
    if (typeof value === "string") return this.text(value, tenantId);
    if (value === null || typeof value !== "object") return value;
    // Deeper than any honest document: nothing below is shown rather than walked without end.
    if (depth > 64) return `[${LABEL.sensitive_value}]`;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, tenantId, depth + 1));
    const out: Record<string, unknown> = {};
    const { modes } = this.profileOf(tenantId);
    for (const [key, v] of Object.entries(value)) {
      if (sensitiveName(key) && modes.sensitive_value !== "keep") {
        if (modes.sensitive_value === "drop") continue;
        out[key] = v === null || v === undefined ? v : this.replacement("sensitive_value", modes.sensitive_value, typeof v === "string" ? v : JSON.stringify(v), tenantId);
      } else {
        out[key] = this.walk(v, tenantId, depth + 1);
      }
    }
    return out;
  }

  private replacement(entity: Entity, mode: RedactMode, found: string, tenantId: string | undefined): string {
    if (mode === "drop") return "";
    if (mode === "keep") return found;
    if (mode === "mask") return `[${LABEL[entity]}]`;
    const digest = createHmac("sha256", this.keyOf(tenantId)).update(`${entity}\u0000${normalise(entity, found)}`).digest("hex");
    return `[${LABEL[entity]}:${digest.slice(0, 12)}]`;
  }

  private profileOf(tenantId: string | undefined): Profile {
    return (tenantId === undefined ? undefined : this.tenants.get(tenantId)) ?? this.base;
  }

  private keyOf(tenantId: string | undefined): Buffer {
    const id = tenantId ?? "";
    let key = this.tenantKeys.get(id);
    if (key === undefined) {
      key = createHmac("sha256", this.hashKey!).update(`portcullis redaction v1\u0000${id}`).digest();
      if (this.tenantKeys.size >= MAX_TENANT_KEYS) this.tenantKeys.clear();
      this.tenantKeys.set(id, key);
    }
    return key;
  }
}

function profile(entities: Partial<Record<Entity, RedactMode>>): Profile {
  const modes = Object.fromEntries(ENTITIES.map((e) => [e, entities[e] ?? "mask"])) as Record<Entity, RedactMode>;
  return { modes, wanted: new Set(ENTITIES.filter((e) => modes[e] !== "keep")) };
}

/** The same value however it was written: an address in any case, a number with any separators. */
function normalise(entity: Entity, value: string): string {
  if (entity === "email") return value.toLowerCase().replace("%40", "@");
  if (entity === "phone" || entity === "card" || entity === "ssn") return value.replace(/[^\d+]/g, "");
  if (entity === "iban") return value.replace(/ /g, "").toUpperCase();
  if (entity === "ip") return value.toLowerCase();
  return value;
}
