import type { OutgoingHttpHeaders, ServerResponse } from "node:http";

/**
 * Every rejection Portcullis makes is one of these codes. They are part of the public contract:
 * clients and tests match on `code`, never on `title` or `detail`.
 */
export const PROBLEM_CODES = {
  BAD_REQUEST: { status: 400, title: "Bad request" },
  INVALID_PATH: { status: 400, title: "Invalid request path" },
  OAUTH_STATE_INVALID: { status: 400, title: "The authorization state is not valid" },
  MALFORMED_CREDENTIALS: { status: 400, title: "Malformed credentials" },
  INVALID_ENCODING: { status: 400, title: "The request is not valid UTF-8 or not the format it declares" },
  MALICIOUS_INPUT: { status: 400, title: "The request looks like an attack" },
  AMBIGUOUS_CREDENTIALS: { status: 400, title: "More than one credential was presented" },
  VALIDATION_FAILED: { status: 422, title: "The request body is not valid" },
  INPUT_REJECTED: { status: 422, title: "The request's content is outside the allowed limits" },
  IDEMPOTENCY_KEY_INVALID: { status: 400, title: "The Idempotency-Key header is not valid" },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, title: "This route requires an Idempotency-Key header" },
  INVALID_RETURN_URL: { status: 422, title: "The return URL is not allowed" },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: "This Idempotency-Key was used for a different request" },
  UNAUTHENTICATED: { status: 401, title: "Authentication required" },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, title: "The webhook signature is not valid" },
  STEP_UP_REQUIRED: { status: 401, title: "A more recent or stronger authentication is required" },
  FORBIDDEN: { status: 403, title: "Forbidden" },
  EGRESS_DENIED: { status: 403, title: "The egress does not allow this destination or answer" },
  BLOCKED: { status: 403, title: "This client is blocked for a while" },
  IP_DENIED: { status: 403, title: "Requests from this address are not allowed" },
  NOT_FOUND: { status: 404, title: "Not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  CONFLICT: { status: 409, title: "Conflict" },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: "A request with this Idempotency-Key is still in progress" },
  KEY_DESTROYED: { status: 410, title: "The key for this data was destroyed" },
  PROXY_AUTH_REQUIRED: { status: 407, title: "Proxy authentication required" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload too large" },
  URI_TOO_LONG: { status: 414, title: "URI too long" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  QUOTA_EXCEEDED: { status: 429, title: "Quota exhausted for this period" },
  HEADERS_TOO_LARGE: { status: 431, title: "Request header fields too large" },
  INTERNAL: { status: 500, title: "Internal error" },
  SECRET_INTEGRITY: { status: 500, title: "Stored data failed its integrity check" },
  UPSTREAM_UNAVAILABLE: { status: 502, title: "Upstream unavailable" },
  OAUTH_EXCHANGE_FAILED: { status: 502, title: "The connection provider did not complete the authorization" },
  STORE_UNAVAILABLE: { status: 503, title: "Service unavailable" },
  UPSTREAM_CIRCUIT_OPEN: { status: 503, title: "The upstream is failing and requests to it are paused" },
  IDP_UNAVAILABLE: { status: 503, title: "Identity provider unavailable" },
  KEY_PROVIDER_UNAVAILABLE: { status: 503, title: "Key provider unavailable" },
  KEY_PROVIDER_AUTH_FAILED: { status: 503, title: "The key provider refused the gateway's credentials" },
  UPSTREAM_TIMEOUT: { status: 504, title: "Upstream timed out" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

/**
 * An expected failure, carried as a value. `detail` is shown to the client, so it must be safe:
 * it never contains a credential, a stack trace or a message from a library or the database.
 */
export class Problem extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    super(code);
    this.name = "Problem";
    this.status = PROBLEM_CODES[code].status;
    this.title = PROBLEM_CODES[code].title;
  }
}

export function isProblemCode(value: string): value is ProblemCode {
  return Object.hasOwn(PROBLEM_CODES, value);
}

export function isProblem(value: unknown): value is Problem {
  return value instanceof Problem;
}

/** Anything thrown that is not a Problem is an internal error: its message never leaves the process. */
export function toProblem(error: unknown): Problem {
  return isProblem(error) ? error : new Problem("INTERNAL");
}

/** The standard members come last, so an extension member can never stand in for one of them. */
export function problemBody(problem: Problem, requestId: string): string {
  return JSON.stringify({
    ...problem.extra,
    type: `https://portcullis.dev/problems/${problem.code.toLowerCase().replaceAll("_", "-")}`,
    title: problem.title,
    status: problem.status,
    code: problem.code,
    // JSON drops an undefined member, and an extension's `detail` with it.
    detail: problem.detail,
    request_id: requestId,
  });
}

/**
 * `headers` are the gateway's own (request id, security headers), written in the same call.
 * `status` differs from the problem's only where a proxy needs another (nginx's auth_request).
 */
export function sendProblem(res: ServerResponse, problem: Problem, requestId: string, headers: OutgoingHttpHeaders = {}, status = problem.status): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = problemBody(problem, requestId);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-request-id": requestId,
  });
  res.end(body);
}
