import ipaddr from "ipaddr.js";

/** An address reduced to one canonical form: IPv4-mapped IPv6 becomes IPv4, text is canonical. */
export interface IpAddress {
  family: 4 | 6;
  /** The address as an unsigned integer, for masking: 32 bits for IPv4, 128 for IPv6. */
  value: bigint;
  text: string;
  /**
   * Who the address stands for when counting: the address itself for IPv4, its network for IPv6
   * (a /64 unless configured otherwise), since one subscriber holds at least a whole /64 and could
   * otherwise take a fresh address for every request and never meet a limit or a block.
   */
  holder: string;
}

/** A subscriber's smallest usual IPv6 allocation; providers hand out /56 and /48 too. */
export const DEFAULT_IPV6_HOLDER_PREFIX = 64;

/**
 * Parses only the unambiguous forms: dotted quad without leading zeros for IPv4 (so `010.0.0.1`,
 * `10.1` or `0x0a000001` cannot name an address one way here and another way elsewhere), and
 * IPv6 without a zone. Anything else is undefined.
 */
export function parseIp(text: string, ipv6HolderPrefix = DEFAULT_IPV6_HOLDER_PREFIX): IpAddress | undefined {
  const v4 = plainIpv4(text.startsWith("::ffff:") ? text.slice(7) : text);
  if (v4 !== undefined) return v4;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  if (text.includes(":")) {
    if (text.includes("%") || !ipaddr.IPv6.isValid(text)) return undefined;
    const hexOnly = text.includes(".") ? dottedTailAsHex(text) : text;
    if (hexOnly === undefined) return undefined;
    parsed = ipaddr.process(hexOnly);
  } else {
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
    parsed = ipaddr.IPv4.parse(text);
  }
  const bytes = parsed.toByteArray();
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  if (parsed.kind() === "ipv4") return { family: 4, value, text: parsed.toString(), holder: parsed.toString() };
  return { family: 6, value, text: parsed.toString(), holder: ipv6Network(value, ipv6HolderPrefix) };
}

/**
 * `::ffff:1.2.3.4` as `::ffff:102:304`. The embedded dotted quad obeys the same rule as a plain
 * one (`::ffff:010.1.2.3` is refused), and ipaddr.js is not given it: it reads `::1.2.3.4`
 * (IPv4-compatible) as `::ffff:1.2.3.4` (IPv4-mapped), which would make a deprecated,
 * unroutable IPv6 address look like a public IPv4 one.
 */
function dottedTailAsHex(text: string): string | undefined {
  const colon = text.lastIndexOf(":");
  const v4 = plainIpv4(text.slice(colon + 1));
  if (v4 === undefined) return undefined;
  const n = Number(v4.value);
  const hex = `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  return ipaddr.IPv6.isValid(text.slice(0, colon + 1) + hex) ? text.slice(0, colon + 1) + hex : undefined;
}

function ipv6Network(value: bigint, prefix: number): string {
  const network = value & mask(6, prefix);
  const bytes: number[] = [];
  for (let shift = 120n; shift >= 0n; shift -= 8n) bytes.push(Number((network >> shift) & 0xffn));
  return `${ipaddr.fromByteArray(bytes).toString()}/${prefix}`;
}

/**
 * The common case without the general parser: a dotted quad with no leading zeros, already in
 * canonical form. Anything else (`010.0.0.1`, `10.1`, IPv6) goes the general way.
 */
function plainIpv4(text: string): IpAddress | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 0 || n > 255 || String(n) !== part) return undefined;
    value = value * 256 + n;
  }
  return { family: 4, value: BigInt(value), text, holder: text };
}

export interface Cidr {
  family: 4 | 6;
  prefix: number;
  /** The network address, host bits cleared. */
  network: bigint;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128); IPv4-mapped becomes IPv4. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const address = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const bits = address.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const rawPrefix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(rawPrefix)) return undefined;
    prefix = Number(rawPrefix);
    // A mapped network (::ffff:10.0.0.0/104) keeps its meaning as an IPv4 one.
    if (address.family === 4 && text.slice(0, slash).includes(":")) prefix -= 96;
    if (prefix < 0 || prefix > bits) return undefined;
  }
  return { family: address.family, prefix, network: address.value & mask(address.family, prefix) };
}

export function mask(family: 4 | 6, prefix: number): bigint {
  const bits = family === 4 ? 32n : 128n;
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}
