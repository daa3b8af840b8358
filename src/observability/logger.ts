import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Structured JSON logs. Call sites never pass headers or bodies; the redaction list is a second
 * line of defence in case one ever does. Its paths are static: wildcard paths cost pino a walk
 * of every logged object, which showed up in the per-request profile.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level ?? process.env.PORTCULLIS_LOG_LEVEL ?? "info",
      base: { service: "portcullis" },
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
