/**
 * Static multicast routes (what Linux's smcroute installs as MFC entries): a router stack
 * forwards a group's datagrams that arrive on one interface out of others only when a route
 * says so. Without routes (the default) a router forwards no multicast at all. There is no
 * multicast routing protocol (PIM) and no querier here: the routes are configuration.
 *
 * One design for both families: addresses as bytes (4 or 16), groups as prefixes.
 */
import { parseIpv4, parseIpv6 } from '../wire/address.ts';
import { ipv4Bytes } from './igmp.ts';

/** `StackConfig.multicastRoutes`: one static route. */
export interface MulticastRouteConfig {
  /** The group: an address ('239.1.2.3', 'ff05::1:3') or a prefix ('239.1.0.0/16', 'ff05::/16'). */
  group: string;
  /** Only datagrams from this source address (default: any source). */
  source?: string;
  /** The interface the datagrams arrive on (RFC 1812 §5.2.1's reverse-path check, by configuration). */
  from: string;
  /** The interfaces they are forwarded out of. */
  to: readonly string[];
}

interface Route {
  readonly group: Uint8Array;
  readonly prefix: number;
  readonly source: Uint8Array | undefined;
  readonly from: string;
  readonly to: readonly string[];
}

const bad = (why: string): Error =>
  Object.assign(new TypeError(`multicastRoutes: ${why}`), { code: 'ERR_INVALID_ARG_VALUE' });

function parseAddress(text: string, family: 4 | 6): Uint8Array | undefined {
  if (family === 6) return text.includes(':') ? parseIpv6(text) : undefined;
  const a = parseIpv4(text);
  return a === undefined ? undefined : ipv4Bytes(a);
}

/** Do the first `bits` bits of `a` and `b` agree? */
function prefixMatch(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  let i = 0;
  for (; bits >= 8; i++, bits -= 8) if (a[i] !== b[i]) return false;
  return bits === 0 || ((a[i] ^ b[i]) & (0xff << (8 - bits)) & 0xff) === 0;
}

export class MulticastRoutes {
  readonly #routes: Route[] = [];

  /**
   * The routes of one family from `config` (entries of the other family are skipped). Throws
   * a TypeError with code ERR_INVALID_ARG_VALUE for an entry that is not a multicast group, a
   * bad prefix or source, or no interface.
   */
  constructor(config: readonly MulticastRouteConfig[] | undefined, family: 4 | 6) {
    for (const r of config ?? []) {
      const slash = r.group.indexOf('/');
      const addr = slash < 0 ? r.group : r.group.slice(0, slash);
      if ((family === 6) !== addr.includes(':')) continue;
      const group = parseAddress(addr, family);
      const max = family === 4 ? 32 : 128;
      const prefix = slash < 0 ? max : Number(r.group.slice(slash + 1));
      if (group === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
        throw bad(`bad group '${r.group}'`);
      // 224.0.0.0/4 (RFC 5771) and ff00::/8 (RFC 4291 §2.7) are the multicast ranges.
      const multicast = family === 4 ? (group[0] & 0xf0) === 0xe0 : group[0] === 0xff;
      if (!multicast || prefix < (family === 4 ? 4 : 8)) throw bad(`'${r.group}' is not a multicast group`);
      const source = r.source === undefined ? undefined : parseAddress(r.source, family);
      if (r.source !== undefined && source === undefined) throw bad(`bad source '${r.source}'`);
      if (!r.from || r.to.length === 0) throw bad(`route for ${r.group} needs 'from' and 'to' interfaces`);
      this.#routes.push({ group, prefix, source, from: r.from, to: [...r.to] });
    }
  }

  get size(): number {
    return this.#routes.length;
  }

  /** Does some route take datagrams arriving on `iface`? (Its link then receives every group, as Linux's ALLMULTI.) */
  routesFrom(iface: string): boolean {
    for (const r of this.#routes) if (r.from === iface) return true;
    return false;
  }

  /**
   * The interfaces a datagram for `group` from `source` that arrived on `from` goes out of
   * (never `from` itself), in route order without repeats; empty when no route matches.
   */
  outputs(from: string, group: Uint8Array, source: Uint8Array): string[] {
    const out: string[] = [];
    for (const r of this.#routes) {
      if (r.from !== from || !prefixMatch(group, r.group, r.prefix)) continue;
      if (r.source !== undefined && !prefixMatch(source, r.source, r.source.length * 8)) continue;
      for (const name of r.to) if (name !== from && !out.includes(name)) out.push(name);
    }
    return out;
  }
}
