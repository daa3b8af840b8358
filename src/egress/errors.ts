/**
 * Every refusal and failure of the egress is one of these codes, part of the public contract:
 * callers match on `code`. The message is safe to log: it names the host and the rule, never a
 * header, a body or a query string (which may hold a token).
 */
export const EGRESS_ERROR_CODES = [
  "EGRESS_INVALID_URL",
  "EGRESS_SCHEME_DENIED",
  "EGRESS_USERINFO_DENIED",
  "EGRESS_PORT_DENIED",
  "EGRESS_HOST_DENIED",
  "EGRESS_ADDRESS_DENIED",
  "EGRESS_DNS_FAILED",
  "EGRESS_REDIRECT_DENIED",
  "EGRESS_TOO_MANY_REDIRECTS",
  "EGRESS_CONTENT_TYPE_DENIED",
  "EGRESS_RESPONSE_TOO_LARGE",
  "EGRESS_TIMEOUT",
  "EGRESS_UNAVAILABLE",
  "EGRESS_CIRCUIT_OPEN",
] as const;

export type EgressErrorCode = (typeof EGRESS_ERROR_CODES)[number];

/** Refusals are the checks saying no; the rest are the destination failing. */
const FAILURES = new Set<EgressErrorCode>(["EGRESS_DNS_FAILED", "EGRESS_TIMEOUT", "EGRESS_UNAVAILABLE", "EGRESS_CIRCUIT_OPEN"]);

export class EgressError extends Error {
  override readonly name = "EgressError";

  constructor(
    readonly code: EgressErrorCode,
    message: string,
    /** The host the refused request was for, as the URL named it. */
    readonly host?: string,
    /** For an address refusal, the class of the address (`loopback`, `private`, `metadata`, …). */
    readonly reason?: string,
    /** For EGRESS_CIRCUIT_OPEN, whole seconds until the destination is tried again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  /** A refusal is the egress doing its job against a request; a failure is the far side's. */
  get isRefusal(): boolean {
    return !FAILURES.has(this.code);
  }
}
