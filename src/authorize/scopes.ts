import { z } from "zod";
import type { Principal } from "../identity/principal.js";
import type { RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";

const scope = z.string().regex(/^[A-Za-z0-9:._*-]{1,100}$/, "scopes are 1-100 characters of letters, digits and : . _ * -");

export const authorizeSchema = z
  .strictObject({
    /** All of these must be held, as the credential states them (a key's scopes, a token's `scope`). */
    scopes: z.array(scope).min(1).optional(),
    /** All of these must be granted by the caller's roles as the store has them now (the policy's `roles` map them). */
    permissions: z.array(scope).min(1).optional(),
    /** `not_found` answers 404 instead of 403, so a caller cannot learn that the resource exists. */
    onDenied: z.enum(["forbidden", "not_found"]).default("forbidden"),
  })
  .refine((a) => a.scopes !== undefined || a.permissions !== undefined, "authorize needs scopes, permissions, or both");
export type AuthorizeSpec = z.infer<typeof authorizeSchema>;

/** The permissions a caller holds now: from the store, never from what a token claims. */
export type PermissionSource = (principal: Principal) => ReadonlySet<string> | Promise<ReadonlySet<string>>;

/** Requires every listed scope and permission. Runs after authentication, so a principal is always present. */
export function authorizeControl(spec: AuthorizeSpec, permissionsOf?: PermissionSource): Control {
  const denied = () =>
    spec.onDenied === "not_found" ? new Problem("NOT_FOUND", "Not found.") : new Problem("FORBIDDEN", "Missing a required scope or permission.");
  const required = spec.permissions;
  if (required !== undefined && permissionsOf === undefined) throw new Error("authorize.permissions needs a permission source");
  const checkPermissions = (held: ReadonlySet<string>): void => {
    for (const permission of required!) if (!held.has(permission)) throw denied();
  };
  return {
    name: "authorize",
    stage: "authorize",
    run(ctx: RequestContext) {
      const principal = ctx.principal;
      if (principal === undefined) throw denied();
      if (spec.scopes !== undefined) for (const scope of spec.scopes) if (!principal.scopes.has(scope)) throw denied();
      if (required === undefined) return;
      const held = permissionsOf!(principal);
      if (held instanceof Promise) return held.then(checkPermissions);
      checkPermissions(held);
    },
  };
}
