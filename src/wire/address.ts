/**
 * Addresses. IPv4 addresses are unsigned 32-bit numbers (host order value of the
 * network-order bytes) so the hot path compares and hashes them without objects.
 * `IpAddress` tags the family so transport demux and sockets are dual-stack ready.
 */
export type Ipv4Address = number;

/** An IP address of either family. IPv6 is carried as 16 bytes. */
export type IpAddress =
  | { readonly family: 4; readonly v4: Ipv4Address }
  | {
      readonly family: 6;
      readonly v6: Uint8Array;
      /**
       * The zone of a link-local (or link-scope multicast) address (RFC 4007 §6): the
       * interface index, as in sin6_scope_id. Absent or 0: no zone given.
       */
      readonly scope?: number;
    };

export const IPV4_ANY: Ipv4Address = 0;
export const IPV4_BROADCAST: Ipv4Address = 0xffffffff;

/** Parses dotted-quad text; returns undefined for anything else. */
export function parseIpv4(text: string): Ipv4Address | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function formatIpv4(a: Ipv4Address): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Builds an address from its four octets. */
export function ipv4(a: number, b: number, c: number, d: number): Ipv4Address {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** The netmask for a prefix length 0..32. */
export function prefixMask(prefix: number): Ipv4Address {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function sameSubnet(a: Ipv4Address, b: Ipv4Address, prefix: number): boolean {
  const m = prefixMask(prefix);
  return (a & m) >>> 0 === (b & m) >>> 0;
}

export function isIpv4Multicast(a: Ipv4Address): boolean {
  return a >>> 28 === 0xe;
}

export function isIpv4Loopback(a: Ipv4Address): boolean {
  return a >>> 24 === 127;
}

/** Ethernet MAC addresses are 6-byte arrays. */
export type MacAddress = Uint8Array;

export const MAC_BROADCAST: MacAddress = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const MAC_ZERO: MacAddress = new Uint8Array(6);

export function parseMac(text: string): MacAddress | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return new Uint8Array(parts.map((p) => Number.parseInt(p, 16)));
}

export function formatMac(m: MacAddress): string {
  return Array.from(m.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macEquals(a: MacAddress, b: MacAddress): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5];
}

export function isMacBroadcast(m: MacAddress): boolean {
  return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) === 0xff;
}

/** Group bit (I/G) of the first octet: broadcast and multicast. */
export function isMacMulticast(m: MacAddress): boolean {
  return (m[0] & 1) === 1;
}

/** A locally administered unicast MAC (02:xx:..) from 32 bits of entropy or an index. */
export function localMac(n: number): MacAddress {
  return new Uint8Array([0x02, 0x00, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Parses IPv6 text (RFC 4291 §2.2 forms, including `::` and embedded IPv4). */
export function parseIpv6(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  let tail4: Ipv4Address | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    tail4 = parseIpv4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...new Array(8 - total).fill('0'), ...tail];
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return undefined;
    const v = Number.parseInt(all[i], 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail4 !== undefined) {
    out[12] = tail4 >>> 24;
    out[13] = (tail4 >>> 16) & 0xff;
    out[14] = (tail4 >>> 8) & 0xff;
    out[15] = tail4 & 0xff;
  }
  return out;
}

/** Formats IPv6 per RFC 5952 (lower case, longest zero run compressed). */
export function formatIpv6(a: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((a[2 * i] << 8) | a[2 * i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Two addresses are the same (family and bits). */
export function ipEquals(a: IpAddress, b: IpAddress): boolean {
  if (a === b) return true;
  if (a.family === 4) return b.family === 4 && a.v4 === b.v4;
  if (b.family !== 6) return false;
  for (let i = 0; i < 16; i++) if (a.v6[i] !== b.v6[i]) return false;
  return true;
}

/** The unspecified address (0.0.0.0, ::): a wildcard binding, "no source chosen". */
export function isUnspecified(a: IpAddress): boolean {
  if (a.family === 4) return a.v4 === 0;
  for (let i = 0; i < 16; i++) if (a.v6[i] !== 0) return false;
  return true;
}

export function formatIp(a: IpAddress): string {
  return a.family === 4 ? formatIpv4(a.v4) : formatIpv6(a.v6);
}

export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, v4 };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { family: 6, v6 };
  return undefined;
}
