import { z } from "zod";
import { ATTACK_CLASSES } from "./detectors.js";

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
  ...ATTACK_CLASSES,
  "prototypePollution",
  "methodOverride",
] as const;

/** `body.description`, `query.q`, `header.user-agent`, `body.items[*].note`, `body.*`: `*` stands for one name or index. */
const fieldPattern = z
  .string()
  .regex(/^(path|query|header|cookie|body)(\.|\[|$)/, "must start with path, query, header, cookie or body, as findings name fields")
  .max(500);

export const shieldSchema = z.strictObject({
  /** What every check does unless `checks` says otherwise: refuse the request, or only log it. */
  mode: z.enum(["block", "monitor"]).default("block"),
  /** `ssrf` only reports unless set here: a URL to an internal host is often a user's own. */
  checks: z.partialRecord(z.enum(SHIELD_CHECKS), z.enum(["block", "monitor", "off"])).default({}),
  /** Which attack rules run: 1 (few false positives) to 4 (most aggressive), as CRS's paranoia levels. */
  paranoia: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).default(1),
  /** A class refuses once its findings in one request add up to this (each finding scores 5). */
  threshold: z.number().int().min(1).max(1_000).default(5),
  /** The threshold per attack class, where it differs. */
  thresholds: z.partialRecord(z.enum(ATTACK_CLASSES), z.number().int().min(1).max(1_000)).default({}),
  /** Fields the attack detectors leave alone: all classes, or only those named. Limits still apply. */
  except: z
    .array(z.union([fieldPattern, z.strictObject({ field: fieldPattern, checks: z.array(z.enum(ATTACK_CLASSES)).min(1) })]))
    .max(200)
    .default([]),
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
