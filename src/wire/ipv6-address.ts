/**
 * IPv6 address helpers (RFC 4291): scopes and special addresses, the solicited-node
 * multicast group (§2.7.1), the Ethernet multicast MAC of a group (RFC 2464 §7),
 * interface identifiers from a MAC (modified EUI-64, RFC 4291 Appendix A) and prefix
 * arithmetic. Addresses are 16-byte arrays; `ipv6Key` gives a string usable as a map key.
 */
import type { MacAddress } from './address.ts';

export const IPV6_UNSPECIFIED: Uint8Array = new Uint8Array(16);
export const IPV6_LOOPBACK: Uint8Array = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/** ff02::1, all nodes on the link. */
export const IPV6_ALL_NODES: Uint8Array = Uint8Array.from([
  0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
]);
/** ff02::2, all routers on the link. */
export const IPV6_ALL_ROUTERS: Uint8Array = Uint8Array.from([
  0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
]);
/** ff02::16, all MLDv2-capable routers (RFC 3810 §5.2.14). */
export const IPV6_ALL_MLDV2_ROUTERS: Uint8Array = Uint8Array.from([
  0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16,
]);

/** A string key for maps (lower-case hex, 32 digits). */
export function ipv6Key(a: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += (a[i] < 16 ? '0' : '') + a[i].toString(16);
  return s;
}

/** The address of a key made by `ipv6Key`. */
export function ipv6FromKey(k: string): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(k.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function ipv6Equals(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isIpv6Unspecified(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

export function isIpv6Loopback(a: Uint8Array): boolean {
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** ff00::/8 (RFC 4291 §2.7). */
export function isIpv6Multicast(a: Uint8Array): boolean {
  return a[0] === 0xff;
}

/** fe80::/10 (RFC 4291 §2.5.6). */
export function isIpv6LinkLocal(a: Uint8Array): boolean {
  return a[0] === 0xfe && (a[1] & 0xc0) === 0x80;
}

/** A multicast address of link-local scope or smaller (ff01::/16, ff02::/16). */
export function isIpv6LinkScopeMulticast(a: Uint8Array): boolean {
  return a[0] === 0xff && (a[1] & 0x0f) <= 2;
}

/** ::ffff:0:0/96, an IPv4-mapped address (RFC 4291 §2.5.5.2). */
export function isIpv4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** ff02::1:ffXX:XXXX, the solicited-node group of `a` (RFC 4291 §2.7.1). */
export function solicitedNode(a: Uint8Array): Uint8Array {
  const g = Uint8Array.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0]);
  g[13] = a[13];
  g[14] = a[14];
  g[15] = a[15];
  return g;
}

/** Is `a` a solicited-node multicast address (ff02::1:ff00:0/104)? */
export function isSolicitedNode(a: Uint8Array): boolean {
  return (
    a[0] === 0xff &&
    a[1] === 2 &&
    a[2] === 0 &&
    a[3] === 0 &&
    a[4] === 0 &&
    a[5] === 0 &&
    a[6] === 0 &&
    a[7] === 0 &&
    a[8] === 0 &&
    a[9] === 0 &&
    a[10] === 0 &&
    a[11] === 1 &&
    a[12] === 0xff
  );
}

/** RFC 2464 §7: the Ethernet destination of a multicast packet is 33:33 and its last 32 bits. */
export function ipv6MulticastMac(a: Uint8Array): MacAddress {
  return Uint8Array.from([0x33, 0x33, a[12], a[13], a[14], a[15]]);
}

/** Modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 Appendix A): U/L bit flipped, ff:fe inserted. */
export function eui64(mac: MacAddress): Uint8Array {
  return Uint8Array.from([mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]);
}

/** fe80::/64 with the MAC's modified EUI-64 identifier (RFC 4862 §5.3). */
export function linkLocalFromMac(mac: MacAddress): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a.set(eui64(mac), 8);
  return a;
}

/** The first `prefix` bits of `a`, the rest zero. */
export function ipv6PrefixOf(a: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(16);
  const full = prefix >>> 3;
  out.set(a.subarray(0, full));
  const rem = prefix & 7;
  if (rem !== 0 && full < 16) out[full] = a[full] & ((0xff << (8 - rem)) & 0xff);
  return out;
}

/** Do `a` and `b` share their first `prefix` bits? */
export function ipv6SamePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const full = prefix >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rem = prefix & 7;
  if (rem === 0) return true;
  const m = (0xff << (8 - rem)) & 0xff;
  return (a[full] & m) === (b[full] & m);
}

/** Bits `a` and `b` share from the left (RFC 6724 CommonPrefixLen). */
export function ipv6CommonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}
