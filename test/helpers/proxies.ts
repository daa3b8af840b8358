import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

const EXAMPLES = new URL("../../../examples/", import.meta.url).pathname;

export interface RunningProxy {
  url: string;
  /** What the proxy wrote to stderr, for failures. */
  output(): string;
  close(): Promise<void>;
}

interface Wiring {
  decisionUrl: string;
  upstreamUrl: string;
}

/**
 * Whether a proxy binary is here. Under CI it must be (`.ci/run` installs it), so a missing one
 * fails the suite instead of skipping it.
 */
export function proxyAvailable(binary: "nginx" | "caddy"): boolean {
  const found = spawnSync("sh", ["-c", `command -v ${binary}`]).status === 0;
  if (!found && process.env.CI === "true") throw new Error(`${binary} is not installed (apt-get install ${binary}); CI requires it`);
  return found;
}

/** The shipped example configuration, pointed at this test's decision API and upstream. */
async function exampleConfig(file: string, port: number, wiring: Wiring): Promise<string> {
  const text = await readFile(join(EXAMPLES, file), "utf8");
  return text
    .replaceAll("127.0.0.1:9000", new URL(wiring.decisionUrl).host)
    .replaceAll("127.0.0.1:3000", new URL(wiring.upstreamUrl).host)
    .replaceAll("127.0.0.1:8000", `127.0.0.1:${port}`);
}

export async function startNginx(wiring: Wiring): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-nginx-"));
  await mkdir(join(dir, "tmp"));
  const port = await freePort();
  let config = await exampleConfig("nginx/nginx.conf", port, wiring);
  // As root, nginx's workers would drop to `nobody`, who cannot use this test's temporary folder.
  if (process.getuid?.() === 0) config = `user root;\n${config}`;
  await writeFile(join(dir, "nginx.conf"), config);
  return launch("nginx", ["-p", dir, "-c", "nginx.conf"], dir, port);
}

export async function startCaddy(wiring: Wiring): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-caddy-"));
  const port = await freePort();
  await writeFile(join(dir, "Caddyfile"), await exampleConfig("caddy/Caddyfile", port, wiring));
  return launch("caddy", ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], dir, port, { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir });
}

async function launch(binary: string, args: string[], dir: string, port: number, env: Record<string, string> = {}): Promise<RunningProxy> {
  const child: ChildProcess = spawn(binary, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${binary} did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async close() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}
