import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { splitWrapped, WRAP_NONCE_BYTES, WRAP_TAG_BYTES } from "./gcm-wrap.js";
import { KeyRing, wrappedKeyIntegrityFailure, type KeyProvider } from "./key-provider.js";

export interface LocalKeyOptions {
  dataDir?: string | undefined;
  production: boolean;
  /** Base64 of 32 bytes; `PORTCULLIS_KEK` when not given. */
  fromEnv?: string | undefined;
  /** Comma-separated base64 KEKs still used to unwrap; `PORTCULLIS_KEK_PREVIOUS` when not given. */
  previousFromEnv?: string | undefined;
}

/**
 * A KEK held in this process: from `PORTCULLIS_KEK` (base64 of 32 bytes), or generated into
 * `<dataDir>/kek.key` in development. INSECURE: whoever can read the environment or the data
 * directory can unwrap every data key. It is refused in production mode; use an HSM or a KMS there.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly name = "local";
  readonly insecure = true;

  private constructor(private readonly keys: KeyRing<Buffer>) {}

  get currentKekId(): string {
    return this.keys.currentId;
  }

  static fromKeys(current: Buffer, previous: Buffer[] = []): LocalKeyProvider {
    for (const kek of [current, ...previous]) if (kek.length !== 32) throw new Error("a local KEK must be exactly 32 bytes");
    const entry = (kek: Buffer) => [localKekId(kek), Buffer.from(kek)] as const;
    return new LocalKeyProvider(new KeyRing(localKekId(current), Buffer.from(current), previous.map(entry)));
  }

  static async load(options: LocalKeyOptions): Promise<LocalKeyProvider> {
    if (options.production) {
      throw new Error("the local key provider keeps its key beside the data it protects and is refused in production: configure an HSM or KMS provider");
    }
    const previous = (options.previousFromEnv ?? process.env.PORTCULLIS_KEK_PREVIOUS ?? "")
      .split(",")
      .filter((k) => k.trim() !== "")
      .map((k) => base64Kek(k, "PORTCULLIS_KEK_PREVIOUS"));
    const fromEnv = options.fromEnv ?? process.env.PORTCULLIS_KEK;
    if (fromEnv !== undefined && fromEnv !== "") return LocalKeyProvider.fromKeys(base64Kek(fromEnv, "PORTCULLIS_KEK"), previous);
    if (options.dataDir === undefined) return LocalKeyProvider.fromKeys(randomBytes(32), previous);
    return LocalKeyProvider.fromKeys(await generatedKek(options.dataDir), previous);
  }

  async wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    const nonce = randomBytes(WRAP_NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys.current, nonce);
    cipher.setAAD(context);
    const wrapped = Buffer.concat([nonce, cipher.update(dek), cipher.final(), cipher.getAuthTag()]);
    return { kekId: this.keys.currentId, wrapped };
  }

  async unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer> {
    const kek = this.keys.get(kekId);
    const { nonce, sealed } = splitWrapped(wrapped);
    const decipher = createDecipheriv("aes-256-gcm", kek, nonce);
    decipher.setAAD(context);
    decipher.setAuthTag(sealed.subarray(sealed.length - WRAP_TAG_BYTES));
    try {
      // Buffer.concat copies into a fresh buffer, which the caller owns and zeroes on eviction.
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - WRAP_TAG_BYTES)), decipher.final()]);
    } catch {
      throw wrappedKeyIntegrityFailure();
    }
  }

  async health(): Promise<void> {}

  async close(): Promise<void> {
    for (const kek of this.keys.values()) kek.fill(0);
  }
}

/** A fingerprint names the key without revealing anything usable about it. */
function localKekId(kek: Buffer): string {
  return `local:${createHash("sha256").update("portcullis-kek-id").update(kek).digest("hex").slice(0, 16)}`;
}

function base64Kek(value: string, variable: string): Buffer {
  const kek = Buffer.from(value.trim(), "base64");
  if (kek.length !== 32) throw new Error(`${variable} must be the base64 encoding of exactly 32 bytes`);
  return kek;
}

/** The development KEK in `<dataDir>/kek.key`, made on first use with mode 0600. */
async function generatedKek(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, "kek.key");
  try {
    return base64Kek(await readFile(file, "utf8"), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const kek = randomBytes(32);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, kek.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  await chmod(file, 0o600);
  return kek;
}
