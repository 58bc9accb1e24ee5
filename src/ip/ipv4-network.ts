/**
 * The IPv4 layer as the family-generic NetworkLayer (src/ip/network.ts) that TCP and
 * UDP use. Addresses of another family have no route here (ENETUNREACH) and are never
 * local; an IPv6 layer will answer for them.
 */
import type { IpAddress } from '../wire/address.ts';
import { ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_PORT } from '../wire/icmpv4.ts';
import { IPV4_MIN_HEADER_LEN } from '../wire/ipv4.ts';
import type { Ipv4Layer } from './ipv4.ts';
import type {
  IpPacketInfo,
  NetRoute,
  NetworkLayer,
  RouteError,
  SendError,
  SendOptions,
  TransportProtocol,
} from './network.ts';
import { DEFAULT_TTL, Ipv4Route } from './output.ts';

/** IPv6's minimum link MTU (RFC 8200 §5): what a family we do not route gets. */
const IPV6_MIN_MTU = 1280;
const IPV6_HEADER_LEN = 40;
/** An IPv4 datagram is at most 65535 bytes (RFC 791 Total Length). */
const IPV4_MAX_DATAGRAM = 65535;

export class Ipv4Network implements NetworkLayer {
  readonly ip: Ipv4Layer;

  constructor(ip: Ipv4Layer) {
    this.ip = ip;
  }

  get routeGeneration(): number {
    return this.ip.routeGeneration;
  }

  get defaultTtl(): number {
    return this.ip.config.defaultTtl ?? DEFAULT_TTL;
  }

  registerProtocol(protocol: number, handler: TransportProtocol): void {
    this.ip.registerProtocol(protocol, handler);
  }

  route(dst: IpAddress, src?: IpAddress, ifname?: string): NetRoute | RouteError {
    if (dst.family !== 4 || (src !== undefined && src.family !== 4)) return 'ENETUNREACH';
    return this.ip.output.route(dst.v4, src === undefined ? 0 : src.v4, ifname, dst, src);
  }

  pathMtu(dst: IpAddress): number {
    return dst.family === 4 ? this.ip.pathMtu(dst.v4) : IPV6_MIN_MTU;
  }

  learnPathMtu(dst: IpAddress, mtu: number): number {
    return dst.family === 4 ? this.ip.learnPathMtu(dst.v4, mtu) : IPV6_MIN_MTU;
  }

  maxTransportSize(dst: IpAddress): number {
    if (dst.family !== 4) return IPV6_MIN_MTU - IPV6_HEADER_LEN;
    return Math.min(this.ip.pathMtu(dst.v4), IPV4_MAX_DATAGRAM) - IPV4_MIN_HEADER_LEN;
  }

  isLocalAddress(a: IpAddress): boolean {
    return a.family === 4 && this.ip.isLocalAddress(a.v4);
  }

  isBroadcastAddress(a: IpAddress): boolean {
    return a.family === 4 && this.ip.isBroadcastAddress(a.v4);
  }

  sendInPlace(
    route: NetRoute,
    opts: SendOptions,
    frame: Uint8Array,
    gsoSize?: number,
  ): SendError | undefined {
    if (!(route instanceof Ipv4Route)) return 'ENETUNREACH';
    return this.ip.output.sendInPlace(route, opts, frame, undefined, gsoSize);
  }

  portUnreachable(info: IpPacketInfo): void {
    // RFC 1122 §4.1.3.1 (UDP) / RFC 792: Destination Unreachable, port unreachable.
    this.ip.icmp.sendError(info.packet, info, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_PORT);
  }
}
