import type { Control } from "../pipeline/context.js";
import { Problem } from "../problem/index.js";

export interface AuthorizeSpec {
  scopes: readonly string[];
  onDenied: "forbidden" | "not_found";
}

/** Requires every listed scope. Runs after authentication, so a principal is always present. */
export function authorizeControl(spec: AuthorizeSpec): Control {
  const denied = () =>
    spec.onDenied === "not_found" ? new Problem("NOT_FOUND", "Not found.") : new Problem("FORBIDDEN", "Missing a required scope.");
  return (ctx) => {
    const held = ctx.principal?.scopes;
    if (held === undefined) throw denied();
    for (const scope of spec.scopes) if (!held.has(scope)) throw denied();
  };
}
