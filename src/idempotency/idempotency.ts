import { createHash } from "node:crypto";
import { z } from "zod";
import { callerId } from "../identity/principal.js";
import { setResponseHeader, type RequestContext, type ResponseHead } from "../pipeline/context.js";
import type { BodyTap, Control, Ending } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { bufferedBody } from "../server/read-body.js";
import type { Claim, IdempotencyStore } from "./store.js";

/** Replayed as they were: what a client needs to read the answer again, never anything per-connection or per-session. */
const REPLAYED_HEADERS = ["content-type", "content-language", "content-location", "location", "etag", "last-modified", "cache-control", "expires", "link", "vary"];
/** A replay carrying these would hand out a credential or state twice, or lie about its own framing. */
const NEVER_STORED = new Set(["set-cookie", "content-length", "transfer-encoding", "connection", "keep-alive", "authorization", "www-authenticate", "x-request-id"]);

const headerName = z
  .string()
  .regex(/^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$/, "header names are lower-case tokens")
  .refine((name) => !NEVER_STORED.has(name), "this header is never stored for replay");

export const idempotencySchema = z.strictObject({
  /** A request of an unsafe method without `Idempotency-Key` is refused (400) rather than run unprotected. */
  required: z.boolean().default(false),
  /** How long the first answer is replayed. */
  retentionSeconds: z.number().int().min(60).max(7 * 86_400).default(86_400),
  /**
   * How long a claim outlives a node that died while serving it. The serving node renews it every
   * third of this, however long the upstream takes; a retry meanwhile is answered 409.
   */
  leaseSeconds: z.number().int().min(5).max(3_600).default(60),
  /** The request body is read whole to fingerprint it; a larger one is refused (413). */
  maxBodyBytes: z.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
  /** Answers up to this size are replayed whole; a larger one is replayed with its status and headers only. */
  maxResponseBytes: z.number().int().min(0).max(16 * 1024 * 1024).default(1024 * 1024),
  /** Response headers replayed beyond the standard ones (content-type, location, etag …). */
  replayHeaders: z.array(headerName).default([]),
});
export type IdempotencyPolicy = z.infer<typeof idempotencySchema>;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);
const MAX_KEY_LENGTH = 255;

/**
 * The key from an `Idempotency-Key` header: the IETF draft's structured-field string (`"abc"`,
 * with `\"` and `\\` escapes) or the plain form (`abc`), at most 255 printable ASCII characters.
 * Undefined when the header is absent; a Problem for anything else, sent twice included (the
 * gateway and the upstream could each pick another).
 */
export function idempotencyKeyOf(rawHeaders: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 15 || rawHeaders[i]!.toLowerCase() !== "idempotency-key") continue;
    if (value !== undefined) throw invalidKey("Send one Idempotency-Key header.");
    value = rawHeaders[i + 1]!;
  }
  if (value === undefined) return undefined;
  const key = value.startsWith('"') ? structuredString(value) : /^[\x21-\x7e]+$/.test(value) ? value : undefined;
  if (key === undefined || key.length === 0 || key.length > MAX_KEY_LENGTH) throw invalidKey("The Idempotency-Key must be 1-255 printable ASCII characters, plain or as a quoted string.");
  return key;
}

function structuredString(value: string): string | undefined {
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  let out = "";
  for (let i = 1; i < value.length - 1; i++) {
    const c = value[i]!;
    if (c === "\\") {
      // `"\"` is an escaped quote with no closing one: an unterminated string, not the key `"`.
      if (i + 1 >= value.length - 1) return undefined;
      const next = value[++i];
      if (next !== '"' && next !== "\\") return undefined;
      out += next;
    } else if (c === '"' || c < " " || c > "~") return undefined;
    else out += c;
  }
  return out;
}

function invalidKey(detail: string): Problem {
  return new Problem("IDEMPOTENCY_KEY_INVALID", detail);
}

/** Every part length-prefixed, so no two tuples hash alike (`a` + `bc` against `ab` + `c`). */
function digest(parts: readonly (string | Buffer)[]): Buffer {
  const hash = createHash("sha256");
  for (const part of parts) {
    const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  }
  return hash.digest();
}

/** What one claimed request has collected of its answer. */
interface InFlight {
  claim: Claim;
  heartbeat: NodeJS.Timeout;
  head: { status: number; headers: Record<string, string> } | undefined;
  chunks: Buffer[];
  size: number;
  overCap: boolean;
  ended: boolean;
}

/**
 * Idempotency keys (IETF draft-ietf-httpapi-idempotency-key-header): a retried write with the
 * same key and payload gets the first answer again, marked `Idempotent-Replayed: true`, and never
 * reaches the upstream twice. The record is scoped to tenant, caller, method, route and key, so a
 * key can only ever replay its own caller's answer. What is stored is the first answer the
 * upstream gave, whatever its status; a request refused by Portcullis, or never delivered, stores
 * nothing and releases the key, so the client may retry.
 */
export function idempotencyControl(policy: IdempotencyPolicy, store: IdempotencyStore, onError: (error: unknown) => void = () => undefined): Control {
  const replayed = new Set([...REPLAYED_HEADERS, ...policy.replayHeaders]);
  const inFlight = new WeakMap<RequestContext, InFlight>();

  const decide = async (ctx: RequestContext, key: string, body: Buffer): Promise<void> => {
    const principal = ctx.principal!;
    const scope = digest([callerId(principal), ctx.method, ctx.route!.name, key]);
    const fingerprint = digest([ctx.method, ctx.target.rawPath, ctx.target.query, body]);
    const result = await store.claim({ tenantId: principal.tenantId, scope, fingerprint, leaseSeconds: policy.leaseSeconds, retentionSeconds: policy.retentionSeconds });
    switch (result.kind) {
      case "mismatch":
        throw new Problem("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was first used with another request; use a new key for a new request.");
      case "in_progress":
        setResponseHeader(ctx, "retry-after", String(result.retryAfterSeconds));
        throw new Problem("IDEMPOTENCY_IN_PROGRESS", "The first request with this Idempotency-Key is still being served; retry later.");
      case "replay": {
        const { response } = result;
        const body = response.bodyComplete ? response.body : Buffer.alloc(0);
        ctx.answer = {
          outcome: "replayed",
          status: response.status,
          headers: { ...response.headers, "idempotent-replayed": "true", "content-length": String(body.length) },
          body,
        };
        return;
      }
      case "claimed": {
        const { claim } = result;
        const heartbeat = setInterval(() => {
          store.renew(claim, policy.leaseSeconds).catch(onError);
        }, (policy.leaseSeconds * 1000) / 3);
        heartbeat.unref();
        inFlight.set(ctx, { claim, heartbeat, head: undefined, chunks: [], size: 0, overCap: false, ended: false });
      }
    }
  };

  /** Stores the answer; rejects when it could not be stored, after reporting it. */
  const complete = (ctx: RequestContext, flight: InFlight): Promise<void> => {
    inFlight.delete(ctx);
    clearInterval(flight.heartbeat);
    const head = flight.head!;
    const bodyComplete = flight.ended && !flight.overCap;
    const response = { status: head.status, headers: head.headers, body: bodyComplete ? Buffer.concat(flight.chunks) : Buffer.alloc(0), bodyComplete };
    return store.complete(flight.claim, response).then(
      (stored) => {
        // The lease ran out and the claim is no longer this request's: nothing replays this answer.
        if (!stored) throw new Error("the idempotency claim was lost before the answer was stored");
      },
      (error: unknown) => {
        onError(error);
        throw error;
      },
    );
  };

  return {
    name: "idempotency",
    stage: "idempotency",
    needsBody: "idempotency fingerprints the request body",
    needsResponse: "idempotency stores the upstream's answer",
    run(ctx) {
      if (SAFE_METHODS.has(ctx.method)) return;
      const key = idempotencyKeyOf(ctx.rawHeaders);
      if (key === undefined) {
        if (policy.required) throw new Problem("IDEMPOTENCY_KEY_REQUIRED", "Send an Idempotency-Key header with this request.");
        return;
      }
      const body = bufferedBody(ctx, policy.maxBodyBytes);
      return body instanceof Promise ? body.then((b) => decide(ctx, key, b)) : decide(ctx, key, body);
    },
    onResponse(ctx: RequestContext, head: ResponseHead): BodyTap | undefined {
      const flight = inFlight.get(ctx);
      if (flight === undefined) return undefined;
      const headers: Record<string, string> = {};
      for (const name of replayed) {
        const value = head.headers[name];
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : String(value);
      }
      flight.head = { status: head.status, headers };
      return {
        write(chunk) {
          if (flight.overCap) return;
          flight.size += chunk.length;
          if (flight.size > policy.maxResponseBytes) {
            flight.overCap = true;
            flight.chunks = [];
          } else flight.chunks.push(chunk);
        },
        // The whole answer is in: stored before the client gets its last bytes, so that a client
        // holding a complete answer can always have it replayed (a crash before the record is
        // durable leaves the client an unfinished answer, not a success it would not retry), and
        // a client that retries at once gets the replay, not a 409. Not stored: the answer is cut.
        end() {
          flight.ended = true;
          return complete(ctx, flight);
        },
      };
    },
    onDone(ctx, ending: Ending) {
      const flight = inFlight.get(ctx);
      if (flight === undefined) return;
      // The answer began but was cut off: its status and headers are what can be replayed.
      if (flight.head !== undefined) return void complete(ctx, flight).catch(() => undefined);
      inFlight.delete(ctx);
      clearInterval(flight.heartbeat);
      const { claim } = flight;
      if (ending.upstream === "not_reached") {
        store.release(claim).catch(onError);
      }
      // Sent but unanswered (a timeout, a connection cut after sending): the upstream may have
      // acted on it, so the key stays claimed until its lease runs out rather than let a retry
      // run it twice at once.
    },
  };
}
