import { IpSet } from "../net/ip-set.js";
import { parseIp, type IpAddress } from "../net/ip.js";

/** Why an address is not one the egress may connect to. */
export type AddressClass =
  | "unparseable"
  | "this_network"
  | "private"
  | "carrier_grade_nat"
  | "loopback"
  | "link_local"
  | "protocol_assignments"
  | "documentation"
  | "benchmarking"
  | "multicast"
  | "reserved"
  | "unspecified"
  | "unique_local"
  | "ipv4_embedded"
  | "nat64_local"
  | "metadata"
  | "not_global";

/**
 * The IANA special-purpose registries (RFC 6890 and its updates) with every range that is not
 * globally reachable, and the ranges that are reachable only by way of another network's
 * translator. Written out here rather than taken from ipaddr.js's `range()`, whose default for
 * an unlisted IPv4 address is "unicast" and which lacks some entries (192.0.0.0/24 as a whole,
 * 3fff::/20): for an egress filter the table must be complete, and must be readable in one place.
 */
const V4_SPECIAL: readonly [AddressClass, readonly string[]][] = [
  ["this_network", ["0.0.0.0/8"]],
  ["private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]],
  ["carrier_grade_nat", ["100.64.0.0/10"]],
  ["loopback", ["127.0.0.0/8"]],
  ["link_local", ["169.254.0.0/16"]],
  // 192.0.0.0/24 holds DS-Lite, NAT64 discovery and Oracle's metadata (192.0.0.192); 192.88.99.0/24 the retired 6to4 relays.
  ["protocol_assignments", ["192.0.0.0/24", "192.88.99.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.175.48.0/24"]],
  ["documentation", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]],
  ["benchmarking", ["198.18.0.0/15"]],
  ["multicast", ["224.0.0.0/4"]],
  ["reserved", ["240.0.0.0/4"]],
];

/** Inside 2000::/3, the one block of global unicast, the parts that are not. */
const V6_SPECIAL_IN_GLOBAL: readonly [AddressClass, readonly string[]][] = [
  // Teredo (2001::/32) carries an IPv4 address (inverted) of the client and one of its server.
  ["ipv4_embedded", ["2001::/32", "2002::/16"]],
  ["protocol_assignments", ["2001::/23"]],
  ["documentation", ["2001:db8::/32", "3fff::/20"]],
];

/** Outside 2000::/3, named for the error message; all of it is refused. */
const V6_OUTSIDE_GLOBAL: readonly [AddressClass, readonly string[]][] = [
  ["unspecified", ["::/128"]],
  ["loopback", ["::1/128"]],
  // IPv4-compatible (::/96, deprecated) and IPv4-translated (::ffff:0:0:0/96, SIIT): an IPv4 address in disguise.
  ["ipv4_embedded", ["::/96", "::ffff:0:0:0/96"]],
  ["nat64_local", ["64:ff9b:1::/48"]],
  ["benchmarking", ["2001:2::/48"]],
  ["unique_local", ["fc00::/7"]],
  ["link_local", ["fe80::/10"]],
  ["multicast", ["ff00::/8"]],
];

/**
 * The cloud instance-metadata endpoints: AWS (also its IPv6 one and ECS's task endpoint), GCP,
 * Azure, DigitalOcean and OpenStack on 169.254.169.254, Alibaba on 100.100.100.200, Oracle on
 * 192.0.0.192, Tencent on 169.254.0.23. Each is inside a refused range already; listing them
 * again means an operator's `allowAddresses` exception for a private range can never open them.
 */
const METADATA = IpSet.parse(["169.254.169.254", "169.254.170.2", "169.254.0.23", "100.100.100.200", "192.0.0.192", "fd00:ec2::254", "fd00:ec2::23"]);

const compile = (table: readonly [AddressClass, readonly string[]][]): [AddressClass, IpSet][] => table.map(([name, cidrs]) => [name, IpSet.parse(cidrs)]);
const V4 = compile(V4_SPECIAL);
const V6_IN_GLOBAL = compile(V6_SPECIAL_IN_GLOBAL);
const V6_OUTSIDE = compile(V6_OUTSIDE_GLOBAL);
const V6_GLOBAL = IpSet.parse(["2000::/3"]);
const NAT64_WELL_KNOWN = IpSet.parse(["64:ff9b::/96"]);
const V4_BROADCAST = IpSet.parse(["255.255.255.255"]);

/**
 * What kind of address this is, or undefined for a global unicast one. IPv4-mapped IPv6 arrives
 * here as IPv4 already (parseIp folds it). The NAT64 well-known prefix is judged by the IPv4
 * address it carries, since on an IPv6-only network every IPv4-only site is reached through it;
 * every other form that hides an IPv4 address is refused outright.
 */
export function classifyAddress(address: IpAddress): AddressClass | undefined {
  if (METADATA.has(address)) return "metadata";
  if (address.family === 4) {
    if (V4_BROADCAST.has(address)) return "reserved";
    for (const [name, set] of V4) if (set.has(address)) return name;
    return undefined;
  }
  if (NAT64_WELL_KNOWN.has(address)) {
    const embedded = parseIp(ipv4Text(address.value & 0xffffffffn))!;
    return classifyAddress(embedded) === undefined ? undefined : "ipv4_embedded";
  }
  if (!V6_GLOBAL.has(address)) {
    for (const [name, set] of V6_OUTSIDE) if (set.has(address)) return name;
    return "not_global";
  }
  for (const [name, set] of V6_IN_GLOBAL) if (set.has(address)) return name;
  return undefined;
}

/**
 * Names of the cloud metadata services that resolve to a public address, or to one that an
 * `allowAddresses` exception might cover: Equinix Metal's (`metadata.packet.net`,
 * `metadata.platformequinix.com`) are public, so no address check refuses them. They are refused
 * by name, whatever they resolve to, as the metadata addresses are; so are the names that reach
 * the link-local ones (GCP's, AWS's `instance-data`, Tencent's).
 */
const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.packet.net",
  "metadata.platformequinix.com",
  "metadata.tencentyun.com",
]);

/** Whether a host name names a metadata service, or a name under one of its dotted names. */
export function isMetadataHostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  for (const known of METADATA_HOST_NAMES) if (name === known || (known.includes(".") && name.endsWith(`.${known}`))) return true;
  return false;
}

export function isMetadataAddress(address: IpAddress): boolean {
  return METADATA.has(address) || (NAT64_WELL_KNOWN.has(address) && METADATA.has(parseIp(ipv4Text(address.value & 0xffffffffn))!));
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String(Number((value >> shift) & 0xffn))).join(".");
}
