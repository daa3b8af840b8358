import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DataDirInUseError, lockDataDir } from "../../src/store/data-dir-lock.js";

test("a data directory is locked while in use, and released on close", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-lock-"));
  const unlock = await lockDataDir(dir);
  await assert.rejects(lockDataDir(dir), DataDirInUseError, "a second taker in the same process is refused");
  assert.equal((await readFile(join(dir, "portcullis.lock"), "utf8")).trim(), String(process.pid));
  await unlock();
  await assert.rejects(readFile(join(dir, "portcullis.lock")), "released on close");
  const again = await lockDataDir(dir);
  await again();
});

test("a lock naming this process's pid that it never took (a restarted container's pid 1) is taken over", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-lock-"));
  await writeFile(join(dir, "portcullis.lock"), String(process.pid));
  const unlock = await lockDataDir(dir);
  await assert.rejects(lockDataDir(dir), DataDirInUseError);
  await unlock();
});

test("a live holder's lock is refused; a dead holder's lock is taken over", async () => {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-lock-"));
  await writeFile(join(dir, "portcullis.lock"), String(process.ppid));
  await assert.rejects(lockDataDir(dir), DataDirInUseError);
  await writeFile(join(dir, "portcullis.lock"), "2147483646");
  const unlock = await lockDataDir(dir);
  await unlock();
  await writeFile(join(dir, "portcullis.lock"), "garbage");
  await (await lockDataDir(dir))();
});
