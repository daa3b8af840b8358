import { z } from "zod";

export const SHIELD_CHECKS = [
  "bodySize",
  "headerSize",
  "urlLength",
  "encoding",
  "jsonDepth",
  "jsonKeys",
  "fieldLength",
  "words",
  "urls",
  "phoneNumbers",
  "sqli",
  "xss",
  "traversal",
  "cmdi",
  "prototypePollution",
  "methodOverride",
] as const;

export const shieldSchema = z.strictObject({
  /** What every check does unless `checks` says otherwise: refuse the request, or only log it. */
  mode: z.enum(["block", "monitor"]).default("block"),
  checks: z.partialRecord(z.enum(SHIELD_CHECKS), z.enum(["block", "monitor", "off"])).default({}),
  /** Off: bodies stream through unread and only the target and headers are inspected (the decision API never sees a body). */
  inspectBody: z.boolean().default(true),
  maxBodyBytes: z.number().int().min(1).max(100 * 1024 * 1024).default(1_048_576),
  maxHeaderBytes: z.number().int().min(256).max(1_048_576).default(16_384),
  maxUrlLength: z.number().int().min(16).max(65_536).default(4_096),
  maxJsonDepth: z.number().int().min(1).max(1_000).default(32),
  maxJsonKeys: z.number().int().min(1).max(1_000_000).default(1_000),
  maxFieldLength: z.number().int().min(1).max(10_000_000).default(8_192),
  maxUrls: z.number().int().min(0).max(10_000).default(5),
  maxPhoneNumbers: z.number().int().min(0).max(10_000).default(3),
  /** Word-count range for the named text fields (JSON or form keys, at any depth). */
  words: z
    .strictObject({ fields: z.array(z.string().min(1)).min(1), min: z.number().int().min(0).default(0), max: z.number().int().min(1) })
    .refine((words) => words.min <= words.max, { path: ["min"], message: "min must not exceed max: no text could ever pass" })
    .optional(),
});
export type ShieldPolicy = z.infer<typeof shieldSchema>;
