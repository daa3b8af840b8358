import { z } from "zod";

const durationMs = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

export const forwardSchema = z
  .strictObject({
    upstream: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    connectTimeoutMs: durationMs(60_000, 5_000),
    headersTimeoutMs: durationMs(600_000, 30_000),
    bodyTimeoutMs: durationMs(600_000, 30_000),
    /** Pass the client's Authorization / X-API-Key on to the upstream (off: the upstream gets the signed identity instead). */
    passCredentials: z.boolean().default(false),
  })
  .default({ connectTimeoutMs: 5_000, headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, passCredentials: false });
export type ForwardPolicy = z.infer<typeof forwardSchema>;
