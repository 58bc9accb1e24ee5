/**
 * The network layer as transports (TCP, UDP) see it, whatever the address family:
 * route a destination to a route handle, build a segment into a frame and send it
 * in place, ask the path MTU, tell local and broadcast addresses apart, and receive
 * datagrams and ICMP errors that carry `IpAddress`.
 *
 * IPv4 implements it today (src/ip/ipv4-network.ts); IPv6 plugs in as a second
 * implementation. Code above this interface does not look at the family except where
 * it says `// IPv4 only until IPv6 lands`.
 */
import { allocFrame, allocOwnFrame } from '../link/frame-alloc.ts';
import type { IpAddress } from '../wire/address.ts';
import { pseudoHeaderSumV4, pseudoHeaderSumV6 } from '../wire/checksum.ts';
import { deferPayload, fillPayload, markSuperSegment } from '../wire/gso.ts';
import type { NetInterface } from './interface.ts';

/** The kinds of ICMP (and, later, ICMPv6) error a transport is told about. */
export type IcmpErrorKind =
  | 'unreachable'
  | 'port-unreachable'
  | 'proto-unreachable'
  | 'host-unreachable'
  | 'net-unreachable'
  | 'frag-needed'
  | 'time-exceeded';

export type RouteError = 'ENETUNREACH' | 'EHOSTUNREACH' | 'EADDRNOTAVAIL' | 'ENETDOWN';
export type SendError = RouteError | 'EMSGSIZE' | 'ENOBUFS';

export interface SendOptions {
  /** The transport's protocol number (IPv4 Protocol, IPv6 Next Header). */
  readonly protocol: number;
  /** TTL / hop limit; default the layer's. */
  readonly ttl?: number;
  readonly dscp?: number;
  readonly ecn?: number;
  readonly dontFragment?: boolean;
  /**
   * IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: a datagram to a group the outgoing interface
   * joined is delivered to this host too. Default true (Linux).
   */
  readonly multicastLoop?: boolean;
}

/** Where a datagram to some destination goes: what a transport needs to build and send it. */
export interface NetRoute {
  readonly family: 4 | 6;
  /** The source address the datagram carries. */
  readonly source: IpAddress;
  readonly destination: IpAddress;
  readonly iface: NetInterface;
  /** The outgoing interface's MTU. */
  readonly mtu: number;
  /** Bytes in front of the transport header in a frame built for this route (link + IP header). */
  readonly headerRoom: number;
  /** To a broadcast address (limited or directed). */
  readonly broadcast: boolean;
  /** Delivered to ourselves (through loopback). */
  readonly local: boolean;
  /** The pseudo-header sum of a transport checksum for a datagram along this route. */
  pseudoHeaderSum(protocol: number, length: number): number;
}

/** What a transport learns about a datagram delivered to it. */
export interface IpPacketInfo {
  readonly src: IpAddress;
  readonly dst: IpAddress;
  readonly protocol: number;
  /** TTL / hop limit as received. */
  readonly ttl: number;
  /** The ECN field (RFC 3168 §5: the low two bits of the TOS / Traffic Class) as received. */
  readonly ecn?: number;
  readonly iface: NetInterface;
  /** Sent to a broadcast (or multicast) address of ours. */
  readonly broadcast: boolean;
  /** Arrived as a link-layer broadcast/multicast frame. */
  readonly linkBroadcast: boolean;
  /** The datagram (header + payload, possibly reassembled), for quoting in ICMP errors. */
  readonly packet: Uint8Array;
}

/** The datagram an ICMP error quotes: one we sent. */
export interface QuotedDatagram {
  readonly src: IpAddress;
  readonly dst: IpAddress;
  readonly protocol: number;
  /** Source/destination ports (first 4 transport bytes), when quoted. */
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** The quoted transport bytes. */
  readonly transport: Uint8Array;
}

/** A received ICMP error about a datagram we sent, as delivered to the transport it quotes. */
export interface ReceivedIcmpError {
  readonly kind: IcmpErrorKind;
  /** The ICMP type and code as received (family-specific numbers). */
  readonly type: number;
  readonly code: number;
  /** Who sent the error (a router, or the destination host). */
  readonly from: IpAddress;
  readonly quoted: QuotedDatagram;
  /** Next-hop MTU for 'frag-needed' (RFC 1191, RFC 8201), when the router gave one. */
  readonly nextHopMtu?: number;
}

/** A protocol above IP (UDP, TCP) registered with `registerProtocol`. */
export interface TransportProtocol {
  receive(info: IpPacketInfo, payload: Uint8Array): void;
  icmpError(err: ReceivedIcmpError): void;
}

/** Writes one kind of transport header (and its payload) into a frame: see `sendSegment`. */
export interface SegmentEmitter<H> {
  /** Bytes of transport header `header` takes. */
  headerLength(header: H): number;
  /**
   * Writes header and payload at `out[at..]` (the payload's every byte at
   * `at + headerLength(header)`: the bytes there may hold an earlier frame's), the checksum
   * over pseudo-header sum `sum`; `sum` undefined: checksum offload, the checksum field is left 0.
   * An empty payload writes the header alone (a gathered super-segment's, sendSegment).
   */
  emit(header: H, payload: Uint8Array, out: Uint8Array, at: number, sum: number | undefined): void;
}

export interface NetworkLayer {
  /** TTL / hop limit of datagrams whose sender sets none. */
  readonly defaultTtl: number;
  /** Datagrams of `protocol` addressed to us go to `handler` (with ICMP errors quoting them). */
  registerProtocol(protocol: number, handler: TransportProtocol): void;
  /**
   * The route to `dst`. `src` (when given and not unspecified) is kept as the source;
   * `ifname` pins the interface (SO_BINDTODEVICE, broadcasts).
   */
  route(dst: IpAddress, src?: IpAddress, ifname?: string): NetRoute | RouteError;
  /** The path MTU towards `dst` (learnt from ICMP, else the outgoing interface's MTU). */
  pathMtu(dst: IpAddress): number;
  /**
   * RFC 1191 §6.3 / RFC 8201: record `mtu` (from a "fragmentation needed" / "packet too big")
   * as the path MTU towards `dst`. Called by the transport only after it has validated the
   * quoted datagram (RFC 5927 §4.1); the layer lowers, never raises, and clamps the value at
   * its floor (IPv4: MIN_PMTU, 552). Returns the path MTU now in effect.
   */
  learnPathMtu(dst: IpAddress, mtu: number): number;
  /** The largest transport segment (header + data) a datagram to `dst` carries unfragmented. */
  maxTransportSize(dst: IpAddress): number;
  /** Is `a` one of this host's addresses? */
  isLocalAddress(a: IpAddress): boolean;
  /** Is `a` a broadcast address (limited, or directed to one of our subnets)? */
  isBroadcastAddress(a: IpAddress): boolean;
  /**
   * Changes whenever a route could change (interfaces, addresses, routes, an interface up or
   * down): a route looked up while it had one value stays valid while it keeps it.
   */
  readonly routeGeneration: number;
  /**
   * Sends a datagram laid out in its frame: `route.headerRoom` free bytes, then the
   * transport header and data (checksum done). Takes ownership of `frame`. `gsoSize`: the
   * datagram is a TCP super-segment (checksum left out) of segments of `gsoSize` data bytes,
   * which may exceed the MTU (see `gsoMaxSegment`): it goes whole to a device that takes it,
   * else it is cut into its segments here (software GSO).
   */
  sendInPlace(route: NetRoute, opts: SendOptions, frame: Uint8Array, gsoSize?: number): SendError | undefined;
  /** Tells the sender of a datagram that arrived for no port of ours (ICMP port unreachable). */
  portUnreachable(info: IpPacketInfo): void;
}

/** The pseudo-header sum of a transport checksum (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). */
export function pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number {
  if (src.family === 4 && dst.family === 4) return pseudoHeaderSumV4(src.v4, dst.v4, protocol, length);
  if (src.family === 6 && dst.family === 6) return pseudoHeaderSumV6(src.v6, dst.v6, protocol, length);
  return 0;
}

/**
 * Builds one transport segment into its frame and sends it: the one place where
 * header room, IP header, transport header and payload meet. The frame is allocated
 * with the route's header room in front, `emitter` writes the header and copies the
 * payload in (its only copy), and the network layer writes its headers in place.
 */
export function sendSegment<H>(
  net: NetworkLayer,
  route: NetRoute,
  opts: SendOptions,
  emitter: SegmentEmitter<H>,
  header: H,
  payload: Uint8Array,
  gsoSize?: number,
): SendError | undefined {
  const at = route.headerRoom;
  const hl = emitter.headerLength(header);
  const len = hl + payload.length;
  const gso = gsoSize !== undefined && payload.length > gsoSize;
  // A super-segment gets a buffer of its own (never a shared slab): markSuperSegment keys it.
  // The emitter copies the payload in behind the header: a reused buffer is zeroed before it.
  const frame = gso ? allocOwnFrame(at + len, at + hl) : allocFrame(at + len, at + hl);
  // A super-segment's checksum is always left out (the kernel's GSO needs CHECKSUM_PARTIAL):
  // the device, or the software segmentation that cuts it, fills in each segment's.
  const sum =
    gso || checksumOffloaded(net, route, opts, len) ? undefined : route.pseudoHeaderSum(opts.protocol, len);
  if (!gso) {
    emitter.emit(header, payload, frame, at, sum);
    return net.sendInPlace(route, opts, frame);
  }
  markSuperSegment(frame, gsoSize);
  // A device that gathers (Device.txGather) takes the payload by reference from the send
  // ring, which holds it unchanged until acknowledged (TcpEnv.output): only the headers are
  // written here. A frame that meets anything else first gets its payload then (gso.ts).
  if (HAS_SAB && payload.buffer instanceof SharedArrayBuffer && route.iface.device?.txGather === true) {
    emitter.emit(header, EMPTY, frame, at, undefined);
    deferPayload(frame, at + hl, payload);
    const err = net.sendInPlace(route, opts, frame, gsoSize);
    fillPayload(frame);
    return err;
  }
  emitter.emit(header, payload, frame, at, sum);
  return net.sendInPlace(route, opts, frame, gsoSize);
}

const EMPTY = new Uint8Array(0);
/** A browser page has SharedArrayBuffer only when cross-origin isolated. */
const HAS_SAB = typeof SharedArrayBuffer === 'function';

/**
 * The largest transport segment (header and data) a TCP super-segment on `route` may be: the
 * outgoing device's `gsoMaxSize` less the IP header (IPv4: 20 bytes; IPv6: the 40-byte fixed
 * header, whose payload length field caps the rest at 65535), when it takes super-segments
 * (and offloads checksums, which they need); 0 when it does not.
 */
export function gsoMaxSegment(route: NetRoute): number {
  if (route.local || route.broadcast) return 0;
  const device = route.iface.device;
  if (device === null || device.txChecksumOffload !== true) return 0;
  const max = device.gsoMaxSize ?? 0;
  if (max <= route.mtu) return 0;
  return route.family === 4 ? Math.min(max, 65535) - 20 : Math.min(max - 40, 65535);
}

/**
 * Whether a transport segment of `len` bytes on `route` may leave without its checksum:
 * the interface is loopback or its device offloads checksums, and the datagram goes out
 * whole (a fragmented one carries its checksum in the first fragment only, where no
 * device can fill it in; Linux's ip_fragment calls skb_checksum_help for the same reason).
 */
function checksumOffloaded(net: NetworkLayer, route: NetRoute, opts: SendOptions, len: number): boolean {
  const device = route.iface.device;
  if (device !== null && device.txChecksumOffload !== true) return false;
  if (opts.dontFragment) return true;
  const ipHeader = route.family === 4 ? 20 : 40;
  return len + ipHeader <= Math.min(route.mtu, net.pathMtu(route.destination));
}

/**
 * Whether transport checksums of a packet received on `iface` may be taken as valid
 * without checking (loopback, or a device that says `rxChecksumValid`).
 */
// Deviation: Linux still verifies a packet on lo whose sender computed no partial checksum
// (CHECKSUM_NONE, a raw socket's); we have no raw sockets, so whatever crosses loopback came
// from our own transports, which fill checksums in or leave them out as the route allows.
export function checksumTrusted(iface: NetInterface): boolean {
  const device = iface.device;
  return device === null || device.rxChecksumValid === true;
}
