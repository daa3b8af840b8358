import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { AccessLog } from "../../src/observability/access-log.js";
import { BatchedLineWriter } from "../../src/observability/line-writer.js";
import { createLogger } from "../../src/observability/logger.js";

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("batched log lines", () => {
  test("lines of one turn reach the sink as one write, in order, and the next turn starts a new batch", async () => {
    const writes: string[] = [];
    const writer = new BatchedLineWriter({ write: (chunk: string) => writes.push(chunk) });
    writer.write("a\n");
    writer.write("b\n");
    writer.write("c\n");
    assert.deepEqual(writes, [], "nothing is written inside the turn");
    await nextTurn();
    assert.deepEqual(writes, ["a\nb\nc\n"]);
    writer.write("d\n");
    await nextTurn();
    assert.deepEqual(writes, ["a\nb\nc\n", "d\n"]);
  });

  test("a burst larger than the bound is written at once instead of being held", () => {
    const writes: string[] = [];
    const writer = new BatchedLineWriter({ write: (chunk: string) => writes.push(chunk) }, 10);
    writer.write("12345\n");
    writer.write("67890\n");
    assert.deepEqual(writes, ["12345\n67890\n"]);
  });

  test("a line logged just before process.exit is not lost", () => {
    const script = `
      import { createLogger } from ${JSON.stringify(new URL("../../src/observability/logger.js", import.meta.url).href)};
      const logger = createLogger();
      logger.error("fatal: cannot start");
      process.exit(2);
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(child.status, 2);
    assert.match(child.stdout, /"msg":"fatal: cannot start"/);
  });
});

describe("access log", () => {
  function capture() {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    return { lines, logger: createLogger({ level: "info", destination }) };
  }

  const entry = {
    requestId: "5d1c2c1e-0000-4000-8000-000000000000",
    method: "GET",
    path: "/items",
    route: "default",
    status: 200,
    outcome: "forwarded",
    durationMs: 1.3,
    tenantId: "t-1",
    principal: "k-1",
  };

  test("one JSON line in pino's shape, in the logger's stream", async () => {
    const { lines, logger } = capture();
    logger.info("before");
    new AccessLog(logger).write(entry);
    await nextTurn();
    assert.equal(lines.length, 2);
    const line = JSON.parse(lines[1]!) as Record<string, unknown>;
    assert.equal(line.level, 30);
    assert.equal(line.service, "portcullis");
    assert.equal(line.msg, "request");
    assert.equal(line.req_id, entry.requestId);
    assert.equal(line.duration_ms, 1.3);
    assert.ok(!Number.isNaN(Date.parse(line.time as string)));
  });

  test("values a client chose (a path, a JWT subject) cannot break the line or forge fields", async () => {
    const { lines, logger } = capture();
    const hostile = 'x","level":60,"msg":"pwned\n{"forged":true}\u2028\u0000é';
    new AccessLog(logger).write({ ...entry, path: `/a/${hostile}`, principal: hostile, tenantId: undefined });
    await nextTurn();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.split("\n").length, 2, "exactly one line, ended by its newline");
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.level, 30);
    assert.equal(line.msg, "request");
    assert.equal(line.principal, hostile);
    assert.equal(line.path, `/a/${hostile}`);
    assert.equal("tenant_id" in line, false, "an absent tenant is left out, as pino leaves out undefined");

    // One character at a time, on both sides of the plain-string shortcut.
    const singles = ['"', "\\", "\u001f", "\u007f", "\ud800", "é", "~", " "];
    for (const c of singles) new AccessLog(logger).write({ ...entry, path: `/${c}`, principal: `a${c}b` });
    await nextTurn();
    const written = lines.slice(1).join("").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(written.map((l) => l.principal), singles.map((c) => `a${c}b`));
    assert.deepEqual(written.map((l) => l.path), singles.map((c) => `/${c}`));
  });

  test("nothing is written when the level is above info", async () => {
    const { lines, logger } = capture();
    logger.level = "warn";
    new AccessLog(logger).write(entry);
    await nextTurn();
    assert.deepEqual(lines, []);
  });
});
