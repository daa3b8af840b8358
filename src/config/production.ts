import { isWeakAdminToken } from "../admin/token.js";
import type { Policy } from "../policy/schema.js";

export interface ProductionFacts {
  policy: Policy;
  adminTokenFromEnv: string | undefined;
  databaseUrl: string | undefined;
  allowInsecureDatabase: boolean;
  redisUrl?: string | undefined;
  allowInsecureRedis?: boolean;
}

const TLS_MODES = new Set(["require", "verify-ca", "verify-full"]);

/**
 * What production mode refuses to start with. Each entry says what is wrong and how to fix it;
 * none echoes a secret.
 */
export function productionProblems(facts: ProductionFacts): string[] {
  const problems: string[] = [];
  if (facts.adminTokenFromEnv === undefined || facts.adminTokenFromEnv === "") {
    problems.push("PORTCULLIS_ADMIN_TOKEN is not set: set it to a random value of at least 32 characters");
  } else if (isWeakAdminToken(facts.adminTokenFromEnv)) {
    problems.push("PORTCULLIS_ADMIN_TOKEN is weak: use a random value of at least 32 characters");
  }
  if (allowsAnyOriginWithCredentials(facts.policy)) {
    problems.push('cors allows any origin ("*") with credentials: list the allowed origins explicitly');
  }
  for (const [name, provider] of Object.entries(facts.policy.connections.providers)) {
    if (provider.allowInsecureHttp) problems.push(`connection provider "${name}" has allowInsecureHttp: its tokens would cross the network in clear`);
  }
  if (facts.databaseUrl !== undefined && !facts.allowInsecureDatabase && !usesTls(facts.databaseUrl)) {
    problems.push("DATABASE_URL does not require TLS: add sslmode=require (or verify-full), or set PORTCULLIS_ALLOW_INSECURE_DB=true");
  }
  if (facts.redisUrl !== undefined && !facts.allowInsecureRedis && !facts.redisUrl.startsWith("rediss://")) {
    problems.push("REDIS_URL does not use TLS: use a rediss:// URL, or set PORTCULLIS_ALLOW_INSECURE_REDIS=true");
  }
  facts.policy.jwt.issuers.forEach((issuer, i) => {
    if (!issuer.jwksUri.startsWith("https://")) problems.push(`jwt.issuers[${i}].jwksUri must use https in production`);
  });
  return problems;
}

export function allowsAnyOriginWithCredentials(policy: Policy): boolean {
  return policy.cors.allowOrigins.includes("*") && policy.cors.allowCredentials;
}

function usesTls(databaseUrl: string): boolean {
  try {
    return TLS_MODES.has(new URL(databaseUrl).searchParams.get("sslmode") ?? "");
  } catch {
    return false;
  }
}
