import pino, { type DestinationStream, type Logger } from "pino";
import type { Redactor } from "../redact/redactor.js";
import { BatchedLineWriter } from "./line-writer.js";
import { RedactingDestination } from "./log-redaction.js";

export type { Logger } from "pino";

/** The `service` field of every line, the access log's included. */
export const SERVICE_NAME = "portcullis";

/**
 * Structured JSON logs. Call sites never pass headers or bodies; the redaction list is a second
 * line of defence in case one ever does. Its paths are static: wildcard paths cost pino a walk
 * of every logged object, which showed up in the per-request profile.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream; redactor?: Redactor | undefined } = {}): Logger {
  const written = options.destination ?? new BatchedLineWriter(pino.destination({ dest: 1, sync: true }));
  const destination = options.redactor === undefined ? written : new RedactingDestination(options.redactor, written);
  return pino(
    {
      level: options.level ?? process.env.PORTCULLIS_LOG_LEVEL ?? "info",
      base: { service: SERVICE_NAME },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "key",
          "token",
          "authorization",
          "cookie",
          "body",
          "headers.authorization",
          "headers.cookie",
          'headers["x-api-key"]',
          "req.headers.authorization",
          "req.headers.cookie",
          'req.headers["x-api-key"]',
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
