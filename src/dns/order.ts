/**
 * Destination address ordering for getaddrinfo (RFC 6724 §6), the rules that decide on a
 * host without mobility or tunnels:
 *
 *   rule 1  avoid unusable destinations (no source address: no route)
 *   rule 2  prefer matching scope (Scope(D) = Scope(Source(D)))
 *   rule 5  prefer matching label (the policy table's Label)
 *   rule 6  prefer higher precedence (the policy table's Precedence)
 *   rule 8  prefer smaller scope
 *   rule 9  use the longest matching prefix (same family only)
 *   rule 10 otherwise leave the order unchanged
 *
 * Rules 3 (deprecated sources), 4 (home addresses) and 7 (native transport) need state a
 * host here does not have; they never decide. IPv4 addresses are compared as IPv4-mapped
 * IPv6 addresses (§3.2), with the scopes of §3.2 (127/8 and 169.254/16 link-local).
 */
import type { IpAddress } from '../wire/address.ts';
import { ipv6CommonPrefixLength } from '../wire/ipv6-address.ts';

/** RFC 6724 §2.1, the default policy table: prefix, precedence, label. */
const POLICY: readonly (readonly [prefix: Uint8Array, len: number, precedence: number, label: number])[] = [
  [v6([0, 0, 0, 0, 0, 0, 0, 1]), 128, 50, 0], // ::1/128
  [v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96, 35, 4], // ::ffff:0:0/96 (IPv4)
  [v6([0, 0, 0, 0, 0, 0, 0, 0]), 96, 1, 3], // ::/96 (IPv4-compatible, deprecated)
  [v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, 5, 5], // 2001::/32 (Teredo)
  [v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16, 30, 2], // 2002::/16 (6to4)
  [v6([0x3ffe, 0, 0, 0, 0, 0, 0, 0]), 16, 1, 12], // 3ffe::/16 (6bone)
  [v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10, 1, 11], // fec0::/10 (site-local)
  [v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, 3, 13], // fc00::/7 (ULA)
  [v6([0, 0, 0, 0, 0, 0, 0, 0]), 0, 40, 1], // ::/0
];

function v6(words: readonly number[]): Uint8Array {
  const a = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    a[2 * i] = words[i] >> 8;
    a[2 * i + 1] = words[i] & 0xff;
  }
  return a;
}

/** The address as 16 bytes: IPv4 as ::ffff:a.b.c.d (RFC 6724 §3.2). */
export function asIpv6(a: IpAddress): Uint8Array {
  if (a.family === 6) return a.v6;
  const m = new Uint8Array(16);
  m[10] = 0xff;
  m[11] = 0xff;
  m[12] = a.v4 >>> 24;
  m[13] = (a.v4 >>> 16) & 0xff;
  m[14] = (a.v4 >>> 8) & 0xff;
  m[15] = a.v4 & 0xff;
  return m;
}

/** Precedence and label of an address (the longest matching policy prefix). */
export function policyOf(a: IpAddress): { precedence: number; label: number } {
  const b = asIpv6(a);
  let best = POLICY[POLICY.length - 1];
  let bestLen = -1;
  for (const p of POLICY) {
    if (p[1] > bestLen && ipv6CommonPrefixLength(b, p[0]) >= p[1]) {
      best = p;
      bestLen = p[1];
    }
  }
  return { precedence: best[2], label: best[3] };
}

/** RFC 4291 §2.7 / RFC 6724 §3.1-3.2 scope values: 2 link-local, 5 site-local, 14 global. */
export function scopeOf(a: IpAddress): number {
  if (a.family === 4) {
    const top = a.v4 >>> 24;
    // §3.2: loopback and autoconfiguration (169.254/16) addresses are link-local.
    if (top === 127 || a.v4 >>> 16 === 0xa9fe) return 2;
    return 14;
  }
  const b = a.v6;
  if (b[0] === 0xff) return b[1] & 0x0f;
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 2;
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 5;
  // §3.1: the loopback address is treated as link-local in scope.
  if (b.every((x, i) => (i === 15 ? x === 1 : x === 0))) return 2;
  return 14;
}

/**
 * Sorts `dsts` (stable) by RFC 6724 §6. `sourceFor` is the source address the host
 * would use to reach a destination (undefined: no route, the destination is unusable).
 */
export function sortDestinations<T>(
  dsts: readonly T[],
  addressOf: (d: T) => IpAddress,
  sourceFor: (a: IpAddress) => IpAddress | undefined,
): T[] {
  const info = dsts.map((d, index) => {
    const dst = addressOf(d);
    const src = sourceFor(dst);
    const pd = policyOf(dst);
    return {
      d,
      index,
      dst,
      src,
      scope: scopeOf(dst),
      srcScope: src === undefined ? -1 : scopeOf(src),
      precedence: pd.precedence,
      labelMatch: src !== undefined && policyOf(src).label === pd.label,
      // Rule 9 counts the prefix within the source's subnet: /64 for IPv6 (as glibc),
      // the IPv4 part for IPv4.
      prefix:
        src === undefined
          ? 0
          : dst.family === 6
            ? Math.min(64, ipv6CommonPrefixLength(asIpv6(src), asIpv6(dst)))
            : ipv6CommonPrefixLength(asIpv6(src), asIpv6(dst)),
    };
  });
  info.sort((a, b) => {
    // Rule 1: avoid unusable destinations.
    if ((a.src === undefined) !== (b.src === undefined)) return a.src === undefined ? 1 : -1;
    if (a.src !== undefined && b.src !== undefined) {
      // Rule 2: prefer matching scope.
      const ma = a.scope === a.srcScope;
      const mb = b.scope === b.srcScope;
      if (ma !== mb) return ma ? -1 : 1;
      // Rule 5: prefer matching label.
      if (a.labelMatch !== b.labelMatch) return a.labelMatch ? -1 : 1;
    }
    // Rule 6: prefer higher precedence.
    if (a.precedence !== b.precedence) return b.precedence - a.precedence;
    // Rule 8: prefer smaller scope.
    if (a.scope !== b.scope) return a.scope - b.scope;
    // Rule 9: the longest matching prefix, between destinations of one family.
    if (a.dst.family === b.dst.family && a.prefix !== b.prefix) return b.prefix - a.prefix;
    // Rule 10: leave the order unchanged.
    return a.index - b.index;
  });
  return info.map((x) => x.d);
}
