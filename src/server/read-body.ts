import type { IncomingHttpHeaders } from "node:http";
import type { z } from "zod";
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

/** A body checked against its schema; a mismatch is 422 naming each field and what is wrong with it. */
export function validBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Problem("VALIDATION_FAILED", parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "body"}: ${i.message}`).join("; "));
  return parsed.data;
}

function isJson(headers: IncomingHttpHeaders): boolean {
  return /^application\/json\s*(;|$)/i.test(headers["content-type"] ?? "");
}

function tooLarge(limit: number): Problem {
  return new Problem("PAYLOAD_TOO_LARGE", `The body may be at most ${limit} bytes.`);
}

/**
 * The request body as one buffer, for controls that read it (the shield, return URLs,
 * idempotency fingerprints): read once, kept on `ctx.forwardBody` so that the next control and the
 * upstream get the same bytes. Synchronous when there is no body or it has been read already.
 */
export function bufferedBody(ctx: RequestContext, limit: number): Buffer | Promise<Buffer> {
  const kept = ctx.forwardBody;
  if (Buffer.isBuffer(kept)) return kept;
  // A shield in monitor mode let an oversized body through unread: it cannot be read whole now.
  if (kept !== undefined) throw tooLarge(limit);
  const { headers } = ctx;
  const declaresBody = (headers["content-length"] !== undefined && headers["content-length"] !== "0") || headers["transfer-encoding"] !== undefined;
  if (!declaresBody) return EMPTY;
  // Consumed before Portcullis saw it (a framework's parser run first): nothing can pass unread.
  if (ctx.body === undefined) throw new Problem("INTERNAL");
  return readBody(ctx, limit).then((body) => {
    ctx.forwardBody = body;
    return body;
  });
}

const EMPTY = Buffer.alloc(0);
