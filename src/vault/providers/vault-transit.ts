import { request } from "undici";
import { Problem } from "../../problem/index.js";
import { KeyRing, wrappedKeyIntegrityFailure, type KeyProvider } from "./key-provider.js";

export interface VaultTransitOptions {
  /** e.g. `https://vault.internal:8200`; production needs https. */
  address: string;
  token: string;
  /** Where the transit engine is mounted; `transit` by default. */
  mount?: string | undefined;
  namespace?: string | undefined;
  /** An `aes256-gcm96` transit key that is not exportable; new wraps use it. */
  keyName: string;
  /** Earlier keys, kept for unwrap until `vault rewrap-keks` has moved every DEK off them. */
  previousKeyNames?: readonly string[];
  timeoutMs?: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * A KEK in HashiCorp Vault's transit engine, over its HTTP API with undici (the official Node
 * client adds nothing for three endpoints). The vault's context goes in as `associated_data`,
 * which transit binds into AES-GCM keys' ciphertexts. Transit versions a key by itself (its
 * ciphertexts carry `vault:vN:`, and `min_decryption_version` retires old versions); a KEK
 * rotation in Portcullis's sense is a move to another transit key.
 */
export class VaultTransitKeyProvider implements KeyProvider {
  readonly name = "vault-transit";
  readonly insecure = false;

  private constructor(
    private readonly options: VaultTransitOptions & { mount: string },
    private readonly keys: KeyRing<string>,
  ) {}

  get currentKekId(): string {
    return this.keys.currentId;
  }

  static async open(options: VaultTransitOptions): Promise<VaultTransitKeyProvider> {
    const settings = { ...options, mount: options.mount ?? "transit" };
    for (const name of [settings.mount, settings.keyName, ...(settings.previousKeyNames ?? [])]) {
      if (!NAME.test(name)) throw new Error(`${JSON.stringify(name)} is not a valid transit mount or key name`);
    }
    const kekId = (name: string) => `vault-transit:${settings.mount}/${name}`;
    const previous = (settings.previousKeyNames ?? []).map((name) => [kekId(name), name] as const);
    const provider = new VaultTransitKeyProvider(settings, new KeyRing(kekId(settings.keyName), settings.keyName, previous));
    for (const name of [settings.keyName, ...(settings.previousKeyNames ?? [])]) await provider.checkKey(name);
    return provider;
  }

  async wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    const data = await this.call("POST", `encrypt/${this.keys.current}`, { plaintext: dek.toString("base64"), associated_data: context.toString("base64") });
    if (typeof data.ciphertext !== "string") throw new Problem("KEY_PROVIDER_UNAVAILABLE");
    return { kekId: this.keys.currentId, wrapped: Buffer.from(data.ciphertext, "utf8") };
  }

  async unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer> {
    const name = this.keys.get(kekId);
    const data = await this.call("POST", `decrypt/${name}`, { ciphertext: wrapped.toString("utf8"), associated_data: context.toString("base64") });
    const plaintext = typeof data.plaintext === "string" ? Buffer.from(data.plaintext, "base64") : undefined;
    if (plaintext?.length !== 32) throw wrappedKeyIntegrityFailure();
    return plaintext;
  }

  async health(): Promise<void> {
    await this.checkKey(this.keys.current);
  }

  async close(): Promise<void> {}

  /** Only a non-exportable AES-GCM key binds associated data and keeps the KEK inside Vault. */
  private async checkKey(name: string): Promise<void> {
    const data = await this.call("GET", `keys/${name}`);
    if (data.type !== "aes256-gcm96" || data.exportable !== false) {
      throw new Problem("KEY_PROVIDER_UNAVAILABLE", `The transit key ${name} must be a non-exportable aes256-gcm96 key.`);
    }
  }

  /** Vault's error bodies can echo input: only the status survives into our errors. */
  private async call(method: "GET" | "POST", path: string, body?: object): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { "x-vault-token": this.options.token, "content-type": "application/json" };
    if (this.options.namespace !== undefined) headers["x-vault-namespace"] = this.options.namespace;
    const timeout = this.options.timeoutMs ?? 5_000;
    let response;
    try {
      response = await request(new URL(`/v1/${this.options.mount}/${path}`, this.options.address), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch {
      throw new Problem("KEY_PROVIDER_UNAVAILABLE", "Vault cannot be reached right now.");
    }
    const text = await response.body.text();
    if (response.statusCode === 403) throw new Problem("KEY_PROVIDER_AUTH_FAILED", "Vault refused the gateway's token.");
    // Transit answers a failed decryption (wrong key, context or tampered text) with a 400.
    if (response.statusCode === 400 && path.startsWith("decrypt/")) throw wrappedKeyIntegrityFailure();
    if (response.statusCode !== 200) throw new Problem("KEY_PROVIDER_UNAVAILABLE", `Vault answered ${response.statusCode}.`);
    try {
      const data = (JSON.parse(text) as { data?: unknown }).data;
      if (typeof data !== "object" || data === null) throw new Error("no data");
      return data as Record<string, unknown>;
    } catch {
      throw new Problem("KEY_PROVIDER_UNAVAILABLE", "Vault's answer could not be read.");
    }
  }
}
