/**
 * Matches decoded path segments against route patterns such as `/v1/users/:id/**`.
 * `:name` and `*` match one segment, a final `**` matches any number (zero included).
 * The most specific match wins, whatever the order of routes: at the first segment where two
 * patterns differ, a literal beats a parameter, which beats `**`. So adding a broad catch-all
 * can never capture the traffic of a stricter, more specific route. Ties go to the earlier route.
 */

type Segment = { kind: "literal"; value: string } | { kind: "param"; name: string } | { kind: "rest" };

export interface Match<T> {
  value: T;
  params: Record<string, string>;
}

interface Compiled<T> {
  segments: Segment[];
  methods: ReadonlySet<string> | undefined;
  value: T;
  order: number;
}

const RANK = { literal: 3, param: 2, rest: 1 } as const;

/**
 * The methods a list names, with HEAD wherever GET is: every framework answers HEAD with its GET
 * handler (Express, Fastify, Rails, Django, net/http), headers and all, so a rule written for GET
 * that HEAD could walk past would leak what the GET rule guards to a weaker route.
 */
export function withHeadForGet(methods: readonly string[]): ReadonlySet<string> {
  const set = new Set(methods);
  if (set.has("GET")) set.add("HEAD");
  return set;
}

export function validatePattern(pattern: string): string | undefined {
  if (!pattern.startsWith("/")) return "must start with /";
  const parts = pattern === "/" ? [] : pattern.slice(1).split("/");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === "") return "must not contain empty segments";
    if (part === "**" && i !== parts.length - 1) return "** may only be the last segment";
    if (part.startsWith(":") && !/^:[A-Za-z_][A-Za-z0-9_]*$/.test(part)) return `bad parameter name ${part}`;
    if (part === "." || part === "..") return "must not contain dot segments";
    if (part !== "**" && part.includes("*") && part !== "*") return "* must be a whole segment";
  }
  return undefined;
}

export class Router<T> {
  private readonly routes: Compiled<T>[] = [];

  constructor(private readonly caseSensitive: boolean) {}

  add(pattern: string, methods: readonly string[] | undefined, value: T): void {
    const problem = validatePattern(pattern);
    if (problem !== undefined) throw new Error(`route pattern ${pattern} ${problem}`);
    const parts = pattern === "/" ? [] : pattern.slice(1).split("/");
    const segments = parts.map((part): Segment => {
      if (part === "**") return { kind: "rest" };
      if (part === "*") return { kind: "param", name: "*" };
      if (part.startsWith(":")) return { kind: "param", name: part.slice(1) };
      return { kind: "literal", value: this.caseSensitive ? part : part.toLowerCase() };
    });
    this.routes.push({ segments, methods: methods && withHeadForGet(methods), value, order: this.routes.length });
  }

  /** Every route's value, in the order added. */
  values(): T[] {
    return this.routes.map((r) => r.value);
  }

  match(method: string, segments: readonly string[]): Match<T> | undefined {
    const folded = this.caseSensitive ? segments : segments.map((s) => s.toLowerCase());
    let best: Compiled<T> | undefined;
    for (const route of this.routes) {
      if (route.methods !== undefined && !route.methods.has(method)) continue;
      if (!matches(route.segments, folded)) continue;
      if (best === undefined || moreSpecific(route, best)) best = route;
    }
    if (best === undefined) return undefined;
    return { value: best.value, params: params(best.segments, segments) };
  }
}

function matches(pattern: readonly Segment[], path: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!;
    if (segment.kind === "rest") return true;
    const part = path[i];
    if (part === undefined) return false;
    if (segment.kind === "literal" && segment.value !== part) return false;
  }
  return pattern.length === path.length;
}

function moreSpecific<T>(a: Compiled<T>, b: Compiled<T>): boolean {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const rankA = rankAt(a.segments, i);
    const rankB = rankAt(b.segments, i);
    if (rankA !== rankB) return rankA > rankB;
  }
  if ((a.methods === undefined) !== (b.methods === undefined)) return a.methods !== undefined;
  return a.order < b.order;
}

function params(pattern: readonly Segment[], path: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  pattern.forEach((segment, i) => {
    if (segment.kind === "param" && segment.name !== "*") out[segment.name] = path[i]!;
  });
  return out;
}

/** A pattern that has ended matched the path exactly there, which is more specific than `**`. */
function rankAt(segments: readonly Segment[], i: number): number {
  const segment = segments[i];
  return segment === undefined ? RANK.param : RANK[segment.kind];
}
