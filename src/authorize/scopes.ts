import { z } from "zod";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";

const scope = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/, "scopes are 1-100 characters of letters, digits and : . _ * -");

export const authorizeSchema = z.strictObject({
  /** All of these must be held. */
  scopes: z.array(scope).min(1),
  /** `not_found` answers 404 instead of 403, so a caller cannot learn that the resource exists. */
  onDenied: z.enum(["forbidden", "not_found"]).default("forbidden"),
});
export type AuthorizeSpec = z.infer<typeof authorizeSchema>;

/** Requires every listed scope. Runs after authentication, so a principal is always present. */
export function authorizeControl(spec: AuthorizeSpec): Control {
  const denied = () =>
    spec.onDenied === "not_found" ? new Problem("NOT_FOUND", "Not found.") : new Problem("FORBIDDEN", "Missing a required scope.");
  return {
    name: "authorize",
    stage: "authorize",
    run(ctx) {
      const held = ctx.principal?.scopes;
      if (held === undefined) throw denied();
      for (const scope of spec.scopes) if (!held.has(scope)) throw denied();
    },
  };
}
