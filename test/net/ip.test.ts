import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { ClientIpResolver } from "../../src/net/client-ip.js";
import { parseCidr, parseIp } from "../../src/net/ip.js";
import { IpSet } from "../../src/net/ip-set.js";

test("addresses have one canonical form; ambiguous spellings are refused", () => {
  assert.equal(parseIp("::ffff:10.1.2.3")?.text, "10.1.2.3", "IPv4-mapped IPv6 is the IPv4 address");
  assert.equal(parseIp("0:0:0:0:0:FFFF:10.1.2.3")?.text, "10.1.2.3");
  // ipaddr.js alone reads IPv4-compatible `::a.b.c.d` as mapped: a deprecated IPv6 address is not the IPv4 one.
  assert.deepEqual([parseIp("::10.1.2.3")?.family, parseIp("::10.1.2.3")?.text], [6, "::a01:203"]);
  assert.equal(parseIp("64:ff9b::10.1.2.3")?.text, "64:ff9b::a01:203");
  assert.equal(parseIp("::FFFF:0a01:0203")?.text, "10.1.2.3");
  assert.equal(parseIp("2001:DB8:0:0::1")?.text, "2001:db8::1");
  for (const bad of ["010.1.2.3", "10.1.2", "10.1.2.3.4", "0x0a.1.2.3", "167772161", "1.2.3.256", "fe80::1%eth0", "::ffff:010.1.2.3", "64:ff9b::010.0.0.1", "1.2.3.+4", "1.2.3.4e0", " 1.2.3.4", "1.2.3.4 ", "", "::g", "1.2.3.4/8"]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
  assert.deepEqual(parseCidr("::ffff:10.0.0.0/104"), parseCidr("10.0.0.0/8"), "a mapped network is the IPv4 network");
  assert.equal(parseCidr("10.0.0.0/33"), undefined);
  assert.equal(parseCidr("10.0.0.0/-1"), undefined);
  assert.equal(parseCidr("10.0.0.0/08x"), undefined);
});

test("an IP set of 100 000 entries answers membership exactly, by address and by network, in both families", () => {
  const entries: string[] = [];
  for (let i = 0; i < 50_000; i++) entries.push(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.1`);
  for (let i = 0; i < 49_990; i++) entries.push(`2001:db8:${i.toString(16)}::/48`);
  entries.push("192.168.0.0/16", "172.16.0.0/12", "100.64.0.0/10", "::ffff:198.51.100.0/120", "fc00::/7", "203.0.113.9", "2001:db8:ffff::1", "0.0.0.0/32", "fe80::/10", "::1");
  assert.equal(entries.length, 100_000);
  const set = IpSet.parse(entries);
  const has = (address: string) => set.has(parseIp(address)!);
  for (const inside of ["10.0.0.1", "10.195.79.1", "192.168.44.3", "172.31.255.255", "100.127.0.1", "198.51.100.77", "::ffff:198.51.100.77", "fd12::1", "2001:db8:1f3::abcd", "203.0.113.9", "::1"]) {
    assert.ok(has(inside), inside);
  }
  for (const outside of ["10.0.0.2", "172.32.0.1", "198.51.101.1", "203.0.113.10", "2001:db8:ffff::2", "2001:db9::1", "8.8.8.8", "::2"]) {
    assert.ok(!has(outside), outside);
  }
  assert.throws(() => IpSet.parse(["10.0.0.0/8", "not-an-ip"]), /"not-an-ip" is not an IP address/);
});

function request(remoteAddress: string | undefined, forwardedFor?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor } } as unknown as IncomingMessage;
}

test("X-Forwarded-For is believed only as far as trusted proxies wrote it", () => {
  const none = new ClientIpResolver();
  assert.equal(none.resolve(request("198.51.100.7", "1.2.3.4")).text, "198.51.100.7", "no trusted proxies: the header is ignored");
  assert.equal(none.resolve(request("::ffff:198.51.100.7")).text, "198.51.100.7");

  const behindLb = new ClientIpResolver(["10.0.0.0/8", "2001:db8:1::/48"]);
  assert.equal(behindLb.resolve(request("203.0.113.5", "1.2.3.4")).text, "203.0.113.5", "a client talking to us directly cannot claim an address");
  assert.equal(behindLb.resolve(request("10.0.0.2", "198.51.100.7")).text, "198.51.100.7");
  assert.equal(behindLb.resolve(request("10.0.0.2", "6.6.6.6, 198.51.100.7")).text, "198.51.100.7", "what the client prepended is never read");
  assert.equal(behindLb.resolve(request("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9")).text, "198.51.100.7", "a chain of trusted proxies is walked");
  assert.equal(behindLb.resolve(request("10.0.0.2", ["6.6.6.6", "198.51.100.7"])).text, "198.51.100.7", "repeated headers are one list");
  assert.equal(behindLb.resolve(request("10.0.0.2", "::ffff:198.51.100.7")).text, "198.51.100.7");
  assert.equal(behindLb.resolve(request("10.0.0.2", "garbage, 198.51.100.7")).text, "198.51.100.7");
  assert.equal(behindLb.resolve(request("10.0.0.2", "198.51.100.7, garbage")).text, "10.0.0.2", "a malformed hop ends the trust at the proxy");
  assert.equal(behindLb.resolve(request("10.0.0.2", "10.0.0.3")).text, "10.0.0.3", "only proxies: the farthest one");
  assert.equal(behindLb.resolve(request("10.0.0.2")).text, "10.0.0.2");
  assert.equal(behindLb.resolve(request(undefined, "1.2.3.4")).text, "0.0.0.0", "no socket address is one shared bucket, not a pass");
  assert.throws(() => new ClientIpResolver(["10.0.0.0/8", "everyone"]));
});

test("an IPv6 client counts as its /64, an IPv4 client as itself", () => {
  assert.equal(parseIp("2001:db8:1:2:aaaa:bbbb:cccc:dddd")?.holder, "2001:db8:1:2::/64");
  assert.equal(parseIp("2001:db8:1:2::1")?.holder, parseIp("2001:db8:1:2:ffff::9")?.holder, "a fresh address in the same /64 is the same client");
  assert.notEqual(parseIp("2001:db8:1:2::1")?.holder, parseIp("2001:db8:1:3::1")?.holder);
  assert.equal(parseIp("2001:db8:1:2:aaaa::1", 48)?.holder, "2001:db8:1::/48", "a wider holder when configured");
  assert.equal(parseIp("2001:db8:1:2:aaaa::1", 128)?.holder, "2001:db8:1:2:aaaa::1/128");
  assert.equal(parseIp("198.51.100.7", 48)?.holder, "198.51.100.7", "IPv4 is always one address");
  assert.equal(parseIp("::ffff:198.51.100.7")?.holder, "198.51.100.7");
  assert.equal(parseIp("198.51.100.7")?.holder, "198.51.100.7");
});
