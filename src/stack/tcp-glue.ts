/**
 * TCP on the family-generic network layer (src/ip/network.ts): the TcpEnv seam a
 * TcpLayer is driven through (segments out through `sendSegment`, routes, MSS, local
 * addresses), and the receive side: segments of protocol 6 checksum-verified and
 * handed to the layer, ICMP errors quoting TCP, and TCP segments tunnelled in UDP.
 * Nothing here looks at an address family.
 */
import {
  checksumTrusted,
  gsoMaxSegment,
  type IpPacketInfo,
  type NetRoute,
  type NetworkLayer,
  pseudoHeaderSum,
  type ReceivedIcmpError,
  type RouteError,
  type SegmentEmitter,
  type SendOptions,
  sendSegment,
  type TransportProtocol,
} from '../ip/network.ts';
import type { StackStats } from '../ip/stats.ts';
import type { Rng } from '../rand/rng.ts';
import { pmtuDontFragment } from '../tcp/config.ts';
import type { TcpIpFields, TcpUdpEncap } from '../tcp/layer.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerQueue } from '../time/timers.ts';
import type { UdpTcpTunnel } from '../udp/udp.ts';
import { type IpAddress, ipEquals } from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import { superSegmentGsoSize } from '../wire/gso.ts';
// (IANA protocol numbers: IPv4's Protocol and IPv6's Next Header share them.)
import { IP_PROTO_TCP, IP_PROTO_UDP } from '../wire/ipv4.ts';
import { emitTcp, parseTcp, TCP_HEADER_LEN, type TcpRepr, tcpHeaderLength } from '../wire/tcp.ts';
import { emitUdp, UDP_HEADER_LEN, type UdpRepr } from '../wire/udp.ts';

/** The environment a TcpLayer is driven through (src/tcp/layer.ts `TcpEnv`). */
export interface StackTcpEnv {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  /**
   * `fields`: the sending connection's IP_TOS / IP_MTU_DISCOVER / IP_TTL (absent: TOS 0, DF,
   * the default TTL); `udp`: the ports of the UDP datagram a tunnelled segment rides in.
   */
  output(
    src: IpAddress,
    dst: IpAddress,
    repr: TcpRepr,
    payload: Uint8Array,
    fields?: TcpIpFields,
    udp?: TcpUdpEncap,
    ecn?: number,
    gsoSize?: number,
  ): void;
  gsoMaxSegment(src: IpAddress, dst: IpAddress): number;
  txGather(src: IpAddress, dst: IpAddress): boolean;
  routeSource(dst: IpAddress): IpAddress | undefined;
  mssFor(dst: IpAddress): number;
  isLocalAddress(a: IpAddress): boolean;
  learnPathMtu(dst: IpAddress, mtu: number): number;
}

/** What the stack needs of a TcpLayer (structurally; src/tcp/layer.ts). */
export interface TcpLayerLike {
  /**
   * `tunnelPort`: the UDP port a tunnelled segment came from (TcpConfig.udpTunnelingPort);
   * `ecn`: the IP header's ECN field (RFC 3168 §5); `gso`: the segment's gso size when known
   * (0: one segment; omitted: the layer looks it up).
   */
  receive(
    src: IpAddress,
    dst: IpAddress,
    repr: TcpRepr,
    payload: Uint8Array,
    tunnelPort?: number,
    ecn?: number,
    gso?: number,
  ): void;
  icmpError(
    kind: ReceivedIcmpError['kind'],
    src: IpAddress,
    dst: IpAddress,
    quotedTcp: { srcPort: number; dstPort: number; seq: number },
    nextHopMtu?: number,
  ): void;
}

/** TCP receive statistics kept by the stack's demux shim. */
export interface StackTcpStats {
  badChecksum: number;
  malformed: number;
  /** Segments that arrived before a TCP layer was attached. */
  noLayer: number;
}

/** RFC 9293 §3.7.2 / RFC 1191: TCP does path MTU discovery, so DF is set. */
const TCP_SEND_OPTIONS: SendOptions = Object.freeze({ protocol: IP_PROTO_TCP, dontFragment: true });

/** IP send options per (TTL, TOS byte, DF, tunnelled) a connection asks for, made once each. */
const tcpSendOptionsCache = new Map<number, SendOptions>();

/**
 * The IP send options for a TCP segment: the connection's IP_TOS byte (its DSCP), the ECN field
 * TCP chose for the segment (RFC 3168 §6.1: ECT(0) on new data of an ECN connection, else
 * Not-ECT) and DF unless IP_MTU_DISCOVER turns path MTU discovery off (pmtuDontFragment).
 */
function tcpSendOptions(ip: TcpIpFields | undefined, protocol = IP_PROTO_TCP, ecn = 0): SendOptions {
  if (!ip && protocol === IP_PROTO_TCP && ecn === 0) return TCP_SEND_OPTIONS;
  const dscp = ((ip?.tos ?? 0) & 0xff) >> 2;
  const df = pmtuDontFragment(ip?.pmtuDisc);
  const ttl = ip?.ttl;
  if (dscp === 0 && df && ttl === undefined && protocol === IP_PROTO_TCP && ecn === 0)
    return TCP_SEND_OPTIONS;
  // (TTL 0 is never set: IP_TTL takes 1..255.)
  const key =
    ((((ttl ?? 0) << 8) | (dscp << 1) | (df ? 1 : 0)) * 2 + (protocol === IP_PROTO_UDP ? 1 : 0)) * 4 +
    (ecn & 3);
  let o = tcpSendOptionsCache.get(key);
  if (!o) {
    o = Object.freeze({
      protocol,
      dscp,
      dontFragment: df,
      ...(ttl !== undefined ? { ttl } : {}),
      ...(ecn !== 0 ? { ecn: ecn & 3 } : {}),
    });
    tcpSendOptionsCache.set(key, o);
  }
  return o;
}

/** A TCP segment, built into its frame by `sendSegment`. */
const TCP_SEGMENT: SegmentEmitter<TcpRepr> = {
  headerLength: tcpHeaderLength,
  emit: (repr, payload, out, at, sum) => {
    emitTcp(repr, payload, out, sum, at);
  },
};

/** A tunnelled segment's two headers (one object reused: `sendSegment` is synchronous). */
interface TunnelHeader {
  repr: TcpRepr;
  udp: UdpRepr;
}

/**
 * TCP over UDP (TcpConfig.udpTunnelingPort): the segment rides in a UDP datagram whose
 * checksum covers it; as FreeBSD's tcp_output does, the TCP checksum is left 0.
 */
const TUNNELLED_SEGMENT: SegmentEmitter<TunnelHeader> = {
  headerLength: (h) => UDP_HEADER_LEN + tcpHeaderLength(h.repr),
  emit: (h, payload, out, at, sum) => {
    const t = at + UDP_HEADER_LEN;
    emitTcp(h.repr, payload, out, 0, t);
    out[t + 16] = 0;
    out[t + 17] = 0;
    const dgram = out.subarray(at);
    emitUdp(h.udp, dgram.subarray(UDP_HEADER_LEN), dgram, sum);
  },
};

/** The same address, zone included (the route cache's key). */
function sameAddress(a: IpAddress, b: IpAddress): boolean {
  if (a === b) return true;
  if (a.family === 4) return b.family === 4 && a.v4 === b.v4;
  return b.family === 6 && (a.scope ?? 0) === (b.scope ?? 0) && ipEquals(a, b);
}

/** The TcpEnv of a stack: TCP's segments go out through `net`. */
export function tcpEnvOver(
  net: NetworkLayer,
  env: { clock: Clock; rng: Rng; timers: TimerQueue; stats: StackStats },
): StackTcpEnv {
  const tunnel: TunnelHeader = { repr: undefined as unknown as TcpRepr, udp: { srcPort: 0, dstPort: 0 } };
  const cache: { dst?: IpAddress; src?: IpAddress; generation: number; route?: NetRoute } = {
    generation: -1,
  };
  const sourceCache: { dst?: IpAddress; source?: IpAddress; generation: number } = { generation: -1 };
  // The last route, kept while the addresses and the network layer's routes stay the same:
  // one connection's segments route once, and so do the connections after it between the
  // same two addresses (each holds address objects of its own, compared by value).
  const routeFor = (src: IpAddress, dst: IpAddress): NetRoute | undefined => {
    if (
      cache.dst !== undefined &&
      sameAddress(dst, cache.dst) &&
      sameAddress(src, cache.src!) &&
      net.routeGeneration === cache.generation
    )
      return cache.route;
    const route: NetRoute | RouteError = net.route(dst, src);
    if (typeof route === 'string') return undefined;
    cache.dst = dst;
    cache.src = src;
    cache.generation = net.routeGeneration;
    cache.route = route;
    return route;
  };
  return {
    clock: env.clock,
    rng: env.rng,
    timers: env.timers,
    output: (src, dst, repr, payload, fields, udp, ecn, gsoSize) => {
      const route = routeFor(src, dst);
      if (route === undefined) {
        env.stats.ip.noRoute++;
        return;
      }
      if (udp) {
        tunnel.repr = repr;
        tunnel.udp = udp;
        sendSegment(
          net,
          route,
          tcpSendOptions(fields, IP_PROTO_UDP, ecn),
          TUNNELLED_SEGMENT,
          tunnel,
          payload,
        );
        return;
      }
      // The segment is built straight into its frame (link + IP header room in front), so
      // the payload is copied once and IP adds its header in place.
      sendSegment(net, route, tcpSendOptions(fields, IP_PROTO_TCP, ecn), TCP_SEGMENT, repr, payload, gsoSize);
    },
    gsoMaxSegment: (src, dst) => {
      const route = routeFor(src, dst);
      return route === undefined ? 0 : gsoMaxSegment(route);
    },
    txGather: (src, dst) => routeFor(src, dst)?.iface.device?.txGather === true,
    routeSource: (dst) => {
      // The last answer, kept while the routes stay the same (connect asks once per connection).
      if (
        sourceCache.dst !== undefined &&
        sameAddress(dst, sourceCache.dst) &&
        net.routeGeneration === sourceCache.generation
      )
        return sourceCache.source;
      const r = net.route(dst);
      const source = typeof r === 'string' ? undefined : r.source;
      sourceCache.dst = dst;
      sourceCache.generation = net.routeGeneration;
      sourceCache.source = source;
      return source;
    },
    // RFC 9293 §3.7.1: MSS = the largest datagram's room for TCP - 20 (TCP header). An IPv4
    // datagram is at most 65535 bytes (RFC 791 Total Length), so loopback's 65536-byte MTU
    // gives MSS 65495, as on Linux's lo.
    mssFor: (dst) => net.maxTransportSize(dst) - TCP_HEADER_LEN,
    isLocalAddress: (a) => net.isLocalAddress(a),
    // RFC 5927 §4.1: TCP calls this only for a message whose quoted sequence number it has
    // in flight (src/tcp/icmp.ts), as Linux's tcp_v4_err does before tcp_v4_mtu_reduced.
    learnPathMtu: (dst, mtu) => net.learnPathMtu(dst, mtu),
  };
}

/**
 * TCP's receive side on the network layer: registered for protocol 6. Segments are
 * checksum-verified and handed to `layer` (set when a TCP layer is attached); ICMP
 * errors quoting TCP go to `layer.icmpError`.
 */
export class TcpReceiveShim implements TransportProtocol {
  layer: TcpLayerLike | undefined = undefined;
  readonly stats: StackTcpStats;

  constructor(stats: StackTcpStats) {
    this.stats = stats;
  }

  receive(info: IpPacketInfo, payload: Uint8Array): void {
    if (info.broadcast || info.linkBroadcast) return; // RFC 9293 §3.10.7.1: TCP is unicast only
    // A packet from a device that vouches for it (checksum offload) is not verified again,
    // nor is a super-segment (its device vouched for it, or GRO verified each segment it
    // merged: src/ip/gro.ts), as the kernel's CHECKSUM_UNNECESSARY. Only a segment with two
    // bytes of data or more past its header (data offset) can be one; its gso size is looked
    // up once here and handed to the layer (a WeakMap lookup SYNs, ACKs and 1-byte requests skip;
    // a segment too short to have the field is looked up, then dropped as malformed).
    const gso = payload.length > ((payload[12]! >> 4) << 2) + 1 ? superSegmentGsoSize(payload) : 0;
    const p = parseTcp(
      payload,
      checksumTrusted(info.iface) || gso > 0
        ? undefined
        : pseudoHeaderSum(info.src, info.dst, IP_PROTO_TCP, payload.length),
    );
    if (isWireError(p)) {
      if (p.wireError === 'checksum') this.stats.badChecksum++;
      else this.stats.malformed++;
      return;
    }
    const layer = this.layer;
    if (!layer) {
      this.stats.noLayer++;
      return;
    }
    layer.receive(info.src, info.dst, p.repr, p.payload, 0, info.ecn ?? 0, gso);
  }

  icmpError(err: ReceivedIcmpError): void {
    const layer = this.layer;
    const q = err.quoted;
    if (!layer || q.srcPort === undefined || q.dstPort === undefined || q.transport.length < 8) return;
    const t = q.transport;
    const seq = ((t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]) >>> 0;
    layer.icmpError(err.kind, q.src, q.dst, { srcPort: q.srcPort, dstPort: q.dstPort, seq }, err.nextHopMtu);
  }

  /**
   * TCP over UDP: datagrams to TcpConfig.udpTunnelingPort (`port()`) are TCP segments. Their
   * TCP checksum is not checked (FreeBSD skips it; UDP's, checked already, covers the segment).
   */
  tunnel(port: () => number): UdpTcpTunnel {
    return {
      port,
      receive: (info, srcPort, segment) => {
        const p = parseTcp(segment);
        if (isWireError(p)) {
          this.stats.malformed++;
          return;
        }
        const layer = this.layer;
        if (!layer) {
          this.stats.noLayer++;
          return;
        }
        layer.receive(info.src, info.dst, p.repr, p.payload, srcPort, info.ecn ?? 0);
      },
    };
  }
}
