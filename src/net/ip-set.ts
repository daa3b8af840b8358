import { mask, parseCidr, type Cidr, type IpAddress } from "./ip.js";

/**
 * A set of addresses and networks answering membership in time that does not grow with its size:
 * one hash lookup per distinct prefix length present (at most 33 for IPv4 and 129 for IPv6),
 * whether it holds ten entries or a million.
 */
export class IpSet {
  /** Per family, per prefix length: the network addresses of that length. */
  private readonly byPrefix: Record<4 | 6, Map<number, Set<bigint>>> = { 4: new Map(), 6: new Map() };
  private readonly masks: Record<4 | 6, [prefix: number, mask: bigint][]> = { 4: [], 6: [] };
  readonly size: number;

  private constructor(cidrs: readonly Cidr[]) {
    for (const { family, prefix, network } of cidrs) {
      let networks = this.byPrefix[family].get(prefix);
      if (networks === undefined) this.byPrefix[family].set(prefix, (networks = new Set()));
      networks.add(network);
    }
    for (const family of [4, 6] as const) {
      this.masks[family] = [...this.byPrefix[family].keys()].sort((a, b) => b - a).map((prefix) => [prefix, mask(family, prefix)]);
    }
    this.size = cidrs.length;
  }

  /** Throws naming the first entry that is not an address or a network. */
  static parse(entries: readonly string[]): IpSet {
    return new IpSet(
      entries.map((entry) => {
        const cidr = parseCidr(entry.trim());
        if (cidr === undefined) throw new Error(`"${entry}" is not an IP address or CIDR network`);
        return cidr;
      }),
    );
  }

  static readonly EMPTY = new IpSet([]);

  has(address: IpAddress): boolean {
    const networks = this.byPrefix[address.family];
    for (const [prefix, m] of this.masks[address.family]) if (networks.get(prefix)!.has(address.value & m)) return true;
    return false;
  }
}
