import { z } from "zod";
import { setResponseHeader } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";

/** Printable ASCII less space, `"` and `\`: an acr value is written into a quoted header parameter. */
const acrValue = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/, 'acr values are 1-200 printable characters without spaces, " or \\');

export const stepUpSchema = z
  .strictObject({
    /** The user must have signed in (`auth_time`) at most this long ago. */
    maxAgeSeconds: z.number().int().min(1).max(31 * 86_400).optional(),
    /** The sign-in must have been at one of these levels (`acr`). */
    acr: z.array(acrValue).min(1).optional(),
    /** A token whose `auth_time` lies further ahead than this is refused: clocks drift, sign-ins do not come from the future. */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
  })
  .refine((s) => s.maxAgeSeconds !== undefined || s.acr !== undefined, "stepUp needs maxAgeSeconds, acr, or both");
export type StepUpPolicy = z.infer<typeof stepUpSchema>;

/**
 * Requires a recent or strong enough sign-in for a high-value route (RFC 9470): `auth_time` and
 * `acr` of a JWT or a gateway session. An API key states no sign-in at all, so it never passes.
 * The refusal tells the client what to ask the authorization server for (`max_age`,
 * `acr_values`), with the 401 and `WWW-Authenticate` the RFC specifies.
 */
export function stepUpControl(policy: StepUpPolicy, now: () => number = Date.now): Control {
  const challenge = [
    'Bearer error="insufficient_user_authentication"',
    `error_description="${policy.acr === undefined ? "A more recent authentication is required" : "A different authentication level is required"}"`,
    ...(policy.maxAgeSeconds === undefined ? [] : [`max_age="${policy.maxAgeSeconds}"`]),
    ...(policy.acr === undefined ? [] : [`acr_values="${policy.acr.join(" ")}"`]),
  ].join(", ");
  const acceptedAcr = policy.acr === undefined ? undefined : new Set(policy.acr);
  const extra = {
    ...(policy.maxAgeSeconds === undefined ? {} : { max_age: policy.maxAgeSeconds }),
    ...(policy.acr === undefined ? {} : { acr_values: policy.acr }),
  };
  return {
    name: "stepUp",
    stage: "step-up",
    run(ctx) {
      const claims = ctx.principal?.claims;
      if (claims !== undefined && satisfies(claims, policy, acceptedAcr, now() / 1000)) return;
      setResponseHeader(ctx, "www-authenticate", challenge);
      throw new Problem("STEP_UP_REQUIRED", "Sign in again to continue.", extra);
    },
  };
}

function satisfies(claims: Readonly<Record<string, unknown>>, policy: StepUpPolicy, acceptedAcr: ReadonlySet<string> | undefined, nowSeconds: number): boolean {
  if (policy.maxAgeSeconds !== undefined) {
    const authTime = claims.auth_time;
    if (typeof authTime !== "number" || !Number.isFinite(authTime)) return false;
    if (authTime > nowSeconds + policy.clockToleranceSeconds) return false;
    if (nowSeconds - authTime > policy.maxAgeSeconds) return false;
  }
  if (acceptedAcr !== undefined) {
    const acr = claims.acr;
    if (typeof acr !== "string" || !acceptedAcr.has(acr)) return false;
  }
  return true;
}
