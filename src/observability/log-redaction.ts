import type { DestinationStream } from "pino";
import { z } from "zod";
import { Redactor } from "../redact/redactor.js";

export const logRedactionSchema = z
  .strictObject({
    /** Every line the gateway writes goes through the redaction engine: addresses, numbers, cards, IBANs, SSNs, tokens, secrets. */
    enabled: z.boolean().default(true),
    /** Client addresses: kept by default (incident response works from them); `mask` or `drop` is seed 002's "no IPs in logs". */
    ips: z.enum(["keep", "mask", "drop"]).default("keep"),
    phoneRegions: z.array(z.string().regex(/^[A-Z]{2}$/)).min(1).optional(),
  })
  .default({ enabled: true, ips: "keep" });
export type LogRedactionPolicy = z.infer<typeof logRedactionSchema>;

/** The engine as the logs use it; undefined when redaction is off. No hash mode: a log line has no tenant key to hash under. */
export function logRedactor(policy: LogRedactionPolicy): Redactor | undefined {
  if (!policy.enabled) return undefined;
  return new Redactor({ entities: { ip: policy.ips }, ...(policy.phoneRegions === undefined ? {} : { phoneRegions: policy.phoneRegions }) });
}

/**
 * A destination that redacts each line before the one it wraps gets it. Redacting the finished
 * line rather than each logged object means that what a call site adds later cannot slip past:
 * security events and every other line go through the same door. The access log, whose fields
 * are fixed, redacts only the fields a client can put text in (see AccessLog), and writes to
 * `inner`: a whole-line pass would cost every request a few microseconds more.
 */
export class RedactingDestination implements DestinationStream {
  constructor(
    readonly redactor: Redactor,
    readonly inner: DestinationStream & { flush?(done?: (error?: Error) => void): void },
  ) {}

  write(line: string): void {
    this.inner.write(this.redactor.text(line));
  }

  flush(done?: (error?: Error) => void): void {
    if (this.inner.flush === undefined) return void done?.();
    this.inner.flush(done);
  }
}
