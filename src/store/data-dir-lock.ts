import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

const LOCK_FILE = "portcullis.lock";

/** Another process already has the data directory open: refusing keeps its files intact. */
export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`the data directory ${dataDir} is in use by process ${pid}; PGlite admits one process (use DATABASE_URL to share a store)`);
    this.name = "DataDirInUseError";
  }
}

/** Directories this process holds: a lock file naming our pid is ours only if it is listed here. */
const held = new Set<string>();

/**
 * Takes the data directory for this process. Embedded PGlite has no lock of its own, and two
 * processes writing one directory corrupt it; nor may two databases in one process. A lock left
 * by a process that no longer runs is taken over, and so is one naming this process's pid that
 * this process never took (a container's pid 1 starting again after a crash).
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, LOCK_FILE);
  if (held.has(file)) throw new DataDirInUseError(dataDir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      held.add(file);
      return async () => {
        held.delete(file);
        await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) throw new DataDirInUseError(dataDir, holder);
    // Two takers racing here both saw a dead holder: `wx` above lets only one of them win.
    await rm(file, { force: true });
  }
  throw new Error(`cannot lock the data directory ${dataDir}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
