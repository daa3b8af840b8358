import type { IncomingMessage } from "node:http";
import { Problem } from "../problem/index.js";

/** Reads a small body whole, refusing more than `limit` bytes before buffering them. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new Problem("PAYLOAD_TOO_LARGE", `The body may be at most ${limit} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Problem("PAYLOAD_TOO_LARGE", `The body may be at most ${limit} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads a small JSON body; undefined when there is none. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) return undefined;
  if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? "")) {
    throw new Problem("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.");
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new Problem("BAD_REQUEST", "The body is not valid JSON.");
  }
}
