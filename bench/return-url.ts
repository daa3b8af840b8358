/**
 * The return-URL control's cost per request, CPU µs per call (median of rounds), the request's
 * context built on both sides: a login query and a form body, each beside the same input read by
 * URLSearchParams alone, which is about what the control did before it read parameters the way
 * the frameworks behind do (`;` pairs, PHP's folded names, bodies of other types).
 */
import { parseIp } from "../src/net/ip.js";
import { createContext } from "../src/pipeline/context.js";
import { returnUrlControl, returnUrlSchema } from "../src/return-url/index.js";
import { parseRequestTarget } from "../src/routing/request-target.js";
import { median } from "./harness.js";

const CALLS = 50_000;
const ROUNDS = 7;
const control = returnUrlControl(returnUrlSchema.parse({ params: ["next", "return_to"], allow: ["https://app.example.com"] }));
const clientAddress = parseIp("192.0.2.1")!;
const QUERY = "client_id=web&state=af0ifjsldkj&next=https%3A%2F%2Fapp.example.com%2Faccount%2Fsettings&lang=en";
const FORM = Buffer.from("username=alice&password=correct-horse&remember=1&return_to=%2Fdashboard");

function contextFor(method: string, url: string, body: Buffer | undefined) {
  const headers = body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded", "content-length": String(body.length) };
  const ctx = createContext({ requestId: "r", method, url, headers, rawHeaders: Object.entries(headers).flat(), clientAddress, body: undefined });
  ctx.target = parseRequestTarget(url);
  if (body !== undefined) ctx.forwardBody = body;
  return ctx;
}

function cpu(work: () => void): number {
  const before = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CALLS;
}

// Both sides build the request's context: the difference is the reading alone.
const cases: [string, () => void, () => void][] = [
  ["login query", () => void control.run(contextFor("GET", `/login?${QUERY}`, undefined)), () => void [...new URLSearchParams(contextFor("GET", `/login?${QUERY}`, undefined).target.query)]],
  ["form body", () => void control.run(contextFor("POST", "/login", FORM)), () => void [...new URLSearchParams((contextFor("POST", "/login", FORM).forwardBody as Buffer).toString("utf8"))]],
];
console.log("return URL control, CPU µs per call (median of %d rounds of %d):", ROUNDS, CALLS);
for (const [name, check, baseline] of cases) {
  cpu(check);
  cpu(baseline);
  const checks: number[] = [];
  const baselines: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    checks.push(cpu(check));
    baselines.push(cpu(baseline));
  }
  console.log("  %s  context + control %s   context + URLSearchParams %s   ratio %s", name.padEnd(12), median(checks).toFixed(2), median(baselines).toFixed(2), (median(checks) / median(baselines)).toFixed(2));
}
