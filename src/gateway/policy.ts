/**
 * Which destinations a guest may reach through the gateway: an allow list and a deny list
 * of CIDR prefixes of either family. Deny wins; an empty allow list allows everything not
 * denied, and a non-empty one allows only its prefixes (so an IPv4-only allow list lets no
 * IPv6 out). The default deny list holds the host's link-local blocks, 169.254.0.0/16
 * (RFC 3927) and fe80::/10 (RFC 4291 §2.5.6), where cloud metadata services
 * (169.254.169.254) and the host's own link-local addresses live, and the IPv6 metadata
 * address fd00:ec2::254 (Amazon EC2's).
 *
 * Some destinations are never reached whatever the lists say: multicast and broadcast
 * (the gateway terminates unicast flows only), the unspecified and loopback addresses (the
 * host's loopback is reached through the gateway's own address), and IPv4-mapped IPv6
 * addresses (RFC 4291 §2.5.5.2: not for the wire; a host socket would turn them into IPv4
 * and so step around the IPv4 rules).
 */
import {
  formatIp,
  type IpAddress,
  isIpv4Multicast,
  parseIpv4,
  parseIpv6,
  prefixMask,
} from '../wire/address.ts';
import { ipv6SamePrefix, isIpv4Mapped, isIpv6Multicast, isIpv6Unspecified } from '../wire/ipv6-address.ts';

export interface Cidr {
  readonly address: IpAddress;
  readonly prefix: number;
}

export const DEFAULT_DENY: readonly string[] = ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254'];

/** '10.0.0.0/8', '2001:db8::/32' or a bare address (/32, /128); undefined when malformed. */
export function parseCidrText(text: string): Cidr | undefined {
  const [a, p, extra] = text.split('/');
  if (extra !== undefined || (p !== undefined && !/^\d+$/.test(p))) return undefined;
  const v4 = parseIpv4(a ?? '');
  if (v4 !== undefined) {
    const prefix = p === undefined ? 32 : Number(p);
    if (prefix > 32) return undefined;
    return { address: { family: 4, v4: (v4 & prefixMask(prefix)) >>> 0 }, prefix };
  }
  const v6 = (a ?? '').includes(':') ? parseIpv6(a ?? '') : undefined;
  if (v6 === undefined) return undefined;
  const prefix = p === undefined ? 128 : Number(p);
  if (prefix > 128) return undefined;
  const masked = v6.slice();
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    masked[i] &= (0xff00 >> keep) & 0xff;
  }
  return { address: { family: 6, v6: masked }, prefix };
}

export function cidrContains(c: Cidr, a: IpAddress): boolean {
  if (c.address.family === 4) return a.family === 4 && (a.v4 & prefixMask(c.prefix)) >>> 0 === c.address.v4;
  return a.family === 6 && ipv6SamePrefix(c.address.v6, a.v6, c.prefix);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.address)}/${c.prefix}`;
}

/** Destinations no list can open (see the file comment). */
function neverReached(a: IpAddress): boolean {
  if (a.family === 4)
    return a.v4 === 0 || a.v4 === 0xffffffff || isIpv4Multicast(a.v4) || a.v4 >>> 24 === 127;
  const loopback = a.v6.every((b, i) => b === (i === 15 ? 1 : 0));
  return isIpv6Unspecified(a.v6) || loopback || isIpv6Multicast(a.v6) || isIpv4Mapped(a.v6);
}

export class DestinationPolicy {
  readonly allow: readonly Cidr[];
  readonly deny: readonly Cidr[];

  /** Throws an Error with code EINVAL for a malformed prefix. */
  constructor(opts: { allow?: readonly string[]; deny?: readonly string[] } = {}) {
    const parse = (list: readonly string[]): Cidr[] =>
      list.map((t) => {
        const c = parseCidrText(t);
        if (!c) throw Object.assign(new Error(`EINVAL: bad address prefix '${t}'`), { code: 'EINVAL' });
        return c;
      });
    this.allow = parse(opts.allow ?? []);
    this.deny = parse(opts.deny ?? DEFAULT_DENY);
  }

  /** Whether the guest may reach `a` (the destination before any rewriting). */
  permits(a: IpAddress): boolean {
    if (neverReached(a)) return false;
    if (this.deny.some((c) => cidrContains(c, a))) return false;
    return this.allow.length === 0 || this.allow.some((c) => cidrContains(c, a));
  }
}
