/**
 * The IPv4 routing table: longest-prefix match (RFC 1812 §5.2.4.3 "Basic Match" then
 * "Longest Match"), ties broken by the lowest metric, then by insertion order.
 *
 * On-link routes (no gateway) come from interface addresses; a default route is
 * `0.0.0.0/0` via a gateway. The table is small in practice (a host has a handful
 * of routes), so lookup is a linear scan over routes kept sorted by prefix length
 * (longest first) and metric: the first match is the answer.
 */
import { formatIpv4, type Ipv4Address, parseIpv4, prefixMask } from '../wire/address.ts';

export interface Route {
  /** Network address (already masked). */
  readonly destination: Ipv4Address;
  readonly prefix: number;
  /** Next hop; undefined for an on-link (directly connected) route. */
  readonly gateway: Ipv4Address | undefined;
  /** Interface name the route leaves by. */
  readonly interface: string;
  readonly metric: number;
  /** Preferred source address (set for on-link routes made from an interface address). */
  readonly source: Ipv4Address | undefined;
  /** Where the route came from: 'connected' (from an address), 'static' (addRoute). */
  readonly origin: 'connected' | 'static';
}

/** A route as written by a user: text CIDR and addresses, or numbers. */
export interface RouteSpec {
  /** CIDR text ('10.0.0.0/8', '0.0.0.0/0', 'default') or {address, prefix}. */
  readonly destination: string | { readonly address: Ipv4Address; readonly prefix: number };
  readonly gateway?: string | Ipv4Address;
  readonly interface?: string;
  readonly metric?: number;
  readonly source?: string | Ipv4Address;
}

/** Parses 'a.b.c.d/n' (or a bare address as /32, or 'default'). Undefined when malformed. */
export function parseCidr(text: string): { address: Ipv4Address; prefix: number } | undefined {
  if (text === 'default') return { address: 0, prefix: 0 };
  const slash = text.indexOf('/');
  const addr = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (addr === undefined) return undefined;
  if (slash < 0) return { address: addr, prefix: 32 };
  const p = text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > 32) return undefined;
  return { address: addr, prefix };
}

export function formatRoute(r: Route): string {
  const via = r.gateway === undefined ? 'scope link' : `via ${formatIpv4(r.gateway)}`;
  const src = r.source === undefined ? '' : ` src ${formatIpv4(r.source)}`;
  return `${formatIpv4(r.destination)}/${r.prefix} ${via} dev ${r.interface} metric ${r.metric}${src}`;
}

export class RouteTable {
  #routes: Route[] = [];

  get routes(): readonly Route[] {
    return this.#routes;
  }

  add(route: Route): void {
    const masked = { ...route, destination: (route.destination & prefixMask(route.prefix)) >>> 0 };
    // Replace an identical destination/prefix/gateway/interface route (re-adding is idempotent).
    this.#routes = this.#routes.filter(
      (r) =>
        !(
          r.destination === masked.destination &&
          r.prefix === masked.prefix &&
          r.gateway === masked.gateway &&
          r.interface === masked.interface
        ),
    );
    this.#routes.push(masked);
    // Stable sort: longest prefix first, then lowest metric, then insertion order.
    this.#routes.sort((a, b) => b.prefix - a.prefix || a.metric - b.metric);
  }

  /** Removes routes matching the predicate; returns how many were removed. */
  remove(pred: (r: Route) => boolean): number {
    const before = this.#routes.length;
    this.#routes = this.#routes.filter((r) => !pred(r));
    return before - this.#routes.length;
  }

  /**
   * The best route to `dst`, or undefined (the sender gets ENETUNREACH; a router
   * sends ICMP destination unreachable, net unreachable). `usable` filters out
   * routes whose interface is down.
   */
  lookup(dst: Ipv4Address, usable?: (r: Route) => boolean): Route | undefined {
    for (const r of this.#routes) {
      if ((dst & prefixMask(r.prefix)) >>> 0 !== r.destination) continue;
      if (usable && !usable(r)) continue;
      return r;
    }
    return undefined;
  }
}
