/**
 * The datagram (UDP) socket implementation on a sockstack `Stack`: the
 * `DatagramImpl` of backend.ts over a `UdpEndpoint`. The front `Socket` has already
 * validated arguments and state; errors thrown here are UdpErrors (a `code`), which
 * the front maps with `toSocketError`.
 */

import { isMulticast } from '../ip/ip-address.ts';
import type { UdpEndpoint } from '../udp/udp.ts';
import { UdpError } from '../udp/udp.ts';
import { formatIp, type IpAddress, ipEquals, isUnspecified, parseIpv4 } from '../wire/address.ts';
import type { SendControl } from './ancillary.ts';
import type { Datagram, DatagramImpl, OptionValue, SockAddr } from './backend.ts';
import {
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_DROP_SOURCE_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_TCLASS,
  IPV6_V6ONLY,
  SO_BROADCAST,
  SO_ERROR,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
} from './constants.ts';
import { ERRNO, SocketError } from './errno.ts';
import { ipToSockAddr, type ScopeZones, sockAddrToIp } from './inet-address.ts';
import { Waiters } from './waiters.ts';

export { IP_TTL } from './constants.ts';

const IPV6_ANY: IpAddress = { family: 6, v6: new Uint8Array(16) };

/**
 * The host's multicast memberships, as datagram sockets change them (a `Stack` gives
 * one), in both families on one design (src/ip/membership.ts): each socket is an owner
 * of its memberships on an interface, any-source or source-specific, and the interface's
 * IGMPv3 / MLDv2 reports follow the changes.
 */
export interface MulticastHost {
  /**
   * The interface index a membership of `group` uses: `ifindex` if that interface exists,
   * else the one holding IPv4 address `addr` (non-zero), else the one the group routes
   * through (Linux ip_mc_find_dev). 0: none (ENODEV).
   */
  interfaceFor(group: IpAddress, ifindex: number, addr: number): number;
  /** The index of the interface holding IPv4 address `addr` (0: none). */
  interfaceOf4(addr: number): number;
  /** The name of interface `ifindex` (undefined: none). */
  ifname(ifindex: number): string | undefined;
  /** `owner` joins `group` on `ifindex`: any source, or only `sources`. False: the table is full. */
  join(group: IpAddress, ifindex: number, owner: unknown, sources?: readonly IpAddress[]): boolean;
  /** Undoes a `join` (the same `sources`, or undefined for an any-source one). */
  leave(group: IpAddress, ifindex: number, owner: unknown, sources?: readonly IpAddress[]): void;
}

/** One membership of a socket: any source (`sources` undefined) or only those listed (INCLUDE). */
interface SocketMembership {
  readonly group: IpAddress;
  readonly ifindex: number;
  sources: Map<string, IpAddress> | undefined;
}

/** Most source-specific sources per membership (Linux net.ipv4.igmp_max_msf). */
const MAX_SOURCES = 10;
/**
 * Most memberships per socket: Linux net.ipv4.igmp_max_memberships (20) for IPv4. IPv6 has no
 * such sysctl (the socket's option memory bounds it); the same bound, raised, stands in for it.
 */
const MAX_MEMBERSHIPS = 20;
const MAX_MEMBERSHIPS6 = 256;

const v4At = (b: Uint8Array, at: number): number =>
  ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
/** An int field of a struct as the host writes it (x86 and ARM: little-endian; see #membership6). */
const intAt = (b: Uint8Array, at: number): number =>
  new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0, true);

/** A socket address's IP address (the family's unspecified address for the wildcard). */
function ipOf(addr: SockAddr, family: 2 | 10, zones?: ScopeZones): IpAddress {
  if (addr.family !== family) throw new UdpError('EINVAL', 'address of another family');
  if (addr.family === 2) {
    const a = parseIpv4(addr.host);
    if (a === undefined) throw new UdpError('EINVAL', `bad IPv4 address ${addr.host}`);
    return { family: 4, v4: a };
  }
  return sockAddrToIp(addr, false, zones) ?? IPV6_ANY;
}

/** The socket address of an IP address and port, written for the socket's family. */
function sockAddr(a: IpAddress, port: number, family: 2 | 10): SockAddr {
  if (family === 2) return { family: 2, host: a.family === 4 ? formatIp(a) : '0.0.0.0', port };
  return ipToSockAddr(isUnspecified(a) ? undefined : a, port, 10);
}

export class StackDatagramSocket implements DatagramImpl {
  readonly kind = 'dgram' as const;
  readonly #ep: UdpEndpoint;
  readonly #waiters = new Waiters();
  readonly family: 2 | 10;
  readonly #zones: ScopeZones | undefined;
  readonly #multicast: MulticastHost | undefined;
  /** This socket's group memberships ('ifindex group' -> membership), dropped on close. */
  readonly #groups = new Map<string, SocketMembership>();
  /** IPV6_MULTICAST_IF's index (0: unset) and IP_MULTICAST_IF's address (0: unset). */
  #mcIf6 = 0;
  #mcAddr4 = 0;

  constructor(ep: UdpEndpoint, family: 2 | 10 = 2, zones?: ScopeZones, multicast?: MulticastHost) {
    this.#ep = ep;
    this.family = family;
    this.#zones = zones;
    this.#multicast = multicast;
    ep.wildcardFamily = family === 2 ? 4 : undefined;
    ep.onReadable = () => this.#waiters.wake();
  }

  /** The underlying endpoint (tests, diagnostics). */
  get endpoint(): UdpEndpoint {
    return this.#ep;
  }

  async bind(addr: SockAddr): Promise<void> {
    this.#ep.bind(ipOf(addr, this.family, this.#zones), addr.family === 1 ? 0 : addr.port);
  }

  getsockname(): SockAddr {
    const l = this.#ep.local;
    return sockAddr(l.address, l.port, this.family);
  }

  getpeername(): SockAddr | undefined {
    const r = this.#ep.remote;
    return r === undefined ? undefined : sockAddr(r.address, r.port, this.family);
  }

  setOption(level: number, name: number, value: OptionValue): void {
    const n = typeof value === 'number' ? value : 0;
    const ep = this.#ep;
    if (level === SOL_SOCKET) {
      if (name === SO_REUSEADDR) ep.reuseAddr = n !== 0;
      else if (name === SO_REUSEPORT) ep.reusePort = n !== 0;
      else if (name === SO_BROADCAST) ep.broadcast = n !== 0;
      // Linux doubles the requested size for bookkeeping overhead; we keep the data bound as asked.
      else if (name === SO_RCVBUF) ep.rcvbuf = Math.max(256, n);
      return;
    }
    if (level === IPPROTO_IPV6 && (name === IPV6_JOIN_GROUP || name === IPV6_LEAVE_GROUP)) {
      this.#membership6(name === IPV6_JOIN_GROUP, value);
      return;
    }
    if (level === IPPROTO_IP && (name === IP_ADD_MEMBERSHIP || name === IP_DROP_MEMBERSHIP)) {
      this.#membership4(name === IP_ADD_MEMBERSHIP, value);
      return;
    }
    if (level === IPPROTO_IP && (name === IP_ADD_SOURCE_MEMBERSHIP || name === IP_DROP_SOURCE_MEMBERSHIP)) {
      this.#sourceMembership4(name === IP_ADD_SOURCE_MEMBERSHIP, value);
      return;
    }
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_HOPS) {
      ep.multicastTtl = n;
      return;
    }
    if (level === IPPROTO_IP && name === IP_MULTICAST_TTL) {
      ep.multicastTtl4 = n;
      return;
    }
    if (level === IPPROTO_IP && name === IP_MULTICAST_LOOP) {
      ep.multicastLoop4 = n !== 0;
      return;
    }
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_LOOP) {
      ep.multicastLoop6 = n !== 0;
      return;
    }
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_IF) {
      // Linux: 0 clears it; an index with no interface is ENODEV.
      const ifname = n === 0 ? undefined : this.#multicast?.ifname(n);
      if (n !== 0 && ifname === undefined) throw new SocketError('ENODEV', { detail: `no interface ${n}` });
      ep.multicastIf6 = ifname;
      this.#mcIf6 = n;
      return;
    }
    if (level === IPPROTO_IP && name === IP_MULTICAST_IF) {
      this.#multicastIf4(value);
      return;
    }
    if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY && this.family === 10) {
      // Linux (do_ipv6_setsockopt): only before the socket is bound.
      if (ep.local.port !== 0) throw new UdpError('EINVAL', 'IPV6_V6ONLY after bind');
      ep.wildcardFamily = n !== 0 ? 6 : undefined;
      return;
    }
    if (level === IPPROTO_IP && name === IP_TTL) {
      if (n < -1 || n > 255 || n === 0) throw new UdpError('EINVAL', `bad TTL ${n}`);
      ep.ttl = n === -1 ? undefined : n;
    }
    // ip(7) IP_TOS: a datagram socket sends the whole byte, ECN bits too (Linux
    // __ip_sock_set_tos keeps them only for streams). RFC 3542 §6.5 IPV6_TCLASS: -1..255.
    if (level === IPPROTO_IP && name === IP_TOS) ep.tos = n & 0xff;
    if (level === IPPROTO_IPV6 && name === IPV6_TCLASS) {
      if (n < -1 || n > 255) throw new UdpError('EINVAL', `bad traffic class ${n}`);
      ep.tos = Math.max(n, 0);
    }
  }

  /** IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP with a struct ipv6_mreq (group, interface index). */
  #membership6(join: boolean, value: OptionValue): void {
    if (!(value instanceof Uint8Array) || value.length < 20) throw new UdpError('EINVAL', 'struct ipv6_mreq');
    const group: IpAddress = { family: 6, v6: value.slice(0, 16) };
    // Deviation: the index is read little-endian (the native order of the x86 and ARM
    // hosts Python packs it on with struct.pack('@I')).
    const ifindex = intAt(value, 16);
    // Linux ipv6_sock_mc_join: a group that is not multicast is EINVAL.
    if (group.v6[0] !== 0xff) throw new UdpError('EINVAL', 'not a multicast group');
    if (join) this.#join(group, ifindex, 0);
    else this.#drop(group, ifindex, 0);
  }

  /** IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP with a struct ip_mreq (group, address) or ip_mreqn (and an index). */
  #membership4(join: boolean, value: OptionValue): void {
    if (!(value instanceof Uint8Array) || value.length < 8) throw new UdpError('EINVAL', 'struct ip_mreq');
    const group: IpAddress = { family: 4, v4: v4At(value, 0) };
    const addr = v4At(value, 4);
    const ifindex = value.length >= 12 ? intAt(value, 8) : 0;
    // Linux ip_mc_join_group: "if (!ipv4_is_multicast(addr)) return -EINVAL".
    if (!isMulticast(group)) throw new UdpError('EINVAL', 'not a multicast group');
    if (join) this.#join(group, ifindex, addr);
    else this.#drop(group, ifindex, addr);
  }

  /** The interface a membership uses (ENODEV when there is none, as Linux ip_mc_find_dev). */
  #interface(group: IpAddress, ifindex: number, addr: number): number {
    const used = this.#multicast?.interfaceFor(group, ifindex, addr) ?? 0;
    if (used === 0) throw new SocketError('ENODEV', { detail: 'no interface for the group' });
    return used;
  }

  #join(group: IpAddress, ifindex: number, addr: number): void {
    const used = this.#interface(group, ifindex, addr);
    const key = `${used} ${formatIp(group)}`;
    // Linux ip_mc_join_group / ipv6_sock_mc_join: a second join of the same group and interface.
    if (this.#groups.has(key)) throw new UdpError('EADDRINUSE', 'already a member of the group');
    if (this.#count(group.family) >= (group.family === 4 ? MAX_MEMBERSHIPS : MAX_MEMBERSHIPS6))
      throw new UdpError('ENOBUFS', 'too many memberships');
    if (!this.#multicast!.join(group, used, this))
      throw new UdpError('ENOBUFS', 'the interface has too many groups');
    this.#groups.set(key, { group, ifindex: used, sources: undefined });
  }

  #drop(group: IpAddress, ifindex: number, addr: number): void {
    const want = ifindex !== 0 || addr !== 0 ? (this.#multicast?.interfaceFor(group, ifindex, addr) ?? 0) : 0;
    const found = [...this.#groups.entries()].find(
      ([, g]) => (want === 0 || g.ifindex === want) && ipEquals(g.group, group),
    );
    // Linux ip_mc_leave_group / ipv6_sock_mc_drop: not a member is EADDRNOTAVAIL.
    if (found === undefined) throw new UdpError('EADDRNOTAVAIL', 'not a member of the group');
    const [key, m] = found;
    this.#groups.delete(key);
    this.#multicast?.leave(group, m.ifindex, this, m.sources && [...m.sources.values()]);
    this.#updateFilter();
  }

  /**
   * IP_ADD_SOURCE_MEMBERSHIP / IP_DROP_SOURCE_MEMBERSHIP (RFC 3678 §4.1.3) with a struct
   * ip_mreq_source (group, interface address, source): the socket's INCLUDE list for the group.
   */
  #sourceMembership4(add: boolean, value: OptionValue): void {
    if (!(value instanceof Uint8Array) || value.length < 12)
      throw new UdpError('EINVAL', 'struct ip_mreq_source');
    const group: IpAddress = { family: 4, v4: v4At(value, 0) };
    const source: IpAddress = { family: 4, v4: v4At(value, 8) };
    if (!isMulticast(group)) throw new UdpError('EINVAL', 'not a multicast group');
    const used = this.#interface(group, 0, v4At(value, 4));
    const key = `${used} ${formatIp(group)}`;
    const skey = formatIp(source);
    const m = this.#groups.get(key);
    const mc = this.#multicast!;
    if (add) {
      // Linux ip_mc_source: an any-source (EXCLUDE) membership takes no INCLUDE source.
      if (m !== undefined && m.sources === undefined) throw new UdpError('EINVAL', 'an any-source member');
      if (m?.sources?.has(skey)) return;
      if ((m?.sources?.size ?? 0) >= MAX_SOURCES) throw new UdpError('ENOBUFS', 'too many sources');
      if (m === undefined && this.#count(4) >= MAX_MEMBERSHIPS)
        throw new UdpError('ENOBUFS', 'too many memberships');
      if (!mc.join(group, used, this, [source]))
        throw new UdpError('ENOBUFS', 'the interface has too many groups');
      if (m === undefined)
        this.#groups.set(key, { group, ifindex: used, sources: new Map([[skey, source]]) });
      else m.sources!.set(skey, source);
      this.#updateFilter();
      return;
    }
    if (m?.sources === undefined || !m.sources.has(skey))
      throw new UdpError('EADDRNOTAVAIL', 'not a member for that source');
    m.sources.delete(skey);
    mc.leave(group, used, this, [source]);
    if (m.sources.size === 0) this.#groups.delete(key);
    this.#updateFilter();
  }

  #count(family: 4 | 6): number {
    let n = 0;
    for (const g of this.#groups.values()) if (g.group.family === family) n++;
    return n;
  }

  /** The endpoint's per-socket source filter: needed only while a membership is source-specific. */
  #updateFilter(): void {
    const specific = [...this.#groups.values()].some((g) => g.sources !== undefined);
    this.#ep.multicastFilter = specific
      ? (group, src) => {
          let member = false;
          for (const g of this.#groups.values()) {
            if (!ipEquals(g.group, group)) continue;
            if (g.sources === undefined || g.sources.has(formatIp(src))) return true;
            member = true;
          }
          // Linux ip_mc_sf_allow: a group the socket did not join passes (IP_MULTICAST_ALL).
          return !member;
        }
      : undefined;
  }

  /** IP_MULTICAST_IF: an in_addr, an ip_mreq (its interface address) or an ip_mreqn (address and index). */
  #multicastIf4(value: OptionValue): void {
    if (!(value instanceof Uint8Array) || value.length < 4) throw new UdpError('EINVAL', 'IP_MULTICAST_IF');
    const addr = value.length === 4 ? v4At(value, 0) : v4At(value, 4);
    const ifindex = value.length >= 12 ? intAt(value, 8) : 0;
    const ep = this.#ep;
    if (ifindex === 0 && addr === 0) {
      ep.multicastIf4 = undefined;
      this.#mcAddr4 = 0;
      return;
    }
    const mc = this.#multicast;
    // Linux do_ip_setsockopt: an index or address that names no interface is EADDRNOTAVAIL.
    const used = ifindex !== 0 ? ifindex : (mc?.interfaceOf4(addr) ?? 0);
    const ifname = used === 0 ? undefined : mc?.ifname(used);
    if (ifname === undefined) throw new UdpError('EADDRNOTAVAIL', 'no interface with that address');
    ep.multicastIf4 = { ifname, source: addr !== 0 ? { family: 4, v4: addr } : undefined };
    this.#mcAddr4 = addr;
  }

  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const e = this.#ep.takeError();
      return e === undefined ? 0 : ERRNO[e as keyof typeof ERRNO];
    }
    if (level === SOL_SOCKET && name === SO_RCVBUF) return this.#ep.rcvbuf;
    if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) return this.#ep.wildcardFamily === 6 ? 1 : 0;
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_HOPS) return this.#ep.multicastTtl ?? 1;
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_LOOP) return this.#ep.multicastLoop6 ? 1 : 0;
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_IF) return this.#mcIf6;
    if (level === IPPROTO_IP && name === IP_MULTICAST_TTL) return this.#ep.multicastTtl4 ?? 1;
    if (level === IPPROTO_IP && name === IP_MULTICAST_LOOP) return this.#ep.multicastLoop4 ? 1 : 0;
    if (level === IPPROTO_IP && name === IP_MULTICAST_IF) {
      // The in_addr as Linux returns it, read in host (little-endian) order as Python shows it.
      const a = this.#mcAddr4;
      return ((a & 0xff) << 24) | (((a >>> 8) & 0xff) << 16) | (((a >>> 16) & 0xff) << 8) | (a >>> 24);
    }
    if (level === IPPROTO_IP && name === IP_TTL) return this.#ep.ttl ?? this.#ep.layer.net.defaultTtl;
    if ((level === IPPROTO_IP && name === IP_TOS) || (level === IPPROTO_IPV6 && name === IPV6_TCLASS))
      return this.#ep.tos;
    return undefined;
  }

  waitReadable(signal?: AbortSignal): Promise<void> {
    const ep = this.#ep;
    return this.#waiters.wait(
      signal,
      () => ep.queue.length > 0 || ep.pendingError !== undefined || ep.closed,
    );
  }

  async waitWritable(signal?: AbortSignal): Promise<void> {
    // UDP never blocks on send: the datagram goes out or is dropped (and counted) below.
    if (signal?.aborted) throw signal.reason;
  }

  async close(): Promise<void> {
    // Closing a socket drops its memberships (Linux ip_mc_drop_socket, ipv6_sock_mc_close).
    for (const g of this.#groups.values())
      this.#multicast?.leave(g.group, g.ifindex, this, g.sources && [...g.sources.values()]);
    this.#groups.clear();
    this.#ep.close();
    this.#waiters.wake();
  }

  async connect(addr: SockAddr): Promise<void> {
    this.#ep.connect(ipOf(addr, this.family, this.#zones), addr.family === 1 ? 0 : addr.port);
  }

  readonly sendsControl = true;

  async sendto(data: Uint8Array, to: SockAddr | undefined, c: SendControl = {}): Promise<number> {
    if (to === undefined) return this.#ep.sendto(data, undefined, undefined, c.ttl, c.tos);
    const ip = ipOf(to, this.family, this.#zones);
    return this.#ep.sendto(data, ip, to.family === 1 ? 0 : to.port, c.ttl, c.tos);
  }

  recvfrom(max: number, peek: boolean): Datagram | undefined {
    const d = peek ? this.#ep.peek() : this.#ep.recv();
    if (d === undefined) return undefined;
    // POSIX recvfrom: "If a message is too long to fit in the supplied buffer, excess
    // bytes may be discarded" (SOCK_DGRAM always discards them).
    return {
      data: d.data.slice(0, max),
      from: sockAddr(d.srcAddr, d.srcPort, this.family),
      length: d.data.length,
      meta: d,
    };
  }
}
