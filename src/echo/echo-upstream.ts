import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in API for the quick start and tests: answers every request with what it received, so
 * a newcomer can see exactly what the gateway forwards (and what it strips).
 */
export async function startEchoUpstream(port = 0, host = "127.0.0.1"): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let size = 0;
    req.on("data", (chunk: Buffer) => (size += chunk.length));
    req.on("end", () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body_bytes: size }, null, 2);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, server };
}
