import { z } from "zod";

/** Names of routes, limits and quotas: they appear in headers, metrics labels and store keys as they are. */
export const POLICY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function policyName(what: string) {
  return z.string().regex(POLICY_NAME, `${what} names are 1-64 characters of letters, digits and . _ -`);
}
