import { z } from "zod";
import { parseCidr } from "../net/ip.js";
import { circuitBreakerSchema, retriesSchema } from "../resilience/guard.js";

/**
 * A host as the URL parser leaves it (lower case, IDN as punycode, IPv4 in dotted form, IPv6 in
 * brackets), with a leading `*.` kept: `*.example.com` is any name below example.com, never
 * example.com itself; a lone `*` is any host.
 */
const hostPattern = z
  .string()
  .min(1)
  .max(253)
  .transform((raw, ctx) => {
    if (raw === "*") return raw;
    const wildcard = raw.startsWith("*.");
    const rest = wildcard ? raw.slice(2) : raw;
    let host: string;
    try {
      const url = new URL(`http://${rest}/`);
      if (url.host !== url.hostname || url.username !== "" || rest.includes("*") || rest.includes("/")) throw new Error("not a bare host");
      host = url.hostname.replace(/\.$/, "");
    } catch {
      ctx.addIssue({ code: "custom", message: `"${raw}" is not a host name, an IP address or *.domain` });
      return z.NEVER;
    }
    return wildcard ? `*.${host}` : host;
  });

const port = z.number().int().min(1).max(65_535);

const hostLists = z.strictObject({
  /** `["*"]` admits every host that passes the address checks. */
  allow: z.array(hostPattern).default(["*"]),
  deny: z.array(hostPattern).default([]),
});

const portLists = z.strictObject({
  allow: z.array(port).min(1).default([80, 443]),
  deny: z.array(port).default([]),
});

/** The rules a tenant may have its own of. */
const ruleFields = {
  /** Plain http only when listed; a redirect from https to http is refused whatever this says. */
  schemes: z.array(z.enum(["https", "http"])).min(1),
  ports: portLists,
  hosts: hostLists,
  /** Media types a response may have (`application/json`, `image/*`); empty admits any. */
  contentTypes: z.array(z.string().regex(/^[a-z0-9!#$&^_.+-]+\/(\*|[a-z0-9!#$&^_.+-]+)$/i, "a media type such as application/json or image/*")),
  /** Redirects followed, each one checked again from the start; 0 hands a 3xx back as it is. */
  maxRedirects: z.number().int().min(0).max(20),
  maxResponseBytes: z.number().int().min(1).max(1024 * 1024 * 1024),
  /** For the whole exchange, redirects and body included. */
  timeoutMs: z.number().int().min(1).max(600_000),
};

export const egressSchema = z.strictObject({
  schemes: ruleFields.schemes.default(["https"]),
  ports: ruleFields.ports.default({ allow: [80, 443], deny: [] }),
  hosts: ruleFields.hosts.default({ allow: ["*"], deny: [] }),
  contentTypes: ruleFields.contentTypes.default([]),
  maxRedirects: ruleFields.maxRedirects.default(0),
  maxResponseBytes: ruleFields.maxResponseBytes.default(10 * 1024 * 1024),
  timeoutMs: ruleFields.timeoutMs.default(10_000),
  /**
   * Networks outside global unicast that may be reached on purpose (an internal service, a test
   * server on loopback). The cloud metadata addresses stay refused even when listed here.
   */
  allowAddresses: z.array(z.string().refine((cidr) => parseCidr(cidr) !== undefined, "an IP address or CIDR network")).default([]),
  connectTimeoutMs: z.number().int().min(1).max(60_000).default(5_000),
  /** Connection failures retried for idempotent requests (or ones with an Idempotency-Key) with a body that can be sent again. */
  retries: retriesSchema,
  /** Per destination origin; while open, EGRESS_CIRCUIT_OPEN without a connection. */
  circuitBreaker: circuitBreakerSchema,
  /** Per tenant, its own rules: each field given replaces the default's, lists are not merged. */
  tenants: z.record(z.string().min(1), z.strictObject(ruleFields).partial()).default({}),
});

export type EgressPolicy = z.infer<typeof egressSchema>;
export type EgressRules = Omit<EgressPolicy, "allowAddresses" | "connectTimeoutMs" | "tenants" | "retries" | "circuitBreaker">;
export type EgressOptionsInput = z.input<typeof egressSchema>;
