import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const MIN_ADMIN_TOKEN_LENGTH = 32;

export interface AdminTokenSource {
  token: string;
  /** Set when this start created the token: the one time it is shown. */
  generatedAt?: string;
}

export function isWeakAdminToken(token: string): boolean {
  return token.length < MIN_ADMIN_TOKEN_LENGTH || new Set(token).size < 10;
}

/**
 * `PORTCULLIS_ADMIN_TOKEN` when set; otherwise `<dataDir>/admin-token`, generated on first start
 * with mode 0600.
 */
export async function resolveAdminToken(dataDir: string, fromEnv = process.env.PORTCULLIS_ADMIN_TOKEN): Promise<AdminTokenSource> {
  if (fromEnv !== undefined && fromEnv !== "") return { token: fromEnv };
  const file = join(dataDir, "admin-token");
  try {
    return { token: (await readFile(file, "utf8")).trim() };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = `pca_${randomBytes(32).toString("base64url")}`;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, token + "\n", { mode: 0o600, flag: "wx" });
  await chmod(file, 0o600);
  return { token, generatedAt: file };
}

/** Compares digests so that the time taken says nothing about how much of the token matched. */
export function adminTokenChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = createHash("sha256").update(token).digest();
  return (authorization) => {
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? "");
    if (match === null) return false;
    return timingSafeEqual(createHash("sha256").update(match[1]!).digest(), expected);
  };
}
