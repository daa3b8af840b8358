import { z } from "zod";
import { parseCidr } from "./ip.js";

export const cidrSchema = z.string().refine((value) => parseCidr(value) !== undefined, "must be an IP address or CIDR network (IPv4 dotted quad or IPv6)");

export const clientsSchema = z
  .strictObject({
    /** Proxies whose X-Forwarded-For is believed; empty: the socket's address is the client. */
    trustedProxies: z.array(cidrSchema).default([]),
    /** How much of an IPv6 address counts as one client for limits and blocks. */
    ipv6Prefix: z.number().int().min(32).max(128).default(64),
  })
  .default({ trustedProxies: [], ipv6Prefix: 64 });
export type ClientsPolicy = z.infer<typeof clientsSchema>;
