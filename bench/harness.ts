/** What the wrk-driven benchmarks share: processes, ports, wrk runs and their interleaving. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const DURATION = process.env.BENCH_DURATION ?? "5s";
/** The machine is shared: targets are measured in interleaved rounds and each figure is a median. */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? "5");
export const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? "50";
export const ADMIN_TOKEN = "bench-admin-token-0123456789abcdefghijkl";

export interface Figures {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** CPU time the server process spent per request (user + system), where it is one process. */
  cpuUsPerRequest: number;
}

export const children: ChildProcess[] = [];
// SIGTERM, not SIGKILL: nginx's master must live long enough to stop its own workers.
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));

export function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * `logFile`: where the process's stdout goes instead of a pipe to this process. The gateway's
 * access log goes there, as it would go to a file in production: the gateway still pays for every
 * write, but the benchmark does not add a reader competing for the same cores.
 */
export function launch(
  command: string,
  args: string[],
  readyPattern: RegExp,
  env: NodeJS.ProcessEnv = {},
  logFile?: number,
): Promise<{ child: ChildProcess; output: string }> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", logFile ?? "pipe", "pipe"] });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (readyPattern.test(output)) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners("data");
        child.stdout?.resume();
        resolve({ child, output });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${command} exited ${code}: ${output}`)));
  });
}

function toMs(value: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(value);
  if (match === null) return NaN;
  const n = Number(match[1]);
  return match[2] === "us" ? n / 1000 : match[2] === "s" ? n * 1000 : n;
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc; NaN where there is none.
 * CPU per request is steadier than requests per second on a shared machine: a neighbour that
 * takes the CPU away lowers throughput but not the work each request needs.
 */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

export function wrk(target: Target, duration = DURATION, connections = CONNECTIONS): Figures {
  const script = target.script === undefined ? [] : ["-s", target.script];
  const args = ["-t1", `-c${connections}`, `-d${duration}`, "--latency", ...script, ...target.headers.flatMap((h) => ["-H", h]), target.url];
  const cpuBefore = cpuSeconds(target.pid);
  const result = spawnSync("wrk", args, { encoding: "utf8" });
  const cpu = cpuSeconds(target.pid) - cpuBefore;
  const out = result.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return {
    name: target.name,
    requestsPerSecond: rps,
    p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    non2xx,
    cpuUsPerRequest: (cpu * 1e6) / requests,
  };
}

export interface Target {
  name: string;
  url: string;
  headers: string[];
  /** The server's process, for its CPU per request (not for nginx, whose work is in its workers). */
  pid?: number | undefined;
  /** A wrk Lua script shaping each request (method, body, a header that changes per request). */
  script?: string | undefined;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Warms every target, then runs ROUNDS rounds, each visiting all targets in a rotated order.
 * With one connection there is no queueing, so latency is what each hop itself adds.
 */
export function measureAll(targets: Target[], connections = CONNECTIONS): Figures[] {
  for (const t of targets) wrk(t, "3s", connections);
  const runs = new Map<string, Figures[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length]!;
      const figures = wrk(t, DURATION, connections);
      if (figures.non2xx > 0) throw new Error(`${t.name}: ${figures.non2xx} responses were not 2xx; the benchmark would be measuring errors`);
      runs.get(t.name)!.push(figures);
    }
    process.stderr.write(`  round ${round + 1}/${ROUNDS} done\r`);
  }
  return targets.map((t) => {
    const all = runs.get(t.name)!;
    const figures: Figures = {
      name: t.name,
      requestsPerSecond: median(all.map((f) => f.requestsPerSecond)),
      p50Ms: median(all.map((f) => f.p50Ms)),
      p99Ms: median(all.map((f) => f.p99Ms)),
      non2xx: 0,
      cpuUsPerRequest: median(all.map((f) => f.cpuUsPerRequest)),
    };
    const cpu = Number.isNaN(figures.cpuUsPerRequest) ? "" : `   cpu ${figures.cpuUsPerRequest.toFixed(1)} µs/req`;
    console.log(`  ${t.name.padEnd(44)} ${figures.requestsPerSecond.toFixed(0).padStart(8)} req/s   p50 ${figures.p50Ms.toFixed(2)} ms   p99 ${figures.p99Ms.toFixed(2)} ms${cpu}   (median of ${ROUNDS})`);
    return figures;
  });
}


/**
 * The start of every wrk benchmark of one gateway: wrk must be there, the title line, and the
 * upstream the gateways forward to. Returns the upstream's port.
 */
export async function startWrkBenchmark(title: string): Promise<number> {
  if (!has("wrk")) {
    console.error("this benchmark needs wrk: apt-get install wrk");
    process.exit(1);
  }
  console.log(`${title}: wrk, 1 thread, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION} per target, loopback`);
  const upstreamPort = await freePort();
  await launch(process.execPath, [join(ROOT, "dist/bench/servers/upstream.js"), String(upstreamPort)], /ready/);
  return upstreamPort;
}
