import { createServer } from "node:http";

/** The API being protected in the benchmark: a small JSON answer, as cheap as an upstream gets. */
const body = JSON.stringify({ ok: true, items: [1, 2, 3], message: "hello from the upstream" });
createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));

// A clean exit on a signal lets profilers (node --cpu-prof) write their output.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
