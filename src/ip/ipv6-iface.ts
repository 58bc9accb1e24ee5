/**
 * The IPv6 state of one interface: its addresses (with their RFC 4862 states), the
 * multicast groups it listens to, its neighbour cache (NDP), the link parameters an RA
 * may set (MTU, hop limit), and the router and prefix lists of a host (RFC 4861 §5.1),
 * each bounded.
 */
import type { Instant } from '../time/instant.ts';
import { formatIpv6 } from '../wire/address.ts';
import { ipv6Equals, isIpv6LinkLocal } from '../wire/ipv6-address.ts';
import type { NetInterface, PendingPacket } from './interface.ts';
import { MembershipTable } from './membership.ts';
import type { NeighborCache } from './neighbor.ts';

/**
 * RFC 4862 §2: tentative while DAD runs (not used as a source, no traffic accepted
 * but NDP for it), preferred, deprecated (valid but past its preferred lifetime),
 * duplicate (DAD found it in use: never used).
 */
export type Ipv6AddressState = 'tentative' | 'preferred' | 'deprecated' | 'duplicate';

export interface Ipv6IfAddress {
  readonly address: Uint8Array;
  readonly key: string;
  readonly prefix: number;
  state: Ipv6AddressState;
  readonly origin: 'static' | 'link-local' | 'slaac' | 'loopback';
  /** SLAAC lifetimes (absent: forever). */
  validUntil?: Instant;
  preferredUntil?: Instant;
}

/** An entry of the default router list (RFC 4861 §6.3.4). */
export interface DefaultRouter {
  readonly address: Uint8Array;
  expires: Instant;
}

/** An entry of the prefix list (on-link prefixes, RFC 4861 §6.3.4). */
export interface OnLinkPrefix {
  readonly prefix: Uint8Array;
  readonly length: number;
  expires: Instant;
}

export class Ipv6Interface {
  readonly iface: NetInterface;
  readonly addresses: Ipv6IfAddress[] = [];
  /** Multicast groups joined, with their users and source filters (src/ip/membership.ts). */
  readonly groups = new MembershipTable();
  /** NDP's neighbour cache; undefined on loopback and raw-IP links. */
  ndp: NeighborCache<string, PendingPacket> | undefined;
  /** Link MTU for IPv6 (an RA's MTU option may lower it). */
  mtu: number;
  /** Cur Hop Limit from an RA; undefined: the stack's default. */
  hopLimit: number | undefined;
  readonly routers: DefaultRouter[] = [];
  readonly prefixes: OnLinkPrefix[] = [];
  /** Take configuration from RAs and solicit routers (a host). */
  acceptRa = true;
  /** A router stack's advertised prefixes (empty: no RAs sent). */
  advertise: { prefix: Uint8Array; length: number }[] = [];

  constructor(iface: NetInterface) {
    this.iface = iface;
    this.mtu = iface.mtu;
  }

  find(a: Uint8Array): Ipv6IfAddress | undefined {
    for (const x of this.addresses) if (ipv6Equals(x.address, a)) return x;
    return undefined;
  }

  /** Is `a` an address of this interface usable now (not tentative, not duplicate)? */
  hasUsable(a: Uint8Array): boolean {
    const x = this.find(a);
    return x !== undefined && (x.state === 'preferred' || x.state === 'deprecated');
  }

  /** The link-local address usable now, if any. */
  get linkLocal(): Uint8Array | undefined {
    for (const x of this.addresses)
      if (x.state === 'preferred' && isIpv6LinkLocal(x.address)) return x.address;
    return undefined;
  }

  hasGroup(g: Uint8Array): boolean {
    return this.groups.has(g);
  }

  describe(): string[] {
    return this.addresses.map((x) => `${formatIpv6(x.address)}/${x.prefix} ${x.state} ${x.origin}`);
  }
}
