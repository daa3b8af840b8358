import { createServer, type IncomingMessage, type Server } from "node:http";

/** An upstream that counts what reaches it, so "exactly once" can be checked where it matters. */
export async function startCountingUpstream(): Promise<{ url: string; server: Server; hits: Map<string, number>; total(): number }> {
  const hits = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      const answer = () => {
        const status = path.includes("fail") ? 500 : req.method === "POST" ? 201 : 200;
        // With its length, as most frameworks answer: a client has the whole answer once it has its bytes.
        const answerBody = JSON.stringify({ n, path, body: Buffer.concat(chunks).toString() });
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(answerBody), location: "/orders/42", "set-cookie": "session=secret; HttpOnly", "x-upstream-private": "1" });
        res.end(answerBody);
      };
      if (path.includes("slow")) setTimeout(answer, 300);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server, hits, total: () => [...hits.values()].reduce((a, b) => a + b, 0) };
}
