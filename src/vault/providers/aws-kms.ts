import type * as Kms from "@aws-sdk/client-kms";
import { Problem } from "../../problem/index.js";
import { KeyRing, wrappedKeyIntegrityFailure, type KeyProvider } from "./key-provider.js";

export interface AwsKmsOptions {
  /** Key id, ARN or alias of a symmetric KMS key; new wraps use it. */
  keyId: string;
  /** Earlier keys, kept for unwrap until `vault rewrap-keks` has moved every DEK off them. */
  previousKeyIds?: readonly string[];
  /** Region and credentials otherwise come from the usual AWS environment and files. */
  region?: string | undefined;
  /** For a KMS-compatible endpoint; production needs https. */
  endpoint?: string | undefined;
}

type KmsModule = typeof Kms;

/**
 * A KEK in AWS KMS. DEKs are wrapped with `Encrypt` and the vault's context as the encryption
 * context, which KMS binds into the ciphertext (and records in CloudTrail). Configured key names
 * are resolved to ARNs once, so a wrapped key records the one key that can unwrap it whatever
 * alias was configured. KMS rotates a key's backing material by itself under the same ARN; a KEK
 * rotation in Portcullis's sense is a move to another KMS key.
 */
export class AwsKmsKeyProvider implements KeyProvider {
  readonly name = "aws-kms";
  readonly insecure = false;

  private constructor(
    private readonly kms: KmsModule,
    private readonly client: Kms.KMSClient,
    private readonly keys: KeyRing<string>,
  ) {}

  get currentKekId(): string {
    return this.keys.currentId;
  }

  static async open(options: AwsKmsOptions): Promise<AwsKmsKeyProvider> {
    const kms = await loadSdk();
    const client = new kms.KMSClient({ region: options.region, endpoint: options.endpoint });
    try {
      const arn = async (keyId: string) => {
        const { KeyMetadata: meta } = await client.send(new kms.DescribeKeyCommand({ KeyId: keyId }));
        if (meta?.Arn === undefined || meta.KeySpec !== "SYMMETRIC_DEFAULT" || meta.KeyUsage !== "ENCRYPT_DECRYPT") {
          throw new Problem("KEY_PROVIDER_UNAVAILABLE", `The KMS key ${keyId} is not a symmetric encryption key.`);
        }
        return meta.Arn;
      };
      const current = await arn(options.keyId);
      const previous = await Promise.all((options.previousKeyIds ?? []).map(async (id) => (await arn(id)) as string));
      return new AwsKmsKeyProvider(kms, client, new KeyRing(current, current, previous.map((a) => [a, a] as const)));
    } catch (error) {
      client.destroy();
      throw failure(error);
    }
  }

  async wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    const kekId = this.keys.currentId;
    const out = await this.call(() => this.client.send(new this.kms.EncryptCommand({ KeyId: kekId, Plaintext: dek, EncryptionContext: encryptionContext(context) })));
    if (out.CiphertextBlob === undefined) throw new Problem("KEY_PROVIDER_UNAVAILABLE");
    return { kekId, wrapped: Buffer.from(out.CiphertextBlob) };
  }

  async unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer> {
    this.keys.get(kekId);
    const out = await this.call(() =>
      this.client.send(new this.kms.DecryptCommand({ KeyId: kekId, CiphertextBlob: wrapped, EncryptionContext: encryptionContext(context) })),
    );
    if (out.Plaintext === undefined || out.Plaintext.length !== 32) throw wrappedKeyIntegrityFailure();
    return Buffer.from(out.Plaintext);
  }

  async health(): Promise<void> {
    await this.call(() => this.client.send(new this.kms.DescribeKeyCommand({ KeyId: this.keys.currentId })));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw failure(error);
    }
  }
}

/** KMS error messages can name accounts and keys: only the error's kind survives. */
function failure(error: unknown): Problem {
  if (error instanceof Problem) return error;
  const name = (error as { name?: string }).name;
  if (name === "InvalidCiphertextException" || name === "IncorrectKeyException") return wrappedKeyIntegrityFailure();
  if (name === "AccessDeniedException" || name === "UnrecognizedClientException" || name === "InvalidSignatureException") {
    return new Problem("KEY_PROVIDER_AUTH_FAILED", "AWS KMS refused the gateway's credentials.");
  }
  return new Problem("KEY_PROVIDER_UNAVAILABLE", "AWS KMS cannot be reached right now.");
}

/** KMS contexts are string maps; the vault's context is bytes, carried whole in one entry. */
function encryptionContext(context: Buffer): Record<string, string> {
  return { "portcullis:context": context.toString("base64") };
}

async function loadSdk(): Promise<KmsModule> {
  try {
    return await import("@aws-sdk/client-kms");
  } catch {
    throw new Error("the aws-kms key provider needs the optional dependency @aws-sdk/client-kms, which is not installed");
  }
}
