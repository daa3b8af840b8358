import { readFile } from "node:fs/promises";
import { AwsKmsKeyProvider } from "./aws-kms.js";
import type { KeyProvider } from "./key-provider.js";
import { LocalKeyProvider } from "./local.js";
import { Pkcs11KeyProvider } from "./pkcs11.js";
import { VaultTransitKeyProvider } from "./vault-transit.js";

export const KEY_PROVIDERS = ["none", "local", "pkcs11", "aws-kms", "vault-transit"] as const;

export interface ProviderSetting {
  env: Readonly<Record<string, string | undefined>>;
  dataDir?: string | undefined;
  production: boolean;
}

/**
 * The key provider `PORTCULLIS_KEY_PROVIDER` names, configured from the environment, or
 * undefined when the vault is off. Unset means `local` in development and `none` in production,
 * where the local provider is refused.
 */
export async function keyProviderFromEnv({ env, dataDir, production }: ProviderSetting): Promise<KeyProvider | undefined> {
  const chosen = env.PORTCULLIS_KEY_PROVIDER || (production ? "none" : "local");
  const required = (name: string) => {
    const value = env[name];
    if (value === undefined || value === "") throw new Error(`${name} is required for the ${chosen} key provider`);
    return value;
  };
  const list = (name: string) => (env[name] ?? "").split(",").map((v) => v.trim()).filter((v) => v !== "");
  const secureUrl = (name: string, value: string) => {
    if (production && !value.startsWith("https://")) throw new Error(`${name} must be an https URL in production`);
    return value;
  };
  switch (chosen) {
    case "none":
      return undefined;
    case "local":
      return LocalKeyProvider.load({ dataDir, production, fromEnv: env.PORTCULLIS_KEK, previousFromEnv: env.PORTCULLIS_KEK_PREVIOUS });
    case "pkcs11":
      return Pkcs11KeyProvider.open({
        library: required("PORTCULLIS_PKCS11_LIBRARY"),
        tokenLabel: required("PORTCULLIS_PKCS11_TOKEN_LABEL"),
        keyLabel: required("PORTCULLIS_PKCS11_KEY_LABEL"),
        previousKeyLabels: list("PORTCULLIS_PKCS11_PREVIOUS_KEY_LABELS"),
        pin: env.PORTCULLIS_PKCS11_PIN_FILE ? (await readFile(env.PORTCULLIS_PKCS11_PIN_FILE, "utf8")).trim() : required("PORTCULLIS_PKCS11_PIN"),
      });
    case "aws-kms":
      return AwsKmsKeyProvider.open({
        keyId: required("PORTCULLIS_AWS_KMS_KEY_ID"),
        previousKeyIds: list("PORTCULLIS_AWS_KMS_PREVIOUS_KEY_IDS"),
        region: env.AWS_REGION || undefined,
        endpoint: env.PORTCULLIS_AWS_KMS_ENDPOINT ? secureUrl("PORTCULLIS_AWS_KMS_ENDPOINT", env.PORTCULLIS_AWS_KMS_ENDPOINT) : undefined,
      });
    case "vault-transit":
      return VaultTransitKeyProvider.open({
        address: secureUrl("PORTCULLIS_VAULT_ADDR", required("PORTCULLIS_VAULT_ADDR")),
        token: env.PORTCULLIS_VAULT_TOKEN_FILE ? (await readFile(env.PORTCULLIS_VAULT_TOKEN_FILE, "utf8")).trim() : required("PORTCULLIS_VAULT_TOKEN"),
        mount: env.PORTCULLIS_VAULT_TRANSIT_MOUNT || undefined,
        namespace: env.PORTCULLIS_VAULT_NAMESPACE || undefined,
        keyName: required("PORTCULLIS_VAULT_TRANSIT_KEY"),
        previousKeyNames: list("PORTCULLIS_VAULT_TRANSIT_PREVIOUS_KEYS"),
      });
    default:
      throw new Error(`PORTCULLIS_KEY_PROVIDER must be one of ${KEY_PROVIDERS.join(", ")}`);
  }
}
