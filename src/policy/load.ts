import { readFile } from "node:fs/promises";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { policySchema, type Policy } from "./schema.js";

/** A policy that cannot be used, with every reason, each naming the file and the path inside it. */
export class PolicyError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly string[],
  ) {
    super(`${file}: invalid policy\n${issues.map((i) => `  - ${i}`).join("\n")}`);
    this.name = "PolicyError";
  }
}

export const DEFAULT_POLICY_SOURCE = "(built-in default policy)";

/** With no policy file: one route, every path, every method, a valid credential required. */
export function defaultPolicy(): Policy {
  return parsePolicy({ version: 1, routes: [{ name: "default", match: { path: "/**" } }] }, DEFAULT_POLICY_SOURCE);
}

export async function loadPolicyFile(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PolicyError(file, [`cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  let document: unknown;
  try {
    document = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : "";
    throw new PolicyError(file, [`is not valid ${file.endsWith(".json") ? "JSON" : "YAML"}${where}: ${firstLine(error)}`]);
  }
  return parsePolicy(document, file);
}

export function parsePolicy(document: unknown, file: string): Policy {
  const result = policySchema.safeParse(document);
  if (!result.success) throw new PolicyError(file, result.error.issues.map(describeIssue));
  const issues = crossChecks(result.data);
  if (issues.length > 0) throw new PolicyError(file, issues);
  return result.data;
}

/** Rules that span several fields, which the schema alone cannot say. */
function crossChecks(policy: Policy): string[] {
  const issues: string[] = [];
  const seen = new Set<string>();
  policy.routes.forEach((route, i) => {
    if (seen.has(route.name)) issues.push(`routes[${i}].name: duplicate route name "${route.name}"`);
    seen.add(route.name);
    if (typeof route.authenticate === "object" && route.authenticate.methods.includes("jwt") && policy.jwt.issuers.length === 0) {
      issues.push(`routes[${i}].authenticate.methods: "jwt" needs at least one entry in jwt.issuers`);
    }
    if (route.authorize !== undefined && route.authenticate === "none") {
      issues.push(`routes[${i}].authorize: scopes cannot be checked on a route with authenticate: none`);
    }
  });
  issues.push(...unreachableRoutes(policy));
  const issuers = new Set<string>();
  policy.jwt.issuers.forEach((issuer, i) => {
    if (issuers.has(issuer.issuer)) issues.push(`jwt.issuers[${i}].issuer: duplicate issuer "${issuer.issuer}"`);
    issuers.add(issuer.issuer);
  });
  return issues;
}

/**
 * A route that another, earlier route with the same pattern shape always wins over would never
 * run: its controls would be dead configuration that a reader trusts. Parameters match alike
 * whatever their names, and literals fold case unless paths are case-sensitive.
 */
function unreachableRoutes(policy: Policy): string[] {
  const shape = (path: string) =>
    (path === "/" ? [] : path.slice(1).split("/"))
      .map((part) => (part === "**" ? "**" : part === "*" || part.startsWith(":") ? ":" : `=${policy.paths.caseSensitive ? part : part.toLowerCase()}`))
      .join("/");
  const issues: string[] = [];
  policy.routes.forEach((route, i) => {
    const mine = shape(route.match.path);
    const shadow = policy.routes.slice(0, i).find((earlier) => {
      if (shape(earlier.match.path) !== mine) return false;
      const [theirs, ours] = [earlier.match.methods, route.match.methods];
      if (theirs === undefined) return ours === undefined;
      return ours !== undefined && ours.every((m) => theirs.includes(m));
    });
    if (shadow !== undefined) issues.push(`routes[${i}].match: route "${route.name}" can never be reached: route "${shadow.name}" matches the same requests and comes first`);
  });
  return issues;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`),
    "",
  );
  const message = issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}` : issue.message;
  return `${path === "" ? "(top level)" : path}: ${message}`;
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split("\n")[0] ?? "";
}
