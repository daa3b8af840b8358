import type { IncomingMessage } from "node:http";
import { DEFAULT_IPV6_HOLDER_PREFIX, parseIp, type IpAddress } from "./ip.js";
import { IpSet } from "./ip-set.js";

/**
 * Who the client is, as far as the network can tell. `X-Forwarded-For` is believed only as far as
 * it was written by proxies we trust: walking it from the right (the hop nearest us), each entry
 * added by a trusted proxy is skipped, and the first address a trusted proxy vouches for that is
 * not itself a trusted proxy is the client. Entries further left were written by the client and
 * are never read, so a forged header can neither pick an address nor dodge a limit or a block.
 */
export class ClientIpResolver {
  private readonly trusted: IpSet;
  /** A keep-alive connection carries many requests: its address is parsed once. */
  private readonly sockets = new WeakMap<object, IpAddress>();

  constructor(
    trustedProxies: readonly string[] = [],
    /** How much of an IPv6 address names one client (`holder`). */
    private readonly ipv6HolderPrefix = DEFAULT_IPV6_HOLDER_PREFIX,
  ) {
    this.trusted = IpSet.parse(trustedProxies);
  }

  resolve(req: IncomingMessage): IpAddress {
    let socket = this.sockets.get(req.socket);
    if (socket === undefined) {
      socket = parseIp(req.socket.remoteAddress ?? "", this.ipv6HolderPrefix) ?? UNKNOWN_ADDRESS;
      // A socket that has lost its address (closed) is not remembered as unknown.
      if (socket !== UNKNOWN_ADDRESS) this.sockets.set(req.socket, socket);
    }
    if (this.trusted.size === 0 || !this.trusted.has(socket)) return socket;
    const header = req.headers["x-forwarded-for"];
    if (header === undefined) return socket;
    // Node joins repeated X-Forwarded-For headers with ", ", in order, which is what proxies mean.
    const hops = (Array.isArray(header) ? header.join(",") : header).split(",");
    let client = socket;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseIp(hops[i]!.trim(), this.ipv6HolderPrefix);
      // A malformed entry ends the trust: the last address we could vouch for stands.
      if (hop === undefined) return client;
      client = hop;
      if (!this.trusted.has(hop)) return hop;
    }
    return client;
  }
}

/** A socket without an address (already closed): one shared bucket, never a free pass. */
export const UNKNOWN_ADDRESS: IpAddress = { family: 4, value: 0n, text: "0.0.0.0", holder: "0.0.0.0" };
