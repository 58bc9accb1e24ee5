/**
 * The IPv6 layer as the family-generic NetworkLayer (src/ip/network.ts). Addresses of
 * another family have no route here and are never local.
 */
import type { IpAddress } from '../wire/address.ts';
import { ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_PORT } from '../wire/icmpv6.ts';
import { IPV6_HEADER_LEN } from '../wire/ipv6.ts';
import type { Ipv6Layer } from './ipv6.ts';
import { Ipv6Route } from './ipv6-output.ts';
import type {
  IpPacketInfo,
  NetRoute,
  NetworkLayer,
  RouteError,
  SendError,
  SendOptions,
  TransportProtocol,
} from './network.ts';

/** Largest IPv6 payload without a jumbogram (RFC 8200 §3 Payload Length). */
const IPV6_MAX_PAYLOAD = 65535;

export class Ipv6Network implements NetworkLayer {
  readonly ip: Ipv6Layer;

  constructor(ip: Ipv6Layer) {
    this.ip = ip;
  }

  get routeGeneration(): number {
    return this.ip.routeGeneration;
  }

  get defaultTtl(): number {
    return this.ip.defaultHopLimit;
  }

  registerProtocol(protocol: number, handler: TransportProtocol): void {
    this.ip.registerProtocol(protocol, handler);
  }

  route(dst: IpAddress, src?: IpAddress, ifname?: string): NetRoute | RouteError {
    if (dst.family !== 6 || (src !== undefined && src.family !== 6)) return 'ENETUNREACH';
    // RFC 4007 §6: an address with a zone (a link-local peer's scope id) goes out of that
    // interface and no other.
    let pin = ifname;
    const zone = dst.scope || src?.scope;
    if (pin === undefined && zone) {
      pin = this.ip.zoneInterface(zone)?.name;
      if (pin === undefined) return 'ENETUNREACH';
    }
    return this.ip.route(dst.v6, src?.v6, pin);
  }

  pathMtu(dst: IpAddress): number {
    return dst.family === 6 ? this.ip.pathMtu(dst.v6) : 0;
  }

  learnPathMtu(dst: IpAddress, mtu: number): number {
    return dst.family === 6 ? this.ip.learnPathMtu(dst.v6, mtu) : 0;
  }

  maxTransportSize(dst: IpAddress): number {
    if (dst.family !== 6) return 0;
    return Math.min(this.ip.pathMtu(dst.v6) - IPV6_HEADER_LEN, IPV6_MAX_PAYLOAD);
  }

  isLocalAddress(a: IpAddress): boolean {
    return a.family === 6 && this.ip.isLocalAddress(a.v6);
  }

  /** IPv6 has no broadcast (RFC 4291 §2); multicast is not broadcast. */
  isBroadcastAddress(_a: IpAddress): boolean {
    return false;
  }

  sendInPlace(
    route: NetRoute,
    opts: SendOptions,
    frame: Uint8Array,
    gsoSize?: number,
  ): SendError | undefined {
    if (!(route instanceof Ipv6Route)) return 'ENETUNREACH';
    return this.ip.output.sendInPlace(route, opts, frame, gsoSize);
  }

  portUnreachable(info: IpPacketInfo): void {
    if (info.src.family !== 6 || info.dst.family !== 6) return;
    // RFC 4443 §3.1: Destination Unreachable, code 4 (port unreachable).
    this.ip.icmp.sendError(
      info.packet,
      {
        src: info.src.v6,
        dst: info.dst.v6,
        hopLimit: info.ttl,
        iface: info.iface,
        linkMulticast: info.linkBroadcast,
        packet: info.packet,
      },
      ICMPV6_DEST_UNREACHABLE,
      ICMPV6_UNREACH_PORT,
    );
  }
}
