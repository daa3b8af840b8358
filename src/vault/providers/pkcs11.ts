import { randomBytes } from "node:crypto";
import type * as Pkcs11 from "pkcs11js";
import { Problem } from "../../problem/index.js";
import { splitWrapped, WRAP_NONCE_BYTES, WRAP_TAG_BYTES } from "./gcm-wrap.js";
import { KeyRing, wrappedKeyIntegrityFailure, type KeyProvider } from "./key-provider.js";

export interface Pkcs11Options {
  /** The PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  library: string;
  tokenLabel: string;
  /** The user PIN. Never logged, never in an error. */
  pin: string;
  /** The AES-256 key new wraps use. */
  keyLabel: string;
  /** Earlier KEKs, kept for unwrap until `vault rewrap-keks` has moved every DEK off them. */
  previousKeyLabels?: readonly string[];
}

type Pkcs11Module = typeof Pkcs11;

/** Session and device faults: the HSM is unreachable, not the data bad. */
const UNAVAILABLE_CODES = [
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_DEVICE_REMOVED",
  "CKR_DEVICE_ERROR",
  "CKR_DEVICE_MEMORY",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_USER_NOT_LOGGED_IN",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
] as const;

/**
 * A KEK inside an HSM, reached through PKCS#11 (`pkcs11js`). The key is AES-256, sensitive and
 * non-extractable: this provider refuses any other, so the KEK never exists outside the device.
 * Wraps are AES-256-GCM computed by the HSM with the vault's context as associated data, in the
 * same nonce || ciphertext || tag layout as the local provider.
 *
 * A PKCS#11 session runs one operation at a time (an EncryptInit followed by another's Encrypt
 * would mix them up), so calls on the session are queued here.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  readonly name = "pkcs11";
  readonly insecure = false;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly p11: Pkcs11Module,
    private readonly module: Pkcs11.PKCS11,
    private readonly options: Pkcs11Options,
    private connection: Connection,
  ) {}

  get currentKekId(): string {
    return this.connection.keys.currentId;
  }

  static async open(options: Pkcs11Options): Promise<Pkcs11KeyProvider> {
    const p11 = await loadPkcs11js();
    const module = openModule(p11, options.library);
    try {
      return new Pkcs11KeyProvider(p11, module, options, connect(p11, module, options));
    } catch (error) {
      releaseModule(options.library);
      throw error;
    }
  }

  /**
   * Makes a KEK the way this provider demands one: AES-256 on the token, private, sensitive,
   * non-extractable. `pkcs11-tool --keygen --key-type AES:32 --sensitive` does the same.
   */
  static async generateKey(options: Omit<Pkcs11Options, "previousKeyLabels">): Promise<void> {
    const p11 = await loadPkcs11js();
    const module = openModule(p11, options.library);
    try {
      const session = module.C_OpenSession(findSlot(module, options.tokenLabel), p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
      try {
        login(p11, module, session, options.pin);
        if (findObjects(p11, module, session, options.keyLabel).length > 0) throw new Error(`the token already holds a key labelled ${options.keyLabel}`);
        module.C_GenerateKey(session, { mechanism: p11.CKM_AES_KEY_GEN }, [
          { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
          { type: p11.CKA_KEY_TYPE, value: p11.CKK_AES },
          { type: p11.CKA_VALUE_LEN, value: 32 },
          { type: p11.CKA_LABEL, value: options.keyLabel },
          { type: p11.CKA_TOKEN, value: true },
          { type: p11.CKA_PRIVATE, value: true },
          { type: p11.CKA_SENSITIVE, value: true },
          { type: p11.CKA_EXTRACTABLE, value: false },
          { type: p11.CKA_ENCRYPT, value: true },
          { type: p11.CKA_DECRYPT, value: true },
        ]);
      } finally {
        module.C_CloseSession(session);
      }
    } finally {
      releaseModule(options.library);
    }
  }

  async wrap(dek: Buffer, context: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    return this.onSession(async ({ session, keys }) => {
      const nonce = randomBytes(WRAP_NONCE_BYTES);
      this.module.C_EncryptInit(session, this.gcm(nonce, context), keys.current);
      const sealed = await new Promise<Buffer>((resolve, reject) =>
        this.module.C_Encrypt(session, dek, Buffer.alloc(dek.length + WRAP_TAG_BYTES), (error, data) => (error ? reject(error) : resolve(data))),
      );
      return { kekId: keys.currentId, wrapped: Buffer.concat([nonce, sealed]) };
    });
  }

  async unwrap(wrapped: Buffer, context: Buffer, kekId: string): Promise<Buffer> {
    this.connection.keys.get(kekId);
    const { nonce, sealed } = splitWrapped(wrapped);
    return this.onSession(async ({ session, keys }) => {
      this.module.C_DecryptInit(session, this.gcm(nonce, context), keys.get(kekId));
      try {
        return await new Promise<Buffer>((resolve, reject) =>
          this.module.C_Decrypt(session, sealed, Buffer.alloc(sealed.length), (error, data) => (error ? reject(error) : resolve(Buffer.from(data)))),
        );
      } catch (error) {
        // Tokens differ in how they report a failed tag (SoftHSM says CKR_GENERAL_ERROR); all
        // that is not a lost session or device is taken as bad data, and refused either way.
        if (isUnavailable(this.p11, error)) throw error;
        throw wrappedKeyIntegrityFailure();
      }
    });
  }

  health(): Promise<void> {
    return this.onSession(async ({ session }) => {
      this.module.C_GetSessionInfo(session);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    try {
      this.module.C_CloseSession(this.connection.session);
    } catch {
      // Already gone with the device: nothing left to close.
    } finally {
      releaseModule(libraryOf(this.module));
    }
  }

  private gcm(nonce: Buffer, context: Buffer): Pkcs11.Mechanism {
    const parameter: Pkcs11.GcmParams = { type: this.p11.CK_PARAMS_GCM, iv: nonce, ivBits: nonce.length * 8, aad: context, tagBits: WRAP_TAG_BYTES * 8 };
    return { mechanism: this.p11.CKM_AES_GCM, parameter };
  }

  /**
   * Runs `work` alone on the session. A session the HSM has dropped (device restart, a closed
   * session) is replaced once, by a new session, login and key lookup, and the work retried: a
   * restarted HSM costs one slow call instead of every call until the gateway restarts.
   */
  private onSession<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      try {
        return await work(this.connection);
      } catch (error) {
        if (!isUnavailable(this.p11, error)) throw error;
        try {
          this.module.C_CloseSession(this.connection.session);
        } catch {
          // The old session is usually gone already.
        }
        this.connection = connect(this.p11, this.module, this.options);
        return work(this.connection);
      }
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Problem("KEY_PROVIDER_UNAVAILABLE", "The key provider is closed."));
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

interface Connection {
  session: Pkcs11.Handle;
  keys: KeyRing<Pkcs11.Handle>;
}

/** A logged-in session and the configured KEKs found on it (handles are per session). */
function connect(p11: Pkcs11Module, module: Pkcs11.PKCS11, options: Pkcs11Options): Connection {
  const session = module.C_OpenSession(findSlot(module, options.tokenLabel), p11.CKF_SERIAL_SESSION);
  try {
    login(p11, module, session, options.pin);
    const kekId = (label: string) => `pkcs11:${options.tokenLabel}/${label}`;
    const previous = (options.previousKeyLabels ?? []).map((label) => [kekId(label), findKek(p11, module, session, label)] as const);
    return { session, keys: new KeyRing(kekId(options.keyLabel), findKek(p11, module, session, options.keyLabel), previous) };
  } catch (error) {
    module.C_CloseSession(session);
    throw error;
  }
}

async function loadPkcs11js(): Promise<Pkcs11Module> {
  try {
    return (await import("pkcs11js")).default as unknown as Pkcs11Module;
  } catch {
    throw new Error("the pkcs11 key provider needs the optional dependency pkcs11js, which is not installed (it builds with node-gyp)");
  }
}

/**
 * One loaded module per library path, shared and counted: Cryptoki is initialised once per
 * process, and finalising it under another provider would cut that provider off.
 */
const modules = new Map<string, { module: Pkcs11.PKCS11; users: number }>();
const libraries = new WeakMap<Pkcs11.PKCS11, string>();

function openModule(p11: Pkcs11Module, library: string): Pkcs11.PKCS11 {
  const loaded = modules.get(library);
  if (loaded !== undefined) {
    loaded.users++;
    return loaded.module;
  }
  const module = new p11.PKCS11();
  try {
    module.load(library);
    module.C_Initialize();
  } catch {
    throw new Error(`the PKCS#11 library ${library} could not be loaded and initialised`);
  }
  modules.set(library, { module, users: 1 });
  libraries.set(module, library);
  return module;
}

function libraryOf(module: Pkcs11.PKCS11): string {
  return libraries.get(module)!;
}

function releaseModule(library: string): void {
  const loaded = modules.get(library);
  if (loaded === undefined || --loaded.users > 0) return;
  modules.delete(library);
  loaded.module.C_Finalize();
  loaded.module.close();
}

function findSlot(module: Pkcs11.PKCS11, tokenLabel: string): Pkcs11.Handle {
  const slots = module.C_GetSlotList(true).filter((slot) => module.C_GetTokenInfo(slot).label.trim() === tokenLabel);
  if (slots.length !== 1) {
    throw new Problem("KEY_PROVIDER_UNAVAILABLE", slots.length === 0 ? `No PKCS#11 token is labelled ${tokenLabel}.` : `More than one PKCS#11 token is labelled ${tokenLabel}.`);
  }
  return slots[0]!;
}

function login(p11: Pkcs11Module, module: Pkcs11.PKCS11, session: Pkcs11.Handle, pin: string): void {
  try {
    module.C_Login(session, p11.CKU_USER, pin);
  } catch (error) {
    const code = (error as { code?: number }).code;
    // Another session of this process already logged the token in: the PIN was good then.
    if (code === p11.CKR_USER_ALREADY_LOGGED_IN) return;
    if (code === p11.CKR_PIN_INCORRECT || code === p11.CKR_PIN_INVALID || code === p11.CKR_PIN_LEN_RANGE) {
      throw new Problem("KEY_PROVIDER_AUTH_FAILED", "The PKCS#11 token refused the PIN.");
    }
    if (code === p11.CKR_PIN_LOCKED) throw new Problem("KEY_PROVIDER_AUTH_FAILED", "The PKCS#11 token's PIN is locked.");
    throw new Problem("KEY_PROVIDER_UNAVAILABLE", "The PKCS#11 token could not be logged in to.");
  }
}

function findObjects(p11: Pkcs11Module, module: Pkcs11.PKCS11, session: Pkcs11.Handle, label: string): Pkcs11.Handle[] {
  module.C_FindObjectsInit(session, [
    { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
    { type: p11.CKA_LABEL, value: label },
  ]);
  try {
    return module.C_FindObjects(session, 2);
  } finally {
    module.C_FindObjectsFinal(session);
  }
}

/** The key labelled `label`, refused unless it is one AES-256 key that cannot leave the device. */
function findKek(p11: Pkcs11Module, module: Pkcs11.PKCS11, session: Pkcs11.Handle, label: string): Pkcs11.Handle {
  const found = findObjects(p11, module, session, label);
  if (found.length !== 1) {
    throw new Problem("KEY_PROVIDER_UNAVAILABLE", found.length === 0 ? `The token holds no key labelled ${label}.` : `The token holds more than one key labelled ${label}.`);
  }
  const key = found[0]!;
  const [keyType, length, sensitive, extractable, encrypt, decrypt] = module
    .C_GetAttributeValue(session, key, [
      { type: p11.CKA_KEY_TYPE },
      { type: p11.CKA_VALUE_LEN },
      { type: p11.CKA_SENSITIVE },
      { type: p11.CKA_EXTRACTABLE },
      { type: p11.CKA_ENCRYPT },
      { type: p11.CKA_DECRYPT },
    ])
    .map((attribute) => attribute.value);
  const number = (value: Buffer | undefined) => (value === undefined ? -1 : Number(value.readUIntLE(0, Math.min(value.length, 6))));
  const flag = (value: Buffer | undefined) => value !== undefined && value.length > 0 && value[0] !== 0;
  if (number(keyType) !== p11.CKK_AES || number(length) !== 32) throw new Problem("KEY_PROVIDER_UNAVAILABLE", `The key ${label} is not an AES-256 key.`);
  if (!flag(sensitive) || flag(extractable)) {
    throw new Problem("KEY_PROVIDER_UNAVAILABLE", `The key ${label} can leave the HSM (it must be sensitive and non-extractable).`);
  }
  if (!flag(encrypt) || !flag(decrypt)) throw new Problem("KEY_PROVIDER_UNAVAILABLE", `The key ${label} is not allowed to encrypt and decrypt.`);
  return key;
}

function isUnavailable(p11: Pkcs11Module, error: unknown): boolean {
  const code = (error as { code?: number }).code;
  return UNAVAILABLE_CODES.some((name) => p11[name] === code);
}
