/**
 * UDP (RFC 768) over the family-generic network layer (src/ip/network.ts): endpoints,
 * demultiplexing, checksums, broadcast, ICMP errors, bounded receive queues. Who holds a
 * port is the layer's port table (src/transport/port-table.ts) under UDP's bind rules
 * (bind-rules.ts `datagramConflict`).
 *
 * Demultiplexing picks, among endpoints bound to the destination port, the most
 * specific match: a connected endpoint whose remote address and port equal the
 * datagram's source, then one bound to the destination address, then a wildcard
 * (unspecified address) one. Broadcast datagrams go to every matching endpoint (as Linux's
 * __udp4_lib_mcast_deliver). Several equally specific endpoints exist only with
 * SO_REUSEPORT, and then a unicast datagram goes to one chosen by a hash of its
 * source (so one flow always reaches the same socket).
 */

import { IPV4_UNSPECIFIED, ipEquals, ipHashWord, isMulticast, isUnspecified } from '../ip/ip-address.ts';
import {
  checksumTrusted,
  type IpPacketInfo,
  type NetRoute,
  type NetworkLayer,
  pseudoHeaderSum,
  type ReceivedIcmpError,
  type RouteError,
  type SegmentEmitter,
  sendSegment,
  type TransportProtocol,
} from '../ip/network.ts';
import type { UdpStats } from '../ip/stats.ts';
import type { Rng } from '../rand/rng.ts';
import { datagramConflict, type PortClaim, type PortRequest } from '../transport/bind-rules.ts';
import { PortTable } from '../transport/port-table.ts';
import { EphemeralPorts } from '../transport/ports.ts';
import type { IpAddress } from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import { IP_PROTO_UDP } from '../wire/ipv4.ts';
import { emitUdp, parseUdp, UDP_HEADER_LEN, type UdpRepr } from '../wire/udp.ts';

/** Largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header). */
export const UDP_MAX_PAYLOAD = 65507;
/** Largest UDP payload over IPv6 without jumbograms: 65535 (Payload Length) - 8. */
export const UDP_MAX_PAYLOAD_V6 = 65527;

/** Default receive buffer in bytes (Linux's net.core.rmem_default). */
export const UDP_DEFAULT_RCVBUF = 212992;

/**
 * What a queued datagram costs besides its data: its record, the Uint8Array holding the
 * copy and the source/destination address objects (measured: test/scenarios/memory-caps.test.ts).
 * Charged against SO_RCVBUF with the data, as Linux charges an skb's truesize, so a flood of
 * empty datagrams is bounded too (charging the data alone let it grow without limit).
 */
export const UDP_DATAGRAM_OVERHEAD = 320;

/** The receive-queue charge of a datagram with `n` bytes of data. */
export function datagramCost(n: number): number {
  return n + UDP_DATAGRAM_OVERHEAD;
}

/** A UDP header and its data, built into the frame by the network layer's `sendSegment`. */
const UDP_SEGMENT: SegmentEmitter<UdpRepr> = {
  headerLength: () => UDP_HEADER_LEN,
  emit: (h, data, out, at, sum) => emitUdp(h, data, out.subarray(at), sum),
};

export type UdpErrorCode =
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'EACCES'
  | 'EINVAL'
  | 'EMSGSIZE'
  | 'ECONNREFUSED'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'ENETDOWN'
  | 'EDESTADDRREQ'
  | 'ENOBUFS'
  | 'EAGAIN'
  | 'EPROTO'
  | 'EBADF';

/** API errors of the UDP layer; the socket layer maps them by `code`. */
export class UdpError extends Error {
  readonly code: UdpErrorCode;
  constructor(code: UdpErrorCode, message?: string) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'UdpError';
    this.code = code;
  }
}

export interface ReceivedDatagram {
  readonly data: Uint8Array;
  readonly srcAddr: IpAddress;
  readonly srcPort: number;
  /** The address it was sent to (ours, or a broadcast address). */
  readonly dstAddr: IpAddress;
  /** The IP header's TTL / hop limit and TOS / Traffic Class, the arrival interface's index. */
  readonly ttl: number;
  readonly tos: number;
  readonly ifindex: number;
  /** A broadcast's local address for IP_PKTINFO (the interface's; Linux fib_compute_spec_dst). */
  readonly specDst?: number;
}

export interface UdpLayerOptions {
  /** May bind ports below 1024 (root / CAP_NET_BIND_SERVICE). */
  privileged: boolean;
  rng: Rng;
  ports?: EphemeralPorts;
}

/** A UDP socket's local or remote (address, port). */
export interface UdpAddress {
  address: IpAddress;
  port: number;
}

/** A UDP socket; a `PortClaim` in the layer's port table while it holds a port. */
export class UdpEndpoint implements PortClaim {
  readonly layer: UdpLayer;
  /**
   * The local address and port (port 0: unbound). The address is the unspecified one for
   * the wildcard (any of ours), spelled in the socket's family so getsockname() can answer;
   * connect() may narrow it to the route's source while the port is held (the port table
   * indexes by port only).
   */
  readonly local: UdpAddress = { address: IPV4_UNSPECIFIED, port: 0 }; // the unspecified address; an AF_INET6 socket shows it as ::
  /**
   * Bound to the wildcard, the one family it receives: 4 for an AF_INET socket, 6 for
   * AF_INET6 with IPV6_V6ONLY; undefined: both (AF_INET6 by default, as Linux).
   */
  wildcardFamily: 4 | 6 | undefined = undefined;
  /** The peer, once connected. */
  remote: Readonly<UdpAddress> | undefined = undefined;
  reuseAddr = false;
  reusePort = false;
  broadcast = false;
  ttl: number | undefined = undefined;
  /** IP_TOS / IPV6_TCLASS: the TOS byte (DSCP and ECN) of its datagrams. */
  tos = 0;
  /** Hop limit of IPv6 multicast datagrams (IPV6_MULTICAST_HOPS); undefined: 1. */
  multicastTtl: number | undefined = undefined;
  /** TTL of IPv4 multicast datagrams (IP_MULTICAST_TTL); undefined: 1. */
  multicastTtl4: number | undefined = undefined;
  /**
   * IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP (one per family, as Linux keeps them): our own
   * group datagrams reach local members. Default on.
   */
  multicastLoop4 = true;
  multicastLoop6 = true;
  /**
   * IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface group datagrams of each family leave by
   * (undefined: the route's), and for IPv4 the source address it named (Linux inet->mc_addr).
   */
  multicastIf4: { ifname: string; source: IpAddress | undefined } | undefined = undefined;
  multicastIf6: string | undefined = undefined;
  /**
   * The socket's own source filters (IP_ADD_SOURCE_MEMBERSHIP): false for a group datagram
   * from a source its membership excludes (Linux ip_mc_sf_allow). Unset: every group the
   * host joined is received (IP_MULTICAST_ALL, on by default).
   */
  multicastFilter: ((group: IpAddress, src: IpAddress) => boolean) | undefined = undefined;
  /** Receive queue bound (SO_RCVBUF) in bytes charged: data plus UDP_DATAGRAM_OVERHEAD each. */
  rcvbuf = UDP_DEFAULT_RCVBUF;
  /** A pending asynchronous error (ICMP) reported once by the next send/receive (SO_ERROR). */
  pendingError: UdpErrorCode | undefined = undefined;
  closed = false;
  readonly queue: ReceivedDatagram[] = [];
  /** Bytes charged for the queue (datagramCost of each). */
  queueBytes = 0;
  /** Called when a datagram or an error arrives (the socket wakes its readers). */
  onReadable: (() => void) | undefined = undefined;

  constructor(layer: UdpLayer) {
    this.layer = layer;
  }

  get bound(): boolean {
    return this.local.port !== 0;
  }

  get connected(): boolean {
    return this.remote !== undefined;
  }

  /** bind(2): `port` 0 picks an ephemeral port (RFC 6056). */
  bind(addr: IpAddress, port: number): void {
    this.layer.bind(this, addr, port);
  }

  /** connect(2): default destination and the only source accepted. Binds first if needed. */
  connect(addr: IpAddress, port: number): void {
    this.layer.connect(this, addr, port);
  }

  /** Sends one datagram; returns the data length. Throws UdpError. */
  sendto(data: Uint8Array, addr?: IpAddress, port?: number, ttl?: number, tos?: number): number {
    return this.layer.sendto(this, data, addr, port, ttl, tos);
  }

  /** The next datagram, or undefined; a pending error is thrown (once) first. */
  recv(): ReceivedDatagram | undefined {
    this.throwPendingError();
    const d = this.queue.shift();
    if (d) this.queueBytes -= datagramCost(d.data.length);
    return d;
  }

  peek(): ReceivedDatagram | undefined {
    this.throwPendingError();
    return this.queue[0];
  }

  /** Throws and clears the pending error, if any. */
  throwPendingError(): void {
    const e = this.pendingError;
    if (e !== undefined) {
      this.pendingError = undefined;
      throw new UdpError(e);
    }
  }

  /** Returns and clears the pending error (SO_ERROR). */
  takeError(): UdpErrorCode | undefined {
    const e = this.pendingError;
    this.pendingError = undefined;
    return e;
  }

  close(): void {
    this.layer.close(this);
  }
}

/** Where UdpLayer hands the datagrams of its TCP tunnelling port (UdpLayer.tcpTunnel). */
export interface UdpTcpTunnel {
  /** The tunnelling port now (0: off). */
  port(): number;
  /** A datagram's payload (a TCP segment) from `srcPort`. */
  receive(info: IpPacketInfo, srcPort: number, segment: Uint8Array): void;
}

/**
 * Takes unicast datagrams no endpoint wants (a gateway's NAT, src/gateway/): returns true
 * when it took the datagram, false to let UDP answer as usual (ICMP Port Unreachable).
 */
export type UdpCatchAll = (info: IpPacketInfo, srcPort: number, dstPort: number, data: Uint8Array) => boolean;

export class UdpLayer implements TransportProtocol {
  readonly net: NetworkLayer;
  readonly stats: UdpStats;
  readonly options: UdpLayerOptions;
  /**
   * Who holds which port: every bound endpoint, in bind order on each port (SO_REUSEPORT's
   * hash picks among them by that order), under UDP's bind rules.
   */
  readonly portTable: PortTable<UdpEndpoint>;
  #hashKey: number;
  /**
   * TCP over UDP (TcpConfig.udpTunnelingPort, FreeBSD's kernel tunnelling socket): unicast
   * datagrams to `port()` carry TCP segments and go to `receive`, and no socket may bind it.
   */
  tcpTunnel: UdpTcpTunnel | undefined;
  /** Unicast datagrams for no endpoint go here first (see UdpCatchAll). */
  catchAll: UdpCatchAll | undefined = undefined;

  constructor(net: NetworkLayer, stats: UdpStats, options: UdpLayerOptions) {
    this.net = net;
    this.stats = stats;
    this.options = options;
    this.portTable = new PortTable<UdpEndpoint>(
      datagramConflict,
      options.ports ?? new EphemeralPorts(options.rng),
    );
    this.#hashKey = options.rng.nextU32();
    net.registerProtocol(IP_PROTO_UDP, this);
  }

  /** A new unbound endpoint. */
  open(): UdpEndpoint {
    return new UdpEndpoint(this);
  }

  /** Endpoints currently bound (for tests and `netstat`). */
  endpoints(): UdpEndpoint[] {
    return [...this.portTable.claims()];
  }

  bind(ep: UdpEndpoint, addr: IpAddress, port: number): void {
    if (ep.closed) throw new UdpError('EBADF');
    if (ep.bound) throw new UdpError('EINVAL', 'already bound');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UdpError('EINVAL', `bad port ${port}`);
    // bind(2): the address must be one of ours (or the wildcard / a broadcast address, which
    // Linux allows so a socket can receive only broadcasts).
    // Linux inet_bind accepts a multicast address too (RTN_MULTICAST): the socket then
    // receives only datagrams sent to that group.
    const wildcard = isUnspecified(addr);
    if (
      !wildcard &&
      !this.net.isLocalAddress(addr) &&
      !this.net.isBroadcastAddress(addr) &&
      !isMulticast(addr)
    )
      throw new UdpError('EADDRNOTAVAIL');
    if (port !== 0 && port < 1024 && !this.options.privileged)
      throw new UdpError('EACCES', `port ${port} needs privileges`);
    if (port === 0) {
      // Linux udp_lib_get_port fails, and __inet_bind answers EADDRINUSE.
      const picked = this.portTable.pick(this.#request(ep, addr));
      if (picked === undefined) throw new UdpError('EADDRINUSE', 'no free ephemeral port');
      port = picked;
    } else if (this.portTable.conflicts(this.#request(ep, addr), port)) {
      throw new UdpError('EADDRINUSE');
    } else if (port === this.tcpTunnel?.port()) {
      throw new UdpError('EADDRINUSE', `port ${port} carries TCP over UDP`);
    }
    this.#hold(ep, addr, port);
  }

  /**
   * Binds an unbound endpoint to an ephemeral port on the wildcard, before connect() or a
   * send. Linux inet_autobind: "if (sk->sk_prot->get_port(sk, 0)) ... return -EAGAIN;".
   */
  #autobind(ep: UdpEndpoint): void {
    const addr = ep.local.address;
    const port = this.portTable.pick(this.#request(ep, addr));
    if (port === undefined) throw new UdpError('EAGAIN', 'no free ephemeral port');
    this.#hold(ep, addr, port);
  }

  /**
   * What binding `ep` to `addr` asks of the port table. No `exclusive`: unlike TCP, Linux
   * lets a UDP port-0 bind share a port through the reuse flags (udp_lib_get_port checks
   * each candidate with udp_lib_lport_inuse, the same test as an explicit bind).
   */
  #request(ep: UdpEndpoint, addr: IpAddress): PortRequest {
    return {
      address: addr,
      role: 'bound',
      reuseAddr: ep.reuseAddr,
      reusePort: ep.reusePort,
      self: ep,
      remote: ep.remote,
    };
  }

  #hold(ep: UdpEndpoint, addr: IpAddress, port: number): void {
    ep.local.address = addr;
    ep.local.port = port;
    this.portTable.add(ep, 'bound');
  }

  connect(ep: UdpEndpoint, addr: IpAddress, port: number): void {
    if (ep.closed) throw new UdpError('EBADF');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UdpError('EINVAL', `bad port ${port}`);
    if (this.net.isBroadcastAddress(addr) && !ep.broadcast)
      throw new UdpError('EACCES', 'broadcast destination needs SO_BROADCAST');
    const local = ep.local;
    const r = this.#route(ep, addr);
    if (typeof r === 'string') throw new UdpError(r === 'ENETDOWN' ? 'ENETUNREACH' : r);
    if (!ep.bound) this.#autobind(ep);
    // Linux (ip4_datagram_connect): an unbound-address socket takes the route's source.
    if (isUnspecified(local.address) && !r.broadcast && !isMulticast(local.address)) local.address = r.source;
    ep.remote = { address: addr, port };
    ep.pendingError = undefined;
  }

  /** `ttl` / `tos`: this datagram's, over the endpoint's (sendmsg's control messages). */
  sendto(
    ep: UdpEndpoint,
    data: Uint8Array,
    addr?: IpAddress,
    port?: number,
    ttl?: number,
    tos = ep.tos,
  ): number {
    if (ep.closed) throw new UdpError('EBADF');
    const dst = addr ?? ep.remote?.address;
    const dport = addr === undefined ? (ep.remote?.port ?? 0) : (port ?? 0);
    if (dst === undefined) throw new UdpError('EDESTADDRREQ');
    if (dport === 0) throw new UdpError('EINVAL', 'port 0');
    // Errors from ICMP are reported on connected sockets by the next call (Linux sk_err).
    if (ep.connected) ep.throwPendingError();
    if (data.length > (dst.family === 4 ? UDP_MAX_PAYLOAD : UDP_MAX_PAYLOAD_V6))
      throw new UdpError('EMSGSIZE');
    if (this.net.isBroadcastAddress(dst) && !ep.broadcast)
      // Linux udp_sendmsg: "if (rt->rt_flags & RTCF_BROADCAST && !sock_flag(sk, SOCK_BROADCAST)) EACCES".
      throw new UdpError('EACCES', 'broadcast destination needs SO_BROADCAST');
    const route = this.#route(ep, dst);
    if (typeof route === 'string') throw new UdpError(route === 'ENETDOWN' ? 'ENETUNREACH' : route);
    if (!ep.bound) this.#autobind(ep);
    const multicast = isMulticast(dst);
    const ip = { protocol: IP_PROTO_UDP, dscp: tos >> 2, ecn: tos & 3 };
    // Built straight into its frame (link + IP header room in front): one copy of the data.
    const err = sendSegment(
      this.net,
      route,
      multicast
        ? dst.family === 4
          ? { ...ip, ttl: ttl ?? ep.multicastTtl4 ?? 1, multicastLoop: ep.multicastLoop4 }
          : { ...ip, ttl: ttl ?? ep.multicastTtl ?? 1, multicastLoop: ep.multicastLoop6 }
        : { ...ip, ttl: ttl ?? ep.ttl },
      UDP_SEGMENT,
      { srcPort: ep.local.port, dstPort: dport },
      data,
    );
    if (err !== undefined && err !== 'ENOBUFS') throw new UdpError(err);
    this.stats.outDatagrams++;
    return data.length;
  }

  /**
   * The route from `ep` to `dst`: from its bound address (unless that is the wildcard, a
   * broadcast or a group address); to a group, out of its multicast interface (Linux
   * udp_sendmsg: "if (!ipc.oif) ipc.oif = inet->mc_index; if (!saddr) saddr = inet->mc_addr").
   */
  #route(ep: UdpEndpoint, dst: IpAddress): NetRoute | RouteError {
    const local = ep.local.address;
    let src =
      !isUnspecified(local) && !this.net.isBroadcastAddress(local) && !isMulticast(local) ? local : undefined;
    if (!isMulticast(dst)) return this.net.route(dst, src);
    if (dst.family === 4) {
      const mif = ep.multicastIf4;
      src ??= mif?.source;
      return this.net.route(dst, src, mif?.ifname);
    }
    return this.net.route(dst, src, ep.multicastIf6);
  }

  /**
   * Sends one datagram from any (address, port), holding no port: a transparent gateway
   * answering for the destinations it terminates (Linux IP_TRANSPARENT). Throws UdpError.
   */
  sendFrom(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array): void {
    if (!(srcPort > 0 && srcPort < 65536 && dstPort > 0 && dstPort < 65536))
      throw new UdpError('EINVAL', 'bad port');
    if (data.length > (dst.family === 4 ? UDP_MAX_PAYLOAD : UDP_MAX_PAYLOAD_V6))
      throw new UdpError('EMSGSIZE');
    const route = this.net.route(dst, src);
    if (typeof route === 'string') throw new UdpError(route === 'ENETDOWN' ? 'ENETUNREACH' : route);
    const err = sendSegment(
      this.net,
      route,
      { protocol: IP_PROTO_UDP },
      UDP_SEGMENT,
      { srcPort, dstPort },
      data,
    );
    if (err !== undefined && err !== 'ENOBUFS') throw new UdpError(err);
    this.stats.outDatagrams++;
  }

  close(ep: UdpEndpoint): void {
    if (ep.closed) return;
    ep.closed = true;
    this.portTable.remove(ep);
    ep.queue.length = 0;
    ep.queueBytes = 0;
    ep.onReadable?.();
  }

  /** How well `ep` matches a datagram: -1 no match, higher is more specific. */
  #score(ep: UdpEndpoint, src: IpAddress, srcPort: number, dst: IpAddress): number {
    let s = 0;
    const local = ep.local.address;
    if (!isUnspecified(local)) {
      if (!ipEquals(local, dst)) return -1;
      s += 2;
    } else if (ep.wildcardFamily !== undefined && ep.wildcardFamily !== dst.family) return -1;
    const r = ep.remote;
    if (r !== undefined) {
      if (!ipEquals(r.address, src) || r.port !== srcPort) return -1;
      s += 4;
    }
    return s;
  }

  receive(info: IpPacketInfo, payload: Uint8Array): void {
    const stats = this.stats;
    const p = parseUdp(payload);
    if (isWireError(p)) {
      stats.malformed++;
      return;
    }
    // RFC 768: "An all zero transmitted checksum value means that the transmitter
    // generated no checksum"; otherwise it must verify over the pseudo-header.
    const ulen = (payload[4] << 8) | payload[5];
    if (
      (payload[6] | payload[7]) !== 0 &&
      !checksumTrusted(info.iface) &&
      isWireError(parseUdp(payload, pseudoHeaderSum(info.src, info.dst, IP_PROTO_UDP, ulen)))
    ) {
      stats.badChecksum++;
      return;
    }
    const { srcPort, dstPort } = p.repr;
    const data = p.payload;
    const multi = info.broadcast || isMulticast(info.dst);
    const tunnel = this.tcpTunnel;
    if (tunnel && !multi && dstPort !== 0 && dstPort === tunnel.port()) {
      stats.inDatagrams++;
      tunnel.receive(info, srcPort, data);
      return;
    }
    // The endpoints bound to the port, in bind order.
    const list = this.portTable.claimsAt(dstPort) ?? [];
    if (multi) {
      let delivered = false;
      for (const ep of list) {
        // A socket bound to a unicast address does not see broadcasts; one bound to the broadcast address does.
        const local = ep.local.address;
        if (!isUnspecified(local) && !ipEquals(local, info.dst)) continue;
        if (ep.wildcardFamily !== undefined && ep.wildcardFamily !== info.dst.family) continue;
        const r = ep.remote;
        if (r !== undefined && (!ipEquals(r.address, info.src) || r.port !== srcPort)) continue;
        if (ep.multicastFilter !== undefined && !ep.multicastFilter(info.dst, info.src)) continue;
        this.#enqueue(ep, data, info, srcPort);
        delivered = true;
      }
      if (!delivered) stats.broadcastNoPorts++;
      return;
    }
    let best: UdpEndpoint[] = [];
    let bestScore = -1;
    for (const ep of list) {
      const s = this.#score(ep, info.src, srcPort, info.dst);
      if (s > bestScore) {
        bestScore = s;
        best = [ep];
      } else if (s === bestScore && s >= 0) best.push(ep);
    }
    if (bestScore < 0) {
      if (this.catchAll?.(info, srcPort, dstPort, data)) {
        stats.inDatagrams++;
        return;
      }
      stats.noPorts++;
      // RFC 1122 §4.1.3.1: "If a datagram arrives addressed to a UDP port for which there
      // is no pending LISTEN call, UDP SHOULD send an ICMP Port Unreachable message."
      this.net.portUnreachable(info);
      return;
    }
    const ep = best.length === 1 ? best[0] : best[this.#flowHash(info.src, srcPort) % best.length];
    this.#enqueue(ep, data, info, srcPort);
  }

  #flowHash(addr: IpAddress, port: number): number {
    let h = Math.imul(ipHashWord(addr) ^ this.#hashKey, 0x9e3779b1) ^ port;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
    return (h ^ (h >>> 13)) >>> 0;
  }

  #enqueue(ep: UdpEndpoint, data: Uint8Array, info: IpPacketInfo, srcPort: number): void {
    const cost = datagramCost(data.length);
    // Like Linux (__udp_enqueue_schedule_skb): refused once the charge would pass the
    // receive buffer, except that an empty queue always takes one datagram.
    if (ep.queueBytes + cost > ep.rcvbuf && ep.queue.length > 0) {
      this.stats.receiveQueueDrops++;
      return;
    }
    this.stats.inDatagrams++;
    const p = info.packet;
    ep.queue.push({
      data: data.slice(),
      srcAddr: info.src,
      srcPort,
      dstAddr: info.dst,
      ttl: info.ttl,
      tos: info.dst.family === 4 ? p[1]! : ((p[0]! & 15) << 4) | (p[1]! >> 4),
      ifindex: info.iface.ifindex,
      ...(info.broadcast && info.dst.family === 4 ? { specDst: info.iface.primaryAddress } : {}),
    });
    ep.queueBytes += cost;
    ep.onReadable?.();
  }

  icmpError(err: ReceivedIcmpError): void {
    const q = err.quoted;
    if (q.srcPort === undefined || q.dstPort === undefined) return;
    const list = this.portTable.claimsAt(q.srcPort);
    if (!list) return;
    let learnt = false;
    for (const ep of list) {
      const local = ep.local.address;
      if (!isUnspecified(local) && !ipEquals(local, q.src)) continue;
      const r = ep.remote;
      if (r !== undefined && (!ipEquals(r.address, q.dst) || r.port !== q.dstPort)) continue;
      if (err.kind === 'frag-needed' && !learnt) {
        // UDP has no sequence number to validate (RFC 5927 §4.1): like Linux (udp_err ->
        // ipv4_sk_update_pmtu), a message quoting a socket of ours sets the path MTU, which
        // the network layer clamps (min_pmtu).
        this.net.learnPathMtu(q.dst, err.nextHopMtu ?? 0);
        learnt = true;
      }
      // Linux reports ICMP errors only to connected UDP sockets (without IP_RECVERR):
      // RFC 1122 §4.1.3.3 "UDP MUST pass to the application layer all ICMP error messages",
      // but an unconnected socket has no way to tell which send failed.
      if (r === undefined) continue;
      const code = icmpToErrno(err);
      if (code === undefined) continue;
      ep.pendingError = code;
      ep.onReadable?.();
    }
  }
}

/** The errno an ICMP error becomes on a connected UDP socket (Linux icmp_err_convert). */
export function icmpToErrno(err: ReceivedIcmpError): UdpErrorCode | undefined {
  switch (err.kind) {
    case 'port-unreachable':
      return 'ECONNREFUSED';
    case 'net-unreachable':
      return 'ENETUNREACH';
    case 'host-unreachable':
    case 'unreachable':
      return 'EHOSTUNREACH';
    case 'proto-unreachable':
      return 'ECONNREFUSED';
    case 'frag-needed':
    case 'time-exceeded':
      // Soft errors (Linux udp_err: harderr = 0; we never set DF on UDP): not reported.
      return undefined;
  }
}
