/**
 * The datagram (UDP) socket implementation on a sockstack `Stack`: the
 * `DatagramImpl` of backend.ts over a `UdpEndpoint`. The front `Socket` has already
 * validated arguments and state; errors thrown here are UdpErrors (a `code`), which
 * the front maps with `toSocketError`.
 */
import type { UdpEndpoint } from '../udp/udp.ts';
import { UdpError } from '../udp/udp.ts';
import { formatIp, type IpAddress, isUnspecified, parseIpv4 } from '../wire/address.ts';
import type { Datagram, DatagramImpl, OptionValue, SockAddr } from './backend.ts';
import {
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
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
 * one): joins and leaves are counted per interface, so the interface stays in a group
 * while any socket wants it, and the MLDv2 reports (RFC 3810) go out on the first join
 * and the last leave. Each returns the interface index used (0: no such interface).
 */
export interface MulticastHost {
  join6(group: Uint8Array, ifindex: number): number;
  leave6(group: Uint8Array, ifindex: number): number;
}

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
  /** This socket's IPv6 group memberships ('ifindex group-key' -> group), dropped on close. */
  readonly #groups = new Map<string, { group: Uint8Array; ifindex: number }>();

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
      this.#membership(name === IPV6_JOIN_GROUP, value);
      return;
    }
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_HOPS) {
      ep.multicastTtl = n;
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
  }

  /** IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP with a struct ipv6_mreq (group, interface index). */
  #membership(join: boolean, value: OptionValue): void {
    const mc = this.#multicast;
    if (!(value instanceof Uint8Array) || value.length < 20) throw new UdpError('EINVAL', 'struct ipv6_mreq');
    const group = value.slice(0, 16);
    // Deviation: the index is read little-endian (the native order of the x86 and ARM
    // hosts Python packs it on with struct.pack('@I')).
    const ifindex = new DataView(value.buffer, value.byteOffset + 16, 4).getUint32(0, true);
    // Linux ipv6_sock_mc_join: a group that is not multicast is EINVAL.
    if (group[0] !== 0xff) throw new UdpError('EINVAL', 'not a multicast group');
    if (mc === undefined) throw new UdpError('EINVAL', 'no multicast on this host');
    const keyOf = (i: number) => `${i} ${Array.from(group).join('.')}`;
    if (join) {
      const used = mc.join6(group, ifindex);
      // No interface with that index (or none routes the group): ENODEV, as Linux.
      if (used === 0) throw new SocketError('ENODEV', { detail: 'no interface for the group' });
      const key = keyOf(used);
      if (this.#groups.has(key)) {
        mc.leave6(group, used);
        throw new UdpError('EADDRINUSE', 'already a member of the group');
      }
      this.#groups.set(key, { group, ifindex: used });
      return;
    }
    const found = [...this.#groups.entries()].find(
      ([, g]) => (ifindex === 0 || g.ifindex === ifindex) && g.group.every((b, i) => b === group[i]),
    );
    // Linux ipv6_sock_mc_drop: not a member is EADDRNOTAVAIL.
    if (found === undefined) throw new UdpError('EADDRNOTAVAIL', 'not a member of the group');
    this.#groups.delete(found[0]);
    mc.leave6(group, found[1].ifindex);
  }

  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const e = this.#ep.takeError();
      return e === undefined ? 0 : ERRNO[e as keyof typeof ERRNO];
    }
    if (level === SOL_SOCKET && name === SO_RCVBUF) return this.#ep.rcvbuf;
    if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) return this.#ep.wildcardFamily === 6 ? 1 : 0;
    if (level === IPPROTO_IPV6 && name === IPV6_MULTICAST_HOPS) return this.#ep.multicastTtl ?? 1;
    if (level === IPPROTO_IP && name === IP_TTL) return this.#ep.ttl ?? this.#ep.layer.net.defaultTtl;
    return undefined;
  }

  waitReadable(signal: AbortSignal): Promise<void> {
    const ep = this.#ep;
    return this.#waiters.wait(
      signal,
      () => ep.queue.length > 0 || ep.pendingError !== undefined || ep.closed,
    );
  }

  async waitWritable(signal: AbortSignal): Promise<void> {
    // UDP never blocks on send: the datagram goes out or is dropped (and counted) below.
    if (signal.aborted) throw signal.reason;
  }

  async close(): Promise<void> {
    // Closing a socket drops its memberships (Linux ipv6_sock_mc_close).
    for (const g of this.#groups.values()) this.#multicast?.leave6(g.group, g.ifindex);
    this.#groups.clear();
    this.#ep.close();
    this.#waiters.wake();
  }

  async connect(addr: SockAddr): Promise<void> {
    this.#ep.connect(ipOf(addr, this.family, this.#zones), addr.family === 1 ? 0 : addr.port);
  }

  async sendto(data: Uint8Array, to: SockAddr | undefined): Promise<number> {
    if (to === undefined) return this.#ep.sendto(data);
    return this.#ep.sendto(data, ipOf(to, this.family, this.#zones), to.family === 1 ? 0 : to.port);
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
    };
  }
}
