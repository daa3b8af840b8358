import pino, { type Logger } from "pino";
import type { Redactor } from "../redact/redactor.js";
import { RedactingDestination } from "./log-redaction.js";
import { SERVICE_NAME } from "./logger.js";

export interface AccessEntry {
  requestId: string;
  method: string | undefined;
  path: string;
  route: string;
  status: number;
  outcome: string;
  durationMs: number;
  tenantId: string | undefined;
  principal: string | undefined;
}

const INFO = 30;
/** A string JSON writes as it is: printable ASCII without a quote or a backslash. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify` for one string, without its set-up cost for the usual plain values (ids, names, codes). */
function quoted(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * One line per request, in the shape pino gives every line (level, time, service, msg) and into
 * the logger's own stream, so it sits in order among the other lines. It is built here rather
 * than by `logger.info` because pino's general serializer (a property walk with its own string
 * escaping) cost about 3 µs a line, a measurable share of a gateway's CPU at its request rates
 * (docs/ARCHITECTURE.md, Performance); this line costs well under one. The fields are fixed and
 * carry no credential, header or body (the path is logged without its query), so pino's
 * redaction has nothing to remove here.
 */
/**
 * RFC 9110's methods and PATCH: logged as they are. Anything else is logged as `OTHER`: the
 * decision API takes its method from a header the proxy fills from the request line, and a
 * client can write anything there (an address, a card number) that must not reach a log.
 */
const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

export class AccessLog {
  private readonly stream: { write(line: string): unknown };
  private lastTime = 0;
  private lastIso = "";

  /** Set when the logs are redacted: the fields a client can put text in go through it, the rest is the gateway's own. */
  private readonly redactor: Redactor | undefined;

  constructor(private readonly logger: Logger) {
    const stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym]!;
    this.redactor = stream instanceof RedactingDestination ? stream.redactor : undefined;
    this.stream = stream instanceof RedactingDestination ? stream.inner : stream;
  }

  write(entry: AccessEntry): void {
    if (this.logger.levelVal > INFO) return;
    // Numbers are the gateway's own; every string is escaped, as a JWT's subject or a path can
    // hold anything a client chose to send.
    this.stream.write(
      `{"level":${INFO},"time":"${this.isoTime()}","service":"${SERVICE_NAME}","req_id":${quoted(entry.requestId)},"method":"${loggedMethod(entry.method)}"` +
        `,"path":${quoted(this.redactedPath(entry.path))},"route":${quoted(entry.route)},"status":${entry.status},"outcome":${quoted(entry.outcome)},"duration_ms":${entry.durationMs}` +
        (entry.tenantId === undefined ? "" : `,"tenant_id":${quoted(entry.tenantId)}`) +
        (entry.principal === undefined ? "" : `,"principal":${quoted(this.redacted(entry.principal))}`) +
        `,"msg":"request"}\n`,
    );
  }

  private redacted(text: string): string {
    return this.redactor === undefined ? text : this.redactor.text(text);
  }

  /**
   * A path is logged as sent, so what a client percent-encoded (an address as `alice%40example%2Ecom`,
   * or encoded twice) is looked for once decoded too; where that finds more, the decoded, redacted
   * form is logged.
   */
  private redactedPath(path: string): string {
    const raw = this.redacted(path);
    if (this.redactor === undefined || !raw.includes("%")) return raw;
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return raw;
    }
    const again = this.redactor.text(decoded);
    return again === decoded ? raw : again;
  }

  /** Formatting a date costs as much as the rest of the line; many requests share a millisecond. */
  private isoTime(): string {
    const now = Date.now();
    if (now !== this.lastTime) {
      this.lastTime = now;
      this.lastIso = new Date(now).toISOString();
    }
    return this.lastIso;
  }
}

function loggedMethod(method: string | undefined): string {
  if (method === undefined) return "";
  return STANDARD_METHODS.has(method) ? method : "OTHER";
}
