import type { IncomingHttpHeaders } from "node:http";
import type { RequestContext } from "../pipeline/context.js";
import { Problem } from "../problem/index.js";

type BodySource = Pick<RequestContext, "headers" | "body">;

/** Reads a small body whole, refusing more than `limit` bytes before buffering them. */
export async function readBody(from: BodySource, limit: number): Promise<Buffer> {
  const declared = Number(from.headers["content-length"] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of from.body ?? []) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Reads a small JSON body; undefined when there is none. */
export async function readJsonBody(from: BodySource, limit: number): Promise<unknown> {
  const body = await readBody(from, limit);
  if (body.length === 0) return undefined;
  if (!isJson(from.headers)) throw new Problem("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new Problem("BAD_REQUEST", "The body is not valid JSON.");
  }
}

function isJson(headers: IncomingHttpHeaders): boolean {
  return /^application\/json\s*(;|$)/i.test(headers["content-type"] ?? "");
}

function tooLarge(limit: number): Problem {
  return new Problem("PAYLOAD_TOO_LARGE", `The body may be at most ${limit} bytes.`);
}
