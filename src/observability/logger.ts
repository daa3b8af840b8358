import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Structured JSON logs. Call sites never pass headers or bodies; the redaction list is a second
 * line of defence in case one ever does.
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
          "*.key",
          "*.token",
          "*.authorization",
          "*.cookie",
          "*.headers.authorization",
          "*.headers.cookie",
          '*.headers["x-api-key"]',
          "body",
          "*.body",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
