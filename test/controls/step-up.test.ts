import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Principal } from "../../src/identity/principal.js";
import { stepUpControl, stepUpSchema } from "../../src/step-up/index.js";
import { contextFor, outcome } from "../helpers/context.js";

const NOW = 1_800_000_000;
const user = (claims: Record<string, unknown>): Principal => ({ kind: "jwt", tenantId: "11111111-1111-4111-8111-111111111111", id: "u1", scopes: new Set(), issuer: "https://idp", claims });

describe("step-up: a recent, strong enough sign-in (RFC 9470)", () => {
  const control = stepUpControl(stepUpSchema.parse({ maxAgeSeconds: 300, acr: ["mfa", "phr"] }), () => NOW * 1000);
  const run = (principal: Principal | undefined) => {
    const ctx = contextFor({ method: "POST", url: "/payouts" });
    ctx.principal = principal;
    return { ctx, result: outcome(() => control.run(ctx)) };
  };

  test("a fresh sign-in at an accepted level passes", async () => {
    assert.equal(await run(user({ auth_time: NOW - 10, acr: "mfa" })).result, "passed");
    assert.equal(await run(user({ auth_time: NOW - 300, acr: "phr" })).result, "passed");
  });

  test("old, missing, future, non-numeric auth_time and weak or forged acr are refused with the RFC's challenge", async () => {
    for (const claims of [
      { auth_time: NOW - 301, acr: "mfa" },
      { acr: "mfa" },
      { auth_time: NOW + 3600, acr: "mfa" },
      { auth_time: String(NOW), acr: "mfa" },
      { auth_time: Number.NaN, acr: "mfa" },
      { auth_time: NOW, acr: "pwd" },
      { auth_time: NOW, acr: ["mfa"] },
      { auth_time: NOW, acr: "MFA" },
      { auth_time: NOW },
    ]) {
      const { ctx, result } = run(user(claims));
      assert.equal(await result, "STEP_UP_REQUIRED", JSON.stringify(claims));
      assert.equal(
        ctx.responseHeaders?.["www-authenticate"],
        'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", max_age="300", acr_values="mfa phr"',
      );
    }
  });

  test("an API key states no sign-in and never passes", async () => {
    assert.equal(await run({ kind: "api_key", tenantId: "11111111-1111-4111-8111-111111111111", id: "k", scopes: new Set(), env: "live" }).result, "STEP_UP_REQUIRED");
    assert.equal(await run(undefined).result, "STEP_UP_REQUIRED");
  });

  test("the policy refuses what it cannot write into the header, and an empty requirement", () => {
    assert.equal(stepUpSchema.safeParse({}).success, false);
    assert.equal(stepUpSchema.safeParse({ acr: ['mfa" x="1'] }).success, false);
    assert.equal(stepUpSchema.safeParse({ acr: ["a b"] }).success, false);
    assert.equal(stepUpSchema.safeParse({ maxAgeSeconds: 0 }).success, false);
    assert.equal(stepUpSchema.safeParse({ maxAgeSeconds: 1.5 }).success, false);
  });
});
