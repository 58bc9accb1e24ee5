/**
 * IPv4 output: route selection (interface, next hop, source address), the IP header
 * written in place in front of a transport segment, fragmentation to the interface or
 * path MTU, and the hand-off to the link: the loopback receive queue, a raw-IP device,
 * or Ethernet through the neighbour cache (ARP).
 *
 * RFCs: 791 (IP), 1122 (hosts: source selection, broadcasts), 1191 (PMTU), 6864 (identification).
 */
import { allocFrame } from '../link/frame-alloc.ts';
import type { Clock } from '../time/clock.ts';
import {
  type IpAddress,
  type Ipv4Address,
  isIpv4Loopback,
  isIpv4Multicast,
  MAC_BROADCAST,
} from '../wire/address.ts';
import { pseudoHeaderSumV4 } from '../wire/checksum.ts';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4 } from '../wire/ethernet.ts';
import { segmentTcp } from '../wire/gso.ts';
import { ipv4MulticastMac } from '../wire/igmp.ts';
import { emitIpv4, IPV4_MIN_HEADER_LEN, type Ipv4Repr } from '../wire/ipv4.ts';
import type { LinkLayer } from './ethernet.ts';
import { fragmentDatagram } from './fragment.ts';
import type { NetInterface } from './interface.ts';
import type { InterfaceTable } from './interfaces.ts';
import type { IpIdGenerator } from './ipid.ts';
import type { NetRoute, RouteError, SendError, SendOptions } from './network.ts';
import type { PmtuCache } from './pmtu.ts';
import type { Route, RouteTable } from './route.ts';
import type { StackStats } from './stats.ts';

export const DEFAULT_TTL = 64;
/** Largest IPv4 payload: 65535 - 20. */
export const IPV4_MAX_PAYLOAD = 65515;
const NO_IP_OPTIONS = new Uint8Array(0);

/** Where an IPv4 datagram to some destination goes (a NetRoute with IPv4's numbers). */
export class Ipv4Route implements NetRoute {
  readonly family = 4 as const;
  readonly iface: NetInterface;
  readonly nextHop: Ipv4Address;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** Limited or directed broadcast. */
  readonly broadcast: boolean;
  /** Delivered to ourselves (through loopback). */
  readonly local: boolean;
  /** The link header's room (see `Ipv4Output.headroom`). */
  readonly linkRoom: number;
  #source: IpAddress | undefined;
  #destination: IpAddress | undefined;

  constructor(
    iface: NetInterface,
    nextHop: Ipv4Address,
    src: Ipv4Address,
    dst: Ipv4Address,
    broadcast: boolean,
    local: boolean,
    linkRoom: number,
    source?: IpAddress,
    destination?: IpAddress,
  ) {
    this.iface = iface;
    this.nextHop = nextHop;
    this.src = src;
    this.dst = dst;
    this.broadcast = broadcast;
    this.local = local;
    this.linkRoom = linkRoom;
    this.#source = source;
    this.#destination = destination;
  }

  get source(): IpAddress {
    if (this.#source === undefined) this.#source = { family: 4, v4: this.src };
    return this.#source;
  }

  get destination(): IpAddress {
    if (this.#destination === undefined) this.#destination = { family: 4, v4: this.dst };
    return this.#destination;
  }

  get mtu(): number {
    return this.iface.mtu;
  }

  get headerRoom(): number {
    return this.linkRoom + IPV4_MIN_HEADER_LEN;
  }

  pseudoHeaderSum(protocol: number, length: number): number {
    return pseudoHeaderSumV4(this.src, this.dst, protocol, length);
  }
}

/** The IPv4 route type (the name the rest of the code used before routes became NetRoutes). */
export type OutRoute = Ipv4Route;

export interface Ipv4OutputEnv {
  readonly clock: Clock;
  readonly stats: StackStats;
  readonly interfaces: InterfaceTable;
  readonly routes: RouteTable;
  readonly link: LinkLayer;
  readonly ids: IpIdGenerator;
  readonly pmtu: PmtuCache;
  /** The TTL of datagrams whose sender sets none. */
  defaultTtl(): number;
  /** Has `iface` joined `group` for datagrams from `src` (IGMP's interface state)? */
  isMember(iface: NetInterface, group: Ipv4Address, src: Ipv4Address): boolean;
}

/** The header sendInPlace fills in for each datagram (an Ipv4Repr with writable fields). */
const reprScratch: { -readonly [K in keyof Ipv4Repr]: Ipv4Repr[K] } = {
  dscp: 0,
  ecn: 0,
  identification: 0,
  dontFragment: false,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 0,
  protocol: 0,
  src: 0,
  dst: 0,
  options: NO_IP_OPTIONS,
  payloadLength: 0,
};

export class Ipv4Output {
  readonly #env: Ipv4OutputEnv;

  constructor(env: Ipv4OutputEnv) {
    this.#env = env;
  }

  /**
   * Chooses interface, next hop and source address for `dst`. `src` (if non-zero)
   * is kept as the source; `ifname` pins the interface (SO_BINDTODEVICE, broadcasts).
   * `dstAddr` / `srcAddr`: the same addresses as IpAddress, when the caller has them.
   */
  route(
    dst: Ipv4Address,
    src = 0,
    ifname?: string,
    dstAddr?: IpAddress,
    srcAddr?: IpAddress,
  ): Ipv4Route | RouteError {
    const table = this.#env.interfaces;
    const given = src !== 0 ? srcAddr : undefined;
    if (table.isLocalAddress(dst)) {
      const s = src !== 0 ? src : isIpv4Loopback(dst) ? 0x7f000001 : dst;
      return new Ipv4Route(table.loopback, dst, s, dst, false, true, 0, given, dstAddr);
    }
    if (dst === 0xffffffff) {
      // Limited broadcast (RFC 919, RFC 1122 §3.3.6): out of the pinned interface, the
      // interface owning the source address, or the default route's interface.
      let iface = ifname !== undefined ? table.get(ifname) : undefined;
      if (!iface && src !== 0) iface = table.list.find((i) => !i.isLoopback && i.hasAddress(src));
      if (!iface) {
        const r = this.#env.routes.lookup(dst, (x) => this.usable(x) && x.interface !== 'lo');
        iface = r ? table.get(r.interface) : undefined;
      }
      if (!iface) iface = table.list.find((i) => !i.isLoopback && i.up && i.addresses.length > 0);
      if (!iface?.up) return 'ENETUNREACH';
      const s = src !== 0 ? src : iface.primaryAddress;
      if (s === undefined) return 'EADDRNOTAVAIL';
      return new Ipv4Route(iface, dst, s, dst, true, false, this.#env.link.headroom(iface), given, dstAddr);
    }
    if (isIpv4Multicast(dst)) return this.#multicastRoute(dst, src, ifname, given, dstAddr);
    const r = this.#env.routes.lookup(
      dst,
      (x) => this.usable(x) && (ifname === undefined || x.interface === ifname),
    );
    if (!r) return 'ENETUNREACH';
    const iface = table.get(r.interface)!;
    const nextHop = r.gateway ?? dst;
    const s = src !== 0 ? src : (r.source ?? iface.addressFor(nextHop) ?? iface.primaryAddress);
    if (s === undefined) return 'EADDRNOTAVAIL';
    const broadcast = r.gateway === undefined && iface.isDirectedBroadcast(dst);
    return new Ipv4Route(
      iface,
      nextHop,
      s,
      dst,
      broadcast,
      false,
      this.#env.link.headroom(iface),
      given,
      dstAddr,
    );
  }

  /**
   * A route to a group: out of `ifname` (IP_MULTICAST_IF, IP_ADD_MEMBERSHIP's interface) or
   * the interface the routing table picks for the group (Linux: a 224.0.0.0/4 route or the
   * default), to the group itself as the next hop (RFC 1112 §6.4: no router is involved in
   * sending to a local group). The source is the interface's address, or 0.0.0.0 when it
   * has none yet (RFC 3376 §4.2.13 allows it for reports).
   */
  #multicastRoute(
    dst: Ipv4Address,
    src: Ipv4Address,
    ifname: string | undefined,
    given: IpAddress | undefined,
    dstAddr: IpAddress | undefined,
  ): Ipv4Route | RouteError {
    const table = this.#env.interfaces;
    let iface: NetInterface | undefined;
    if (ifname !== undefined) iface = table.get(ifname);
    else {
      const r = this.#env.routes.lookup(dst, (x) => this.usable(x) && x.interface !== 'lo');
      iface = r ? table.get(r.interface) : undefined;
    }
    if (!iface?.up) return 'ENETUNREACH';
    const s = src !== 0 ? src : (iface.primaryAddress ?? 0);
    return new Ipv4Route(iface, dst, s, dst, false, false, this.#env.link.headroom(iface), given, dstAddr);
  }

  /** Is the route's interface up? */
  usable(r: Route): boolean {
    const i = this.#env.interfaces.get(r.interface);
    return i?.up === true;
  }

  /**
   * Sends `payload` (a transport header and data, checksum done) along `route`.
   * Fragments to the interface or path MTU unless `dontFragment`, in which case a
   * datagram too big fails with EMSGSIZE (as Linux for IP_PMTUDISC_DO).
   */
  send(
    route: Ipv4Route,
    opts: SendOptions,
    payload: Uint8Array,
    options: Uint8Array = NO_IP_OPTIONS,
  ): SendError | undefined {
    if (payload.length > IPV4_MAX_PAYLOAD) {
      this.#env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    const at = route.linkRoom + IPV4_MIN_HEADER_LEN + ((options.length + 3) & ~3);
    const frame = allocFrame(at + payload.length);
    frame.set(payload, at);
    return this.sendInPlace(route, opts, frame, options);
  }

  /**
   * `send` for a datagram already laid out in its frame, so nothing is copied: `frame`
   * is `route.linkRoom` free bytes (link header), 20 free bytes (IP header), then the
   * transport header and data (checksum done). The IP and link headers are written
   * in front and the frame is handed to the device as is. Takes ownership of `frame`.
   * `options` (IP options, e.g. an echo reply's): the IP header room is then 20 bytes plus
   * the options padded to a multiple of 4. `gsoSize`: a TCP super-segment (NetworkLayer.sendInPlace).
   */
  sendInPlace(
    route: Ipv4Route,
    opts: SendOptions,
    frame: Uint8Array,
    options: Uint8Array = NO_IP_OPTIONS,
    gsoSize?: number,
  ): SendError | undefined {
    const env = this.#env;
    const hr = route.linkRoom;
    const ipHl = IPV4_MIN_HEADER_LEN + ((options.length + 3) & ~3);
    const payloadLength = frame.length - hr - ipHl;
    if (payloadLength > IPV4_MAX_PAYLOAD) {
      env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    // One header object reused for every datagram: it is written out (or fragmented) before
    // this returns.
    const repr = reprScratch;
    repr.dscp = opts.dscp ?? 0;
    repr.ecn = opts.ecn ?? 0;
    repr.identification = env.ids.next(route.src, route.dst, opts.protocol);
    repr.dontFragment = opts.dontFragment ?? false;
    // ip(7) IP_MULTICAST_TTL: multicast datagrams default to TTL 1 (stay on the link).
    repr.ttl = opts.ttl ?? (isIpv4Multicast(route.dst) ? 1 : env.defaultTtl());
    repr.protocol = opts.protocol;
    repr.src = route.src;
    repr.dst = route.dst;
    repr.options = options;
    repr.payloadLength = payloadLength;
    env.stats.ip.sent++;
    let mtu = route.iface.mtu;
    if (!route.local && !repr.dontFragment) {
      const p = env.pmtu.get(route.dst, env.clock.now());
      if (p !== undefined) mtu = Math.min(mtu, p);
    }
    if (ipHl + payloadLength <= mtu) {
      emitIpv4(repr, frame, hr);
      if (route.broadcast || this.#loopsMulticast(route, opts)) this.loopBack(frame.slice(hr));
      // (The packet's view is made only where it is needed: linkOutput.)
      return hr === 0
        ? this.linkOutput(route.iface, route.nextHop, frame, route.broadcast)
        : this.linkOutput(route.iface, route.nextHop, undefined, route.broadcast, frame);
    }
    if (gsoSize !== undefined && !route.broadcast && !route.local) {
      // A TCP super-segment: whole to a device that takes it (linkOutput), else cut here.
      emitIpv4(repr, frame, hr);
      const dev = route.iface.device;
      const whole =
        dev !== null &&
        dev.txChecksumOffload === true &&
        (dev.gsoMaxSize ?? 0) >= ipHl + payloadLength &&
        ipHl + (frame[hr + ipHl + 12] >> 4) * 4 + gsoSize <= route.iface.mtu;
      if (whole)
        return this.linkOutput(
          route.iface,
          route.nextHop,
          frame.subarray(hr),
          false,
          hr === 0 ? undefined : frame,
          gsoSize,
        );
      return this.#softwareSegments(route.iface, route.nextHop, frame, hr, gsoSize);
    }
    if (repr.dontFragment) {
      env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    const frags = fragmentDatagram(repr, frame.subarray(hr + ipHl), mtu);
    if (!frags) {
      env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    env.stats.ip.fragOk++;
    env.stats.ip.fragCreates += frags.length;
    let err: SendError | undefined;
    const loop = route.broadcast || this.#loopsMulticast(route, opts);
    for (const f of frags) {
      if (loop) this.loopBack(f.slice());
      err = this.linkOutput(route.iface, route.nextHop, f, route.broadcast) ?? err;
    }
    return err;
  }

  /**
   * ip(7) IP_MULTICAST_LOOP (default on): a datagram to a group the outgoing interface
   * has joined is also delivered here, as Linux's ip_mc_output loops a copy when
   * "sk_mc_loop(sk) && ip_check_mc_rcu(in_dev, daddr, saddr, protocol)". On loopback the
   * datagram itself comes back, so no copy is made (Linux lo: one copy, loop on or off).
   */
  #loopsMulticast(route: Ipv4Route, opts: SendOptions): boolean {
    return (
      isIpv4Multicast(route.dst) &&
      opts.multicastLoop !== false &&
      !route.iface.isLoopback &&
      this.#env.isMember(route.iface, route.dst, route.src)
    );
  }

  /**
   * Hands a finished IP packet to the link: loopback queue, raw IP device, or Ethernet
   * via ARP. `frame`, when given, is the buffer `pkt` sits in at offset 14 with the
   * Ethernet header's room free (see PendingPacket.frame); `pkt` may then be left out
   * (undefined), and a view of it is made only where one is needed (not for a resolved
   * neighbour: one view fewer per segment).
   */
  linkOutput(
    iface: NetInterface,
    nextHop: Ipv4Address,
    packet: Uint8Array | undefined,
    broadcast: boolean,
    frame?: Uint8Array,
    gsoSize?: number,
  ): SendError | undefined {
    const env = this.#env;
    if (!iface.up) {
      env.stats.ip.interfaceDown++;
      return 'ENETDOWN';
    }
    if (iface.isLoopback) {
      this.loopBack(packet ?? frame!.subarray(ETHERNET_HEADER_LEN));
      return undefined;
    }
    if (iface.device!.linkType === 'ip') {
      env.link.transmitRaw(iface, packet ?? frame!.subarray(ETHERNET_HEADER_LEN), gsoSize);
      return undefined;
    }
    if (broadcast) {
      env.link.transmit(iface, MAC_BROADCAST, ETHERTYPE_IPV4, packet, frame);
      return undefined;
    }
    if (isIpv4Multicast(nextHop)) {
      // RFC 1112 §6.4: a group's Ethernet address is 01:00:5e and its low 23 bits.
      env.link.transmit(iface, ipv4MulticastMac(nextHop), ETHERTYPE_IPV4, packet, frame);
      return undefined;
    }
    const arp = iface.arp!;
    // The common case, a resolved neighbour, needs no PendingPacket object.
    const mac = arp.resolved(nextHop);
    if (mac !== undefined) {
      env.link.transmit(iface, mac, ETHERTYPE_IPV4, packet, frame, gsoSize);
      return undefined;
    }
    const pkt = packet ?? frame!.subarray(ETHERNET_HEADER_LEN);
    // A super-segment waits for ARP as the segments it stands for (the pending queue keeps no gso size).
    if (gsoSize !== undefined) return this.#softwareSegments(iface, nextHop, pkt, 0, gsoSize);
    if (!arp.send(nextHop, frame === undefined ? { bytes: pkt } : { bytes: pkt, frame })) {
      env.stats.ip.outDiscards++;
      return 'ENOBUFS';
    }
    return undefined;
  }

  /**
   * Software GSO (the kernel's skb_gso_segment in validate_xmit_skb): the super-segment
   * whose IP header starts at `frame[hr]` goes out as its segments, each with the same room
   * in front and its checksums filled in unless the device offloads them.
   */
  #softwareSegments(
    iface: NetInterface,
    nextHop: Ipv4Address,
    frame: Uint8Array,
    hr: number,
    gsoSize: number,
  ): SendError | undefined {
    const dev = iface.device;
    const segs = segmentTcp(
      frame,
      hr,
      gsoSize,
      !(dev === null || dev.txChecksumOffload === true),
      allocFrame,
    );
    if (segs === null) {
      this.#env.stats.ip.outDiscards++;
      return 'EMSGSIZE';
    }
    this.#env.stats.ip.sent += segs.length - 1;
    let err: SendError | undefined;
    for (const s of segs)
      err =
        this.linkOutput(iface, nextHop, hr === 0 ? s : s.subarray(hr), false, hr === 0 ? undefined : s) ??
        err;
    return err;
  }

  /** Queues a packet on the loopback interface: it is received in the stack's next poll, never synchronously. */
  loopBack(pkt: Uint8Array): void {
    this.#env.interfaces.enqueue(this.#env.interfaces.loopback, pkt);
  }
}
