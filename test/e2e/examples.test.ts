import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";

const EXAMPLES = new URL("../../../examples/", import.meta.url).pathname;

/** README's library examples run as shipped: each starts, prints a working curl line, and answers it. */
for (const framework of ["express", "fastify", "hono"]) {
  test(`examples/${framework}/server.mjs runs and lets its printed key through`, async () => {
    const child = spawn(process.execPath, [`${EXAMPLES}${framework}/server.mjs`], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "ignore", "pipe"] });
    try {
      let output = "";
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no curl line: ${output}`)), 30_000);
        child.stderr.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const match = /try: curl -s -H "X-API-Key: (\S+)" (\S+)/.exec(output);
          if (match !== null) {
            clearTimeout(timer);
            resolve(`${match[1]} ${match[2]}`);
          }
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const [key, url] = line.split(" ") as [string, string];
      const allowed = await fetch(url, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: '{"n":1}' });
      assert.equal(allowed.status, 200);
      assert.deepEqual(((await allowed.json()) as { body: unknown }).body, { n: 1 });
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: '{"q":"1\' OR 1=1--"}' })).status, 400);
    } finally {
      child.kill("SIGTERM");
    }
  });
}
