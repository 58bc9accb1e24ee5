/**
 * The IPv6 routing table: longest-prefix match, then the lowest metric, then insertion
 * order. On-link routes come from interface addresses and from RA prefixes with the L
 * flag; each IPv6 interface has fe80::/64 and ff00::/8 on-link (as Linux's table does);
 * default routes come from `addRoute` or from RAs (the default router list, RFC 4861 §6.3.4).
 */
import { formatIpv6, parseIpv6 } from '../wire/address.ts';
import { ipv6Equals, ipv6PrefixOf, ipv6SamePrefix } from '../wire/ipv6-address.ts';

export interface Ipv6Route6 {
  /** The network (masked). */
  readonly destination: Uint8Array;
  readonly prefix: number;
  /** Next hop; undefined on-link. */
  readonly gateway: Uint8Array | undefined;
  readonly interface: string;
  readonly metric: number;
  /** 'redirect': a host route a Redirect (RFC 4861 §8.3) put in place of the destination cache. */
  readonly origin: 'connected' | 'static' | 'ra' | 'kernel' | 'redirect';
}

/** Parses 'fd00::/64' (a bare address is /128; 'default' and '::/0' are the default route). */
export function parseCidr6(text: string): { address: Uint8Array; prefix: number } | undefined {
  if (text === 'default') return { address: new Uint8Array(16), prefix: 0 };
  const slash = text.indexOf('/');
  const a = parseIpv6(slash < 0 ? text : text.slice(0, slash));
  if (a === undefined) return undefined;
  if (slash < 0) return { address: a, prefix: 128 };
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > 128) return undefined;
  return { address: a, prefix: Number(p) };
}

export class Ipv6RouteTable {
  readonly routes: Ipv6Route6[] = [];

  add(r: Ipv6Route6): Ipv6Route6 {
    const route = { ...r, destination: ipv6PrefixOf(r.destination, r.prefix) };
    // Same destination, interface and gateway: replaced (an RA refreshing its route).
    this.remove((x) => this.#same(x, route));
    let i = 0;
    while (
      i < this.routes.length &&
      (this.routes[i].prefix > route.prefix ||
        (this.routes[i].prefix === route.prefix && this.routes[i].metric <= route.metric))
    )
      i++;
    this.routes.splice(i, 0, route);
    return route;
  }

  remove(pred: (r: Ipv6Route6) => boolean): number {
    let n = 0;
    for (let i = this.routes.length - 1; i >= 0; i--) {
      if (pred(this.routes[i])) {
        this.routes.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  /** The best route to `dst` among those `filter` accepts. */
  lookup(dst: Uint8Array, filter?: (r: Ipv6Route6) => boolean): Ipv6Route6 | undefined {
    for (const r of this.routes) {
      if (ipv6SamePrefix(dst, r.destination, r.prefix) && (filter === undefined || filter(r))) return r;
    }
    return undefined;
  }

  #same(a: Ipv6Route6, b: Ipv6Route6): boolean {
    return (
      a.prefix === b.prefix &&
      a.interface === b.interface &&
      ipv6Equals(a.destination, b.destination) &&
      (a.gateway === undefined
        ? b.gateway === undefined
        : b.gateway !== undefined && ipv6Equals(a.gateway, b.gateway))
    );
  }
}

export function formatRoute6(r: Ipv6Route6): string {
  const via = r.gateway ? ` via ${formatIpv6(r.gateway)}` : '';
  return `${formatIpv6(r.destination)}/${r.prefix}${via} dev ${r.interface} metric ${r.metric}`;
}
