import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Problem } from "../problem/index.js";
import type { KeyProvider } from "./key-provider.js";

const NONCE = 12;
const TAG = 16;

/**
 * A KEK held in this process: from `PORTCULLIS_KEK` (base64 of 32 bytes), or generated into
 * `<dataDir>/kek.key` in development. INSECURE: whoever can read the environment or the data
 * directory can unwrap every data key. It is refused in production mode; use an HSM or a KMS there.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly name = "local";
  readonly insecure = true;
  private readonly kekId: string;

  private constructor(private readonly kek: Buffer) {
    // A fingerprint names the key without revealing anything usable about it.
    this.kekId = `local:${createHash("sha256").update("portcullis-kek-id").update(kek).digest("hex").slice(0, 16)}`;
  }

  static fromKey(kek: Buffer): LocalKeyProvider {
    if (kek.length !== 32) throw new Error("the local KEK must be exactly 32 bytes");
    return new LocalKeyProvider(Buffer.from(kek));
  }

  static async load(options: { dataDir?: string | undefined; production: boolean; fromEnv?: string | undefined }): Promise<LocalKeyProvider> {
    if (options.production) {
      throw new Error("the local key provider keeps its key beside the data it protects and is refused in production: configure an HSM or KMS provider");
    }
    const fromEnv = options.fromEnv ?? process.env.PORTCULLIS_KEK;
    if (fromEnv !== undefined && fromEnv !== "") {
      const kek = Buffer.from(fromEnv, "base64");
      if (kek.length !== 32) throw new Error("PORTCULLIS_KEK must be the base64 encoding of exactly 32 bytes");
      return LocalKeyProvider.fromKey(kek);
    }
    if (options.dataDir === undefined) return LocalKeyProvider.fromKey(randomBytes(32));
    const file = join(options.dataDir, "kek.key");
    try {
      return LocalKeyProvider.fromKey(Buffer.from((await readFile(file, "utf8")).trim(), "base64"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const kek = randomBytes(32);
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    await writeFile(file, kek.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    await chmod(file, 0o600);
    return LocalKeyProvider.fromKey(kek);
  }

  async wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv("aes-256-gcm", this.kek, nonce);
    cipher.setAAD(context);
    const wrapped = Buffer.concat([nonce, cipher.update(dek), cipher.final(), cipher.getAuthTag()]);
    return { kekId: this.kekId, wrapped };
  }

  async unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer> {
    if (kekId !== this.kekId) throw new Problem("KEY_PROVIDER_UNAVAILABLE", "The key that wrapped this data is not configured.");
    if (wrapped.length !== NONCE + 32 + TAG) throw new Problem("SECRET_INTEGRITY", "A wrapped data key failed its integrity check.");
    const decipher = createDecipheriv("aes-256-gcm", this.kek, wrapped.subarray(0, NONCE));
    decipher.setAAD(context);
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG));
    try {
      // Buffer.concat copies into a fresh buffer, which the caller owns and zeroes on eviction.
      return Buffer.concat([decipher.update(wrapped.subarray(NONCE, wrapped.length - TAG)), decipher.final()]);
    } catch {
      throw new Problem("SECRET_INTEGRITY", "A wrapped data key failed its integrity check.");
    }
  }

  async health(): Promise<void> {}
}
