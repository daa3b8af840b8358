import type { AttackClass } from "./detectors.js";
import type { ShieldPolicy } from "./schema.js";

/**
 * A route's `except` list: fields the attack detectors leave alone, for every class or for the
 * classes named. `*` stands for one name or one array index, never for a dot, so
 * `body.items[*].note` cannot silence `body.items[0].note.script`.
 */
export class FieldExclusions {
  private readonly rules: readonly { field: RegExp; classes: ReadonlySet<AttackClass> | undefined }[];
  /** Field names repeat across a request's records: each is matched once. */
  private readonly cache = new Map<string, ReadonlySet<AttackClass> | "all" | undefined>();

  constructor(except: ShieldPolicy["except"]) {
    this.rules = except.map((entry) => {
      const { field, checks } = typeof entry === "string" ? { field: entry, checks: undefined } : entry;
      const source = field
        .split(/(\[\*\]|\*)/)
        .map((part) => (part === "[*]" ? "\\[[^\\]]*\\]" : part === "*" ? "[^.\\[]*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
        .join("");
      return { field: new RegExp(`^${source}$`), classes: checks === undefined ? undefined : new Set(checks) };
    });
  }

  excludes(field: string, cls: AttackClass): boolean {
    if (this.rules.length === 0) return false;
    let found = this.cache.get(field);
    if (found === undefined && !this.cache.has(field)) {
      const classes = new Set<AttackClass>();
      let all = false;
      for (const rule of this.rules) {
        if (!rule.field.test(field)) continue;
        if (rule.classes === undefined) all = true;
        else for (const c of rule.classes) classes.add(c);
      }
      found = all ? "all" : classes.size > 0 ? classes : undefined;
      if (this.cache.size < 10_000) this.cache.set(field, found);
    }
    return found === "all" || (found !== undefined && found.has(cls));
  }
}
