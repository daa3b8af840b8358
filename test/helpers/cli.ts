import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";

export const CLI = new URL("../../src/cli/main.js", import.meta.url).pathname;
export const run = promisify(execFile);

/** Starts `portcullis start` as a real process and waits for its banner. */
export async function startCli(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn(process.execPath, [CLI, "start", "--port", "0", "--admin-port", "0", ...args], {
    env: { ...process.env, PORTCULLIS_ADMIN_TOKEN: "", DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let banner = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${banner}`)), 30_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      banner += chunk.toString();
      if (/admin API listening/.test(banner) && (!args.includes("--echo") || /try: curl/.test(banner))) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${banner}`));
    });
  });
  child.stdout!.resume();
  return { child, banner };
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    // A child killed by a signal has no exit code, but it has exited all the same.
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
