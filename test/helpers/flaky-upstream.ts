import { createServer, type Server } from "node:http";

/**
 * An upstream whose behaviour the test switches: "reset" cuts every connection before answering
 * (as a crashed or overloaded process would), "reset-once" cuts the first of each pair, "ok"
 * answers, "503" answers 503, "cut-body" sends a head and then cuts, "slow" answers after 1.5 s. It
 * counts requests received.
 */
export async function startFlakyUpstream(): Promise<{ url: string; port: number; server: Server; mode: string; received: number; resetNext: boolean; close(): Promise<void> }> {
  const state = { mode: "ok", received: 0, resetNext: true };
  const server = createServer((req, res) => {
    state.received++;
    req.resume();
    if (state.mode === "reset" || (state.mode === "reset-once" && state.resetNext)) {
      state.resetNext = false;
      req.socket.destroy();
      return;
    }
    state.resetNext = true;
    if (state.mode === "slow") {
      setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method })), 1_500);
      return;
    }
    if (state.mode === "503") return res.writeHead(503, { "content-type": "text/plain" }).end("busy");
    if (state.mode === "cut-body") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
      res.write("partial");
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
