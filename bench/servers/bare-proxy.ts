import { createServer } from "node:http";
import { Pool } from "undici";
import { responseHeaders } from "../../src/forward/forwarder.js";
import { connectionScopedHeaders } from "../../src/forward/hop-by-hop.js";

/**
 * The baseline: the least a correct Node reverse proxy does, on the same HTTP client as the
 * gateway (undici), with no security controls at all.
 */
const upstream = new URL(process.argv[3]!);
const pool = new Pool(upstream.origin, { connections: 256 });
createServer(async (req, res) => {
  const dropped = connectionScopedHeaders(req.headers.connection);
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!dropped.has(req.rawHeaders[i]!.toLowerCase()) && req.rawHeaders[i]!.toLowerCase() !== "host") headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  let started = false;
  try {
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    await pool.stream({ method: req.method as "GET", path: req.url!, headers, body: hasBody ? req : null }, ({ statusCode, headers: out }) => {
      started = true;
      res.writeHead(statusCode, responseHeaders(out, {}));
      return res;
    });
  } catch {
    if (!started) res.writeHead(502).end();
    else res.destroy();
  }
}).listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));

// A clean exit on a signal lets profilers (node --cpu-prof) write their output.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
