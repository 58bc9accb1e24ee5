/**
 * The IPv4 layer of a stack: interfaces, routing, ARP, input validation, local
 * delivery by protocol, forwarding (when enabled), fragmentation and reassembly,
 * ICMP (echo, errors out with rate limiting, errors in delivered to transports),
 * and the loopback interface.
 *
 * RFCs: 791 (IP), 792 (ICMP), 826 (ARP), 815 (reassembly), 1122 (hosts), 1191 (PMTU),
 * 1624 (incremental checksum), 1812 (routers), 6864 (identification).
 */
import type { Device } from '../link/device.ts';
import { allocFrame } from '../link/frame-alloc.ts';
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import {
  formatIpv4,
  type Ipv4Address,
  isIpv4Loopback,
  isIpv4Multicast,
  isMacBroadcast,
  isMacMulticast,
  localMac,
  MAC_BROADCAST,
  MAC_ZERO,
  type MacAddress,
  macEquals,
  parseIpv4,
} from '../wire/address.ts';
import { ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, emitArp, parseArp } from '../wire/arp.ts';
import { checksumUpdate16 } from '../wire/checksum.ts';
import { isWireError } from '../wire/error.ts';
import {
  ETHERNET_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  VLAN_TAG_LEN,
  writeEthernetHeader,
} from '../wire/ethernet.ts';
import {
  emitIcmpv4,
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_UNREACH_FRAG_NEEDED,
  ICMPV4_UNREACH_HOST,
  ICMPV4_UNREACH_NET,
  ICMPV4_UNREACH_PORT,
  ICMPV4_UNREACH_PROTOCOL,
  type Icmpv4Invoking,
  type Icmpv4Repr,
  icmpv4Length,
  parseIcmpv4,
  parseIcmpv4Invoking,
} from '../wire/icmpv4.ts';
import {
  emitIpv4,
  IP_PROTO_ICMP,
  IPV4_MIN_HEADER_LEN,
  type Ipv4Repr,
  Ipv4View,
  parseIpv4Packet,
} from '../wire/ipv4.ts';
import { ArpCache, type ArpConfig } from './arp.ts';
import { fragmentDatagram, Reassembler, type ReassemblyConfig } from './fragment.ts';
import {
  DEFAULT_ICMP_RATE,
  ICMP_ERROR_MAX_LEN,
  type IcmpRateConfig,
  icmpErrorSuppressed,
  PMTU_EXPIRY,
  TokenBucket,
} from './icmp.ts';
import { makeInterfaceAddress, NetInterface, type PendingPacket } from './interface.ts';
import { IpIdGenerator } from './ipid.ts';
import { parseCidr, type Route, type RouteSpec, RouteTable } from './route.ts';
import type { StackStats } from './stats.ts';

export const DEFAULT_TTL = 64;
export const LOOPBACK_MTU = 65536;
/** Largest IPv4 payload: 65535 - 20. */
export const IPV4_MAX_PAYLOAD = 65515;
const NO_IP_OPTIONS = new Uint8Array(0);

/** The kinds of ICMP error a transport is told about (TcpLayer.icmpError takes the same names). */
export type IcmpErrorKind =
  | 'unreachable'
  | 'port-unreachable'
  | 'proto-unreachable'
  | 'host-unreachable'
  | 'net-unreachable'
  | 'frag-needed'
  | 'time-exceeded';

/** A received ICMP error about a datagram we sent, as delivered to the transport it quotes. */
export interface ReceivedIcmpError {
  readonly kind: IcmpErrorKind;
  readonly type: number;
  readonly code: number;
  /** Who sent the error (a router, or the destination host). */
  readonly from: Ipv4Address;
  readonly quoted: Icmpv4Invoking;
  /** Next-hop MTU for 'frag-needed' (RFC 1191), when the router gave one. */
  readonly nextHopMtu?: number;
}

/** What a transport learns about a datagram delivered to it. */
export interface IpPacketInfo {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  readonly iface: NetInterface;
  /** Sent to a broadcast address (limited or directed) of ours. */
  readonly broadcast: boolean;
  /** Arrived as a link-layer broadcast/multicast frame. */
  readonly linkBroadcast: boolean;
  /** The datagram (header + payload, possibly reassembled) for quoting in ICMP errors. */
  readonly packet: Uint8Array;
}

/** A protocol above IP (UDP, TCP) registered with `registerProtocol`. */
export interface TransportProtocol {
  receive(info: IpPacketInfo, payload: Uint8Array): void;
  icmpError(err: ReceivedIcmpError): void;
}

/** Where a datagram to some destination goes. */
export interface OutRoute {
  readonly iface: NetInterface;
  readonly nextHop: Ipv4Address;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** Limited or directed broadcast. */
  readonly broadcast: boolean;
  /** Delivered to ourselves (through loopback). */
  readonly local: boolean;
}

export type RouteError = 'ENETUNREACH' | 'EHOSTUNREACH' | 'EADDRNOTAVAIL' | 'ENETDOWN';
export type SendError = RouteError | 'EMSGSIZE' | 'ENOBUFS';

export interface SendOptions {
  readonly protocol: number;
  readonly ttl?: number;
  readonly dscp?: number;
  readonly ecn?: number;
  readonly dontFragment?: boolean;
}

export interface InterfaceSpec {
  readonly name: string;
  readonly device: Device;
  readonly mac?: MacAddress;
  /** CIDR strings, e.g. '10.0.1.2/24'. */
  readonly addresses?: readonly string[];
  readonly mtu?: number;
}

export interface Ipv4Config {
  arp?: Partial<ArpConfig>;
  reassembly?: Partial<ReassemblyConfig>;
  icmpRate?: Partial<IcmpRateConfig>;
  /** Answer echo requests sent to a broadcast address. Default false (Linux icmp_echo_ignore_broadcasts). */
  echoBroadcast?: boolean;
  defaultTtl?: number;
}

export interface Ipv4Env {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  readonly stats: StackStats;
  forwarding: boolean;
}

export type PingResult =
  | {
      readonly ok: true;
      /** Round-trip time in microseconds (virtual time on a simulation). */
      readonly rtt: number;
      /** TTL of the reply as received. */
      readonly ttl: number;
      /** ICMP bytes in the reply (8-byte header + data), as ping(8) prints. */
      readonly bytes: number;
      readonly from: Ipv4Address;
      readonly seq: number;
    }
  | {
      readonly ok: false;
      /** 'timeout', an ICMP error kind, or the errno of a failed send. */
      readonly error: 'timeout' | IcmpErrorKind | SendError;
      /** Who reported the error (a router), when an ICMP error came back. */
      readonly from?: Ipv4Address;
      readonly seq: number;
    };

export interface PingOptions {
  /** ICMP data bytes (default 56, as ping(8)). */
  size?: number;
  ttl?: number;
  /** Microseconds to wait for the reply (default 1 s). */
  timeout?: number;
  id?: number;
  seq?: number;
  /** Source address. */
  src?: Ipv4Address;
}

interface PingWaiter {
  readonly sent: Instant;
  readonly seq: number;
  resolve(r: PingResult): void;
  readonly timer: { cancel(): void };
}

/** The kind name for an ICMP error type/code (what transports are told). */
export function icmpErrorKind(type: number, code: number): IcmpErrorKind | undefined {
  if (type === ICMPV4_TIME_EXCEEDED) return 'time-exceeded';
  if (type !== ICMPV4_DEST_UNREACHABLE) return undefined;
  switch (code) {
    case ICMPV4_UNREACH_NET:
    case 6: // network unknown
    case 9: // network administratively prohibited
    case 11: // network unreachable for TOS
      return 'net-unreachable';
    case ICMPV4_UNREACH_HOST:
    case 7: // host unknown
    case 10: // host administratively prohibited
    case 12: // host unreachable for TOS
      return 'host-unreachable';
    case ICMPV4_UNREACH_PROTOCOL:
      return 'proto-unreachable';
    case ICMPV4_UNREACH_PORT:
      return 'port-unreachable';
    case ICMPV4_UNREACH_FRAG_NEEDED:
      return 'frag-needed';
    default:
      return 'unreachable';
  }
}

export class Ipv4Layer {
  readonly interfaces: NetInterface[] = [];
  readonly routes = new RouteTable();
  readonly loopback: NetInterface;
  readonly reassembler: Reassembler;
  readonly config: Ipv4Config;
  readonly #env: Ipv4Env;
  readonly #ids: IpIdGenerator;
  readonly #icmpBucket: TokenBucket;
  readonly #protocols = new Map<number, TransportProtocol>();
  readonly #loopQueue: Uint8Array[] = [];
  readonly #loopTimer;
  readonly #pmtu = new Map<Ipv4Address, { mtu: number; expires: Instant }>();
  readonly #pings = new Map<string, PingWaiter>();

  constructor(env: Ipv4Env, config: Ipv4Config = {}) {
    this.#env = env;
    this.config = config;
    this.#ids = new IpIdGenerator(env.rng);
    const rate = { ...DEFAULT_ICMP_RATE, ...config.icmpRate };
    this.#icmpBucket = new TokenBucket(rate.ratePerSecond, rate.burst, env.clock.now());
    this.reassembler = new Reassembler(
      {
        now: () => env.clock.now(),
        timers: env.timers,
        stats: env.stats.ip,
        timedOut: (_repr, quote) => {
          // RFC 792: Time Exceeded code 1, "fragment reassembly time exceeded".
          this.sendIcmpError(quote, undefined, ICMPV4_TIME_EXCEEDED, 1);
        },
      },
      config.reassembly,
    );
    this.#loopTimer = env.timers.timer(() => this.#drainLoopback());
    // The loopback interface (RFC 1122 §3.2.1.3: 127/8 "MUST NOT appear outside a host"),
    // up from the start so a stack with no other interface can talk to itself.
    const lo = new NetInterface('lo', 0, null, MAC_ZERO, LOOPBACK_MTU);
    lo.addresses.push(makeInterfaceAddress(0x7f000001, 8));
    this.loopback = lo;
    this.interfaces.push(lo);
    this.routes.add({
      destination: 0x7f000000,
      prefix: 8,
      gateway: undefined,
      interface: 'lo',
      metric: 0,
      source: 0x7f000001,
      origin: 'connected',
    });
  }

  get forwarding(): boolean {
    return this.#env.forwarding;
  }

  registerProtocol(protocol: number, handler: TransportProtocol): void {
    this.#protocols.set(protocol, handler);
  }

  // ---------------------------------------------------------------- interfaces

  addInterface(spec: InterfaceSpec): NetInterface {
    if (this.interfaces.some((i) => i.name === spec.name))
      throw new Error(`interface ${spec.name} already exists`);
    const mac = spec.mac ?? localMac(this.#env.rng.nextU32());
    const iface = new NetInterface(
      spec.name,
      this.interfaces.length,
      spec.device,
      mac.slice(0, 6),
      spec.mtu ?? spec.device.mtu,
    );
    if (spec.device.linkType === 'ethernet') {
      iface.arp = new ArpCache<PendingPacket>(
        {
          now: () => this.#env.clock.now(),
          timers: this.#env.timers,
          stats: this.#env.stats.arp,
          sendRequest: (target, to) => this.#sendArp(iface, ARP_OP_REQUEST, target, to ?? MAC_BROADCAST, to),
          transmit: (dstMac, p) => this.#transmitFrame(iface, dstMac, ETHERTYPE_IPV4, p.bytes, p.frame),
          resolutionFailed: (_target, packets) => {
            // RFC 1122 §2.3.2.2 / RFC 1812 §5.2.7.1: the sender learns host unreachable.
            for (const p of packets)
              this.sendIcmpError(p.bytes, undefined, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_HOST);
          },
        },
        this.config.arp,
      );
    }
    spec.device.onReceive = (frame) => this.receiveFrame(iface, frame);
    this.interfaces.push(iface);
    for (const a of spec.addresses ?? []) this.addAddress(iface.name, a);
    return iface;
  }

  getInterface(name: string): NetInterface | undefined {
    return this.interfaces.find((i) => i.name === name);
  }

  /** Adds an address ('10.0.1.2/24'): its on-link route appears and a gratuitous ARP goes out. */
  addAddress(ifname: string, cidr: string): void {
    const iface = this.getInterface(ifname);
    if (!iface) throw new Error(`no interface ${ifname}`);
    const c = parseCidr(cidr);
    if (!c) throw new Error(`bad address ${cidr}`);
    if (iface.hasAddress(c.address)) return;
    const ia = makeInterfaceAddress(c.address, c.prefix);
    iface.addresses.push(ia);
    this.routes.add({
      destination: c.address,
      prefix: c.prefix,
      gateway: undefined,
      interface: iface.name,
      metric: 0,
      source: c.address,
      origin: 'connected',
    });
    // Gratuitous ARP (RFC 5227 §3 "ARP Announcement"): sender = target = the new address.
    if (iface.arp && iface.up)
      this.#sendArp(iface, ARP_OP_REQUEST, c.address, MAC_BROADCAST, undefined, c.address);
  }

  setInterfaceUp(ifname: string, up: boolean): void {
    const iface = this.getInterface(ifname);
    if (!iface) throw new Error(`no interface ${ifname}`);
    iface.up = up;
    if (!up) iface.arp?.flush();
  }

  addRoute(spec: RouteSpec): Route {
    const dest =
      typeof spec.destination === 'string'
        ? parseCidr(spec.destination)
        : { address: spec.destination.address, prefix: spec.destination.prefix };
    if (!dest) throw new Error(`bad route destination ${String(spec.destination)}`);
    const gw = typeof spec.gateway === 'string' ? parseIpv4(spec.gateway) : spec.gateway;
    if (typeof spec.gateway === 'string' && gw === undefined) throw new Error(`bad gateway ${spec.gateway}`);
    let ifname = spec.interface;
    if (ifname === undefined) {
      if (gw === undefined) throw new Error('a route needs a gateway or an interface');
      // The interface is the one the gateway is on-link through.
      const via = this.routes.lookup(gw, (r) => r.gateway === undefined);
      if (!via) throw new Error(`gateway ${formatIpv4(gw)} is not on any connected network`);
      ifname = via.interface;
    } else if (!this.getInterface(ifname)) throw new Error(`no interface ${ifname}`);
    const src = typeof spec.source === 'string' ? parseIpv4(spec.source) : spec.source;
    const route: Route = {
      destination: dest.address,
      prefix: dest.prefix,
      gateway: gw,
      interface: ifname,
      metric: spec.metric ?? 0,
      source: src,
      origin: 'static',
    };
    this.routes.add(route);
    return route;
  }

  /** Is `a` one of this host's addresses (any interface, loopback range included)? Weak host model (RFC 1122 §3.3.4.2). */
  isLocalAddress(a: Ipv4Address): boolean {
    if (isIpv4Loopback(a)) return this.loopback.up;
    for (const i of this.interfaces) if (i.up && i.hasAddress(a)) return true;
    return false;
  }

  /** Is `a` the limited broadcast or the directed broadcast of one of our subnets? */
  isBroadcastAddress(a: Ipv4Address): boolean {
    if (a === 0xffffffff) return true;
    for (const i of this.interfaces) if (i.isDirectedBroadcast(a)) return true;
    return false;
  }

  /** The path MTU towards `dst` (learnt from fragmentation-needed, else the outgoing interface's MTU). */
  pathMtu(dst: Ipv4Address): number {
    const r = this.route(dst);
    const base = typeof r === 'string' ? 576 : r.iface.mtu;
    const p = this.#pmtu.get(dst);
    if (p && p.expires > this.#env.clock.now()) return Math.min(base, p.mtu);
    return base;
  }

  // ---------------------------------------------------------------- output

  /**
   * Chooses interface, next hop and source address for `dst`. `src` (if non-zero)
   * is kept as the source; `ifname` pins the interface (SO_BINDTODEVICE, broadcasts).
   */
  route(dst: Ipv4Address, src = 0, ifname?: string): OutRoute | RouteError {
    if (this.isLocalAddress(dst)) {
      const s = src !== 0 ? src : isIpv4Loopback(dst) ? 0x7f000001 : dst;
      return { iface: this.loopback, nextHop: dst, src: s, dst, broadcast: false, local: true };
    }
    if (dst === 0xffffffff) {
      // Limited broadcast (RFC 919, RFC 1122 §3.3.6): out of the pinned interface, the
      // interface owning the source address, or the default route's interface.
      let iface = ifname !== undefined ? this.getInterface(ifname) : undefined;
      if (!iface && src !== 0) iface = this.interfaces.find((i) => !i.isLoopback && i.hasAddress(src));
      if (!iface) {
        const r = this.routes.lookup(dst, (x) => this.#usable(x) && x.interface !== 'lo');
        iface = r ? this.getInterface(r.interface) : undefined;
      }
      if (!iface) iface = this.interfaces.find((i) => !i.isLoopback && i.up && i.addresses.length > 0);
      if (!iface?.up) return 'ENETUNREACH';
      const s = src !== 0 ? src : iface.primaryAddress;
      if (s === undefined) return 'EADDRNOTAVAIL';
      return { iface, nextHop: dst, src: s, dst, broadcast: true, local: false };
    }
    if (isIpv4Multicast(dst)) return 'ENETUNREACH'; // multicast routing is not implemented
    const r = this.routes.lookup(
      dst,
      (x) => this.#usable(x) && (ifname === undefined || x.interface === ifname),
    );
    if (!r) return 'ENETUNREACH';
    const iface = this.getInterface(r.interface)!;
    const nextHop = r.gateway ?? dst;
    const s = src !== 0 ? src : (r.source ?? iface.addressFor(nextHop) ?? iface.primaryAddress);
    if (s === undefined) return 'EADDRNOTAVAIL';
    const broadcast = r.gateway === undefined && iface.isDirectedBroadcast(dst);
    return { iface, nextHop, src: s, dst, broadcast, local: false };
  }

  #usable(r: Route): boolean {
    const i = this.getInterface(r.interface);
    return i?.up === true;
  }

  /**
   * Bytes a datagram built in place for `route` keeps free in front of its IP header
   * (the link header: 14 on Ethernet, 0 on loopback and raw-IP links). See `sendInPlace`.
   */
  headroom(route: OutRoute): number {
    return route.iface.arp !== undefined ? ETHERNET_HEADER_LEN : 0;
  }

  /**
   * Sends `payload` (a transport header and data, checksum done) along `route`.
   * Fragments to the interface or path MTU unless `dontFragment`, in which case a
   * datagram too big fails with EMSGSIZE (as Linux for IP_PMTUDISC_DO).
   */
  send(route: OutRoute, opts: SendOptions, payload: Uint8Array): SendError | undefined {
    if (payload.length > IPV4_MAX_PAYLOAD) {
      this.#env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    const at = this.headroom(route) + IPV4_MIN_HEADER_LEN;
    const frame = allocFrame(at + payload.length);
    frame.set(payload, at);
    return this.sendInPlace(route, opts, frame);
  }

  /**
   * `send` for a datagram already laid out in its frame, so nothing is copied: `frame`
   * is `headroom(route)` free bytes (link header), 20 free bytes (IP header), then the
   * transport header and data (checksum done). The IP and link headers are written
   * in front and the frame is handed to the device as is. Takes ownership of `frame`.
   */
  sendInPlace(route: OutRoute, opts: SendOptions, frame: Uint8Array): SendError | undefined {
    const hr = this.headroom(route);
    const payloadLength = frame.length - hr - IPV4_MIN_HEADER_LEN;
    if (payloadLength > IPV4_MAX_PAYLOAD) {
      this.#env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    const repr: Ipv4Repr = {
      dscp: opts.dscp ?? 0,
      ecn: opts.ecn ?? 0,
      identification: this.#ids.next(route.src, route.dst, opts.protocol),
      dontFragment: opts.dontFragment ?? false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: opts.ttl ?? this.config.defaultTtl ?? DEFAULT_TTL,
      protocol: opts.protocol,
      src: route.src,
      dst: route.dst,
      options: NO_IP_OPTIONS,
      payloadLength,
    };
    this.#env.stats.ip.sent++;
    let mtu = route.iface.mtu;
    if (!route.local && !repr.dontFragment) {
      const p = this.#pmtu.get(route.dst);
      if (p && p.expires > this.#env.clock.now()) mtu = Math.min(mtu, p.mtu);
    }
    if (IPV4_MIN_HEADER_LEN + payloadLength <= mtu) {
      emitIpv4(repr, frame, hr);
      const pkt = hr === 0 ? frame : frame.subarray(hr);
      if (route.broadcast) this.#loopBack(pkt.slice());
      return this.#linkOutput(route.iface, route.nextHop, pkt, route.broadcast, hr === 0 ? undefined : frame);
    }
    if (repr.dontFragment) {
      this.#env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    const frags = fragmentDatagram(repr, frame.subarray(hr + IPV4_MIN_HEADER_LEN), mtu);
    if (!frags) {
      this.#env.stats.ip.fragFails++;
      return 'EMSGSIZE';
    }
    this.#env.stats.ip.fragOk++;
    this.#env.stats.ip.fragCreates += frags.length;
    let err: SendError | undefined;
    for (const f of frags) {
      if (route.broadcast) this.#loopBack(f.slice());
      err = this.#linkOutput(route.iface, route.nextHop, f, route.broadcast) ?? err;
    }
    return err;
  }

  /**
   * Hands a finished IP packet to the link: loopback queue, raw IP device, or Ethernet
   * via ARP. `frame`, when given, is the buffer `pkt` sits in at offset 14 with the
   * Ethernet header's room free (see PendingPacket.frame).
   */
  #linkOutput(
    iface: NetInterface,
    nextHop: Ipv4Address,
    pkt: Uint8Array,
    broadcast: boolean,
    frame?: Uint8Array,
  ): SendError | undefined {
    if (!iface.up) {
      this.#env.stats.ip.interfaceDown++;
      return 'ENETDOWN';
    }
    if (iface.isLoopback) {
      this.#loopBack(pkt);
      return undefined;
    }
    const dev = iface.device!;
    if (dev.linkType === 'ip') {
      this.#env.stats.link.sent++;
      dev.transmit(pkt);
      return undefined;
    }
    if (broadcast) {
      this.#transmitFrame(iface, MAC_BROADCAST, ETHERTYPE_IPV4, pkt, frame);
      return undefined;
    }
    const arp = iface.arp!;
    // The common case, a resolved neighbour, needs no PendingPacket object.
    const mac = arp.resolved(nextHop);
    if (mac !== undefined) {
      this.#transmitFrame(iface, mac, ETHERTYPE_IPV4, pkt, frame);
      return undefined;
    }
    if (!arp.send(nextHop, frame === undefined ? { bytes: pkt } : { bytes: pkt, frame })) {
      this.#env.stats.ip.outDiscards++;
      return 'ENOBUFS';
    }
    return undefined;
  }

  /**
   * Puts `payload` in an Ethernet frame and transmits it. `frame`, when given, is the
   * buffer `payload` sits in at offset 14: the header is written in front, no copy.
   */
  #transmitFrame(
    iface: NetInterface,
    dst: MacAddress,
    ethertype: number,
    payload: Uint8Array,
    frame?: Uint8Array,
  ): void {
    const dev = iface.device;
    if (!dev || !iface.up) {
      this.#env.stats.ip.interfaceDown++;
      return;
    }
    if (payload.length > iface.mtu) {
      this.#env.stats.link.tooBig++;
      return;
    }
    let out = frame;
    if (out === undefined) {
      out = new Uint8Array(ETHERNET_HEADER_LEN + payload.length);
      out.set(payload, ETHERNET_HEADER_LEN);
    }
    writeEthernetHeader(out, 0, dst, iface.mac, ethertype);
    this.#env.stats.link.sent++;
    dev.transmit(out);
  }

  /** Queues a packet on the loopback interface; it is delivered from the timer queue, never synchronously. */
  #loopBack(pkt: Uint8Array): void {
    this.#loopQueue.push(pkt);
    if (!this.#loopTimer.armed) this.#loopTimer.set(this.#env.clock.now());
  }

  #drainLoopback(): void {
    const q = this.#loopQueue.splice(0);
    for (const p of q) this.#ipInput(this.loopback, p, false);
  }

  // ---------------------------------------------------------------- ARP

  #sendArp(
    iface: NetInterface,
    op: typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY,
    targetIp: Ipv4Address,
    frameDst: MacAddress,
    targetMac: MacAddress | undefined,
    senderIp?: Ipv4Address,
  ): void {
    const sip = senderIp ?? iface.addressFor(targetIp) ?? iface.primaryAddress;
    if (sip === undefined) return;
    const body = new Uint8Array(ARP_LEN);
    emitArp({ op, senderMac: iface.mac, senderIp: sip, targetMac: targetMac ?? MAC_ZERO, targetIp }, body);
    this.#transmitFrame(iface, frameDst, ETHERTYPE_ARP, body);
  }

  #arpInput(iface: NetInterface, bytes: Uint8Array): void {
    const stats = this.#env.stats.arp;
    const p = parseArp(bytes);
    if (isWireError(p)) {
      stats.malformed++;
      return;
    }
    const a = p.repr;
    if (a.op === ARP_OP_REQUEST) stats.requestsReceived++;
    else stats.repliesReceived++;
    const sip = a.senderIp;
    if (isMacMulticast(a.senderMac) || sip === 0xffffffff || isIpv4Multicast(sip) || isIpv4Loopback(sip)) {
      stats.badSender++;
      return;
    }
    const forUs = iface.hasAddress(a.targetIp);
    if (sip !== 0) {
      if (iface.hasAddress(sip)) {
        // Someone else claims our address (RFC 5227 §2.4 conflict); never learn it.
        if (!macEquals(a.senderMac, iface.mac)) stats.conflicts++;
        return;
      }
      iface.arp!.learn(sip, a.senderMac, forUs, a.op === ARP_OP_REPLY);
    }
    // RFC 826: "Is the opcode ares_op$REQUEST? If so, swap fields, putting the local
    // hardware and protocol addresses in the sender fields ... send the packet to the
    // (new) target hardware address on the same hardware on which the request was received."
    if (a.op === ARP_OP_REQUEST && forUs) {
      stats.repliesSent++;
      this.#sendArp(iface, ARP_OP_REPLY, sip, a.senderMac, a.senderMac, a.targetIp);
    }
  }

  // ---------------------------------------------------------------- input

  /** A frame from an interface's device. */
  receiveFrame(iface: NetInterface, frame: Uint8Array): void {
    const link = this.#env.stats.link;
    link.received++;
    if (!iface.up) {
      this.#env.stats.ip.interfaceDown++;
      return;
    }
    if (iface.device?.linkType === 'ip') {
      this.#ipInput(iface, frame, false);
      return;
    }
    // The Ethernet header is read in place (the checks of parseEthernet, without making
    // its repr and MAC copies for every frame).
    const n = frame.length;
    if (n < ETHERNET_HEADER_LEN) {
      link.malformed++;
      return;
    }
    let ethertype = (frame[12] << 8) | frame[13];
    let hl = ETHERNET_HEADER_LEN;
    let vid = 0;
    if (ethertype === ETHERTYPE_VLAN) {
      if (n < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
        link.malformed++;
        return;
      }
      vid = ((frame[14] << 8) | frame[15]) & 0x0fff;
      ethertype = (frame[16] << 8) | frame[17];
      hl += VLAN_TAG_LEN;
    }
    if (ethertype < 0x0600) {
      // IEEE 802.3 length field (LLC/SNAP), not an EtherType.
      link.malformed++;
      return;
    }
    let linkBroadcast = false;
    if (!macEquals(frame, iface.mac)) {
      if (isMacBroadcast(frame)) linkBroadcast = true;
      else {
        // Multicast groups are not joined yet; other hosts' unicast (a flooding switch) is not ours.
        link.notForUs++;
        return;
      }
    }
    if (vid !== 0) {
      link.notForUs++;
      return;
    }
    if (ethertype === ETHERTYPE_ARP) this.#arpInput(iface, frame.subarray(hl));
    else if (ethertype === ETHERTYPE_IPV4) this.#ipInput(iface, frame.subarray(hl), linkBroadcast);
    else link.unknownEthertype++;
  }

  #ipInput(iface: NetInterface, bytes: Uint8Array, linkBroadcast: boolean): void {
    const stats = this.#env.stats.ip;
    stats.received++;
    // RFC 1122 §3.2.1.1-2: silently discard datagrams with a bad version, header or checksum.
    const v = Ipv4View.check(bytes);
    if (isWireError(v)) {
      stats.malformed++;
      return;
    }
    if (!v.verifyChecksum()) {
      stats.badChecksum++;
      return;
    }
    const pkt = bytes.subarray(0, v.totalLength);
    const src = v.src;
    const dst = v.dst;
    // RFC 1122 §3.2.1.3: a source that is broadcast, multicast or (from the wire) loopback is discarded.
    if (
      src === 0xffffffff ||
      isIpv4Multicast(src) ||
      (!iface.isLoopback && (isIpv4Loopback(src) || isIpv4Loopback(dst)))
    ) {
      stats.badSource++;
      return;
    }
    if (!iface.isLoopback && this.isLocalAddress(src)) {
      // Our own address arriving from the wire: a spoof or a loop.
      stats.badSource++;
      return;
    }
    const local = iface.isLoopback
      ? this.isLocalAddress(dst)
      : !isIpv4Loopback(dst) && this.isLocalAddress(dst);
    const broadcast = !local && (dst === 0xffffffff || this.isBroadcastAddress(dst));
    if (local || broadcast) {
      if (broadcast) stats.broadcastIn++;
      this.#localDeliver(iface, pkt, v, broadcast, linkBroadcast);
      return;
    }
    if (isIpv4Multicast(dst) || dst === 0 || !this.#env.forwarding || iface.isLoopback) {
      stats.notForUs++;
      return;
    }
    this.#forward(iface, pkt, v, linkBroadcast);
  }

  #localDeliver(
    iface: NetInterface,
    pkt: Uint8Array,
    v: Ipv4View,
    broadcast: boolean,
    linkBroadcast: boolean,
  ): void {
    const stats = this.#env.stats.ip;
    // `pkt` passed Ipv4View.check and is bounded by Total Length: an unfragmented datagram
    // is read through the view; only fragments need the full repr (for reassembly).
    let src = v.src;
    let dst = v.dst;
    let protocol = v.protocol;
    let ttl = v.ttl;
    let payload = pkt.subarray(v.headerLength);
    let packet = pkt;
    if (v.moreFragments || v.fragmentOffset !== 0) {
      const parsed = parseIpv4Packet(pkt, { verifyChecksum: false });
      if (isWireError(parsed)) {
        stats.malformed++;
        return;
      }
      const quote = pkt.subarray(0, Math.min(pkt.length, v.headerLength + 8));
      const whole = this.reassembler.add(parsed.repr, parsed.payload, quote);
      if (!whole) return;
      const repr = whole.repr;
      payload = whole.payload;
      packet = new Uint8Array(20 + repr.options.length + payload.length);
      const hl = emitIpv4({ ...repr, payloadLength: payload.length }, packet);
      packet.set(payload, hl);
      packet = packet.subarray(0, hl + payload.length);
      src = repr.src;
      dst = repr.dst;
      protocol = repr.protocol;
      ttl = repr.ttl;
    }
    stats.delivered++;
    const info: IpPacketInfo = {
      src,
      dst,
      protocol,
      ttl,
      iface,
      broadcast,
      linkBroadcast,
      packet,
    };
    if (protocol === IP_PROTO_ICMP) {
      this.#icmpInput(info, payload);
      return;
    }
    const handler = this.#protocols.get(protocol);
    if (handler) {
      handler.receive(info, payload);
      return;
    }
    stats.delivered--;
    stats.unknownProtocol++;
    // RFC 1122 §3.2.2.1: a host SHOULD generate Destination Unreachable, protocol unreachable.
    this.sendIcmpError(packet, info, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_PROTOCOL);
  }

  #forward(inIface: NetInterface, pkt: Uint8Array, v: Ipv4View, linkBroadcast: boolean): void {
    const stats = this.#env.stats.ip;
    const meta = { iface: inIface, broadcast: false, linkBroadcast };
    // RFC 1812 §5.3.4: a router SHOULD NOT forward a packet that arrived as a link-layer broadcast.
    if (linkBroadcast || v.src === 0) {
      stats.notForUs++;
      return;
    }
    const ttl = v.ttl;
    // RFC 1812 §5.3.1: "If the TTL is reduced to zero (or less), the packet MUST be
    // discarded, and if the destination is not a multicast address the router MUST
    // send an ICMP Time Exceeded message, Code 0 (TTL Exceeded in Transit)".
    if (ttl <= 1) {
      stats.ttlExceeded++;
      this.sendIcmpError(pkt, meta, ICMPV4_TIME_EXCEEDED, 0);
      return;
    }
    const r = this.routes.lookup(v.dst, (x) => this.#usable(x) && x.interface !== 'lo');
    if (!r) {
      stats.noRoute++;
      // RFC 1812 §5.2.7.1: no route → Destination Unreachable, network unreachable.
      this.sendIcmpError(pkt, meta, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_NET);
      return;
    }
    const out = this.getInterface(r.interface)!;
    // Deviation: no ICMP redirects (RFC 1812 §5.2.7.2 makes them optional); we forward.
    if (r.gateway === undefined && out.isDirectedBroadcast(v.dst)) {
      // RFC 2644: directed broadcasts are not forwarded by default.
      stats.notForUs++;
      return;
    }
    const mtu = out.mtu;
    if (pkt.length > mtu && v.dontFragment) {
      stats.fragNeeded++;
      // RFC 1191 §4: the router "MUST include the MTU of that next-hop network in the
      // low-order 16 bits of the ICMP header field that is labelled 'unused'".
      this.sendIcmpError(pkt, meta, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_FRAG_NEEDED, mtu);
      return;
    }
    const copy = pkt.slice();
    const cv = new Ipv4View(copy);
    // RFC 1624 §3: HC' = ~(~HC + ~m + m') on the TTL/protocol word, no full recomputation.
    const oldWord = (ttl << 8) | v.protocol;
    cv.ttl = ttl - 1;
    cv.checksum = checksumUpdate16(v.checksum, oldWord, ((ttl - 1) << 8) | v.protocol);
    const nextHop = r.gateway ?? v.dst;
    stats.forwarded++;
    if (copy.length <= mtu) {
      this.#linkOutput(out, nextHop, copy, false);
      return;
    }
    const parsed = parseIpv4Packet(copy, { verifyChecksum: false });
    if (isWireError(parsed)) {
      stats.malformed++;
      return;
    }
    const frags = fragmentDatagram(parsed.repr, parsed.payload, mtu);
    if (!frags) {
      stats.fragFails++;
      return;
    }
    stats.fragOk++;
    stats.fragCreates += frags.length;
    for (const f of frags) this.#linkOutput(out, nextHop, f, false);
  }

  // ---------------------------------------------------------------- ICMP

  /**
   * Sends an ICMP error about `offending` (a whole IP datagram or at least its header
   * and first 8 data bytes). `meta` describes how it arrived (undefined: it was ours
   * or is being dropped on output). Applies RFC 1122 §3.2.2 suppression rules and the
   * RFC 1812 §4.3.2.8 rate limit. Returns whether it was sent.
   */
  sendIcmpError(
    offending: Uint8Array,
    meta:
      | { readonly iface: NetInterface; readonly broadcast: boolean; readonly linkBroadcast: boolean }
      | undefined,
    type: number,
    code: number,
    nextHopMtu = 0,
  ): boolean {
    const icmp = this.#env.stats.icmp;
    const v = Ipv4View.check(offending);
    if (isWireError(v)) return false;
    const hl = v.headerLength;
    const why = icmpErrorSuppressed({
      src: v.src,
      dst: v.dst,
      protocol: v.protocol,
      fragmentOffset: v.fragmentOffset,
      firstPayloadByte: offending.length > hl ? offending[hl] : undefined,
      linkBroadcast: meta?.linkBroadcast ?? false,
      ipBroadcast: meta?.broadcast ?? this.isBroadcastAddress(v.dst),
    });
    if (why !== undefined) {
      icmp.suppressed++;
      return false;
    }
    if (!this.#icmpBucket.take(this.#env.clock.now())) {
      icmp.rateLimited++;
      return false;
    }
    // RFC 1812 §4.3.2.3: quote as much of the original as fits in 576 bytes.
    const quote = offending.subarray(0, Math.min(v.totalLength, ICMP_ERROR_MAX_LEN - 20 - 8));
    const repr: Icmpv4Repr =
      type === ICMPV4_DEST_UNREACHABLE
        ? { kind: 'destUnreachable', code, nextHopMtu, invoking: quote }
        : { kind: 'timeExceeded', code, invoking: quote };
    // Source: the address the offending datagram was sent to if it is ours (so the
    // sender sees the answer come from where it sent), else the outgoing interface's.
    const src = this.isLocalAddress(v.dst) ? v.dst : 0;
    const route = this.route(v.src, src);
    if (typeof route === 'string') return false;
    const body = new Uint8Array(icmpv4Length(repr));
    emitIcmpv4(repr, body);
    icmp.outMessages++;
    if (type === ICMPV4_DEST_UNREACHABLE) icmp.outDestUnreachable++;
    else if (type === ICMPV4_TIME_EXCEEDED) icmp.outTimeExceeded++;
    this.send(route, { protocol: IP_PROTO_ICMP }, body);
    return true;
  }

  #icmpInput(info: IpPacketInfo, payload: Uint8Array): void {
    const icmp = this.#env.stats.icmp;
    icmp.inMessages++;
    const p = parseIcmpv4(payload);
    if (isWireError(p)) {
      if (p.wireError === 'checksum') icmp.badChecksum++;
      else icmp.malformed++;
      return;
    }
    const m = p.repr;
    switch (m.kind) {
      case 'echoRequest': {
        icmp.inEchoRequests++;
        if (info.broadcast && !this.config.echoBroadcast) {
          icmp.suppressed++;
          return;
        }
        // RFC 1122 §3.2.2.6: the reply carries the request's identifier, sequence and data.
        const route = this.route(info.src, info.broadcast ? 0 : info.dst);
        if (typeof route === 'string') return;
        const reply: Icmpv4Repr = { kind: 'echoReply', ident: m.ident, seq: m.seq, data: m.data };
        const body = new Uint8Array(icmpv4Length(reply));
        emitIcmpv4(reply, body);
        icmp.outMessages++;
        icmp.outEchoReplies++;
        this.send(route, { protocol: IP_PROTO_ICMP }, body);
        return;
      }
      case 'echoReply': {
        icmp.inEchoReplies++;
        const w = this.#pings.get(`${m.ident}/${m.seq}`);
        if (!w) return;
        this.#pings.delete(`${m.ident}/${m.seq}`);
        w.timer.cancel();
        w.resolve({
          ok: true,
          rtt: this.#env.clock.now() - w.sent,
          ttl: info.ttl,
          bytes: payload.length,
          from: info.src,
          seq: m.seq,
        });
        return;
      }
      case 'destUnreachable':
      case 'timeExceeded': {
        icmp.inErrors++;
        if (m.kind === 'destUnreachable') icmp.inDestUnreachable++;
        else icmp.inTimeExceeded++;
        const inv = parseIcmpv4Invoking(m.invoking);
        if (isWireError(inv)) {
          icmp.malformed++;
          return;
        }
        const kind = icmpErrorKind(
          m.kind === 'destUnreachable' ? ICMPV4_DEST_UNREACHABLE : ICMPV4_TIME_EXCEEDED,
          m.code,
        );
        // Only errors about datagrams we sent matter (RFC 1122 §3.2.2: passed to the transport).
        if (kind === undefined || !this.isLocalAddress(inv.src)) {
          icmp.unmatchedErrors++;
          return;
        }
        const err: ReceivedIcmpError = {
          kind,
          type: m.kind === 'destUnreachable' ? ICMPV4_DEST_UNREACHABLE : ICMPV4_TIME_EXCEEDED,
          code: m.code,
          from: info.src,
          quoted: inv,
          ...(kind === 'frag-needed' ? { nextHopMtu: m.kind === 'destUnreachable' ? m.nextHopMtu : 0 } : {}),
        };
        if (kind === 'frag-needed') this.#learnPmtu(inv.dst, err.nextHopMtu ?? 0);
        if (inv.protocol === IP_PROTO_ICMP) {
          this.#pingError(err);
          return;
        }
        const h = this.#protocols.get(inv.protocol);
        if (h) h.icmpError(err);
        else icmp.unmatchedErrors++;
        return;
      }
      default:
        // Redirects, parameter problems and other types: counted, not acted on.
        return;
    }
  }

  /** RFC 1191 §6.3: record a smaller path MTU for a destination (bounded cache, entries expire). */
  #learnPmtu(dst: Ipv4Address, mtu: number): void {
    // RFC 1191 §5: a router that does not fill the field (0) gets the plateau below 576... we
    // keep it simple and fall back to the minimum every link must carry (RFC 791: 68).
    const value = mtu >= 68 ? mtu : 576;
    if (this.#pmtu.size >= 1024 && !this.#pmtu.has(dst)) {
      const oldest = this.#pmtu.keys().next().value;
      if (oldest !== undefined) this.#pmtu.delete(oldest);
    }
    this.#pmtu.set(dst, { mtu: value, expires: this.#env.clock.now() + PMTU_EXPIRY });
  }

  #pingError(err: ReceivedIcmpError): void {
    const t = err.quoted.transport;
    if (t.length < 8 || t[0] !== 8) {
      this.#env.stats.icmp.unmatchedErrors++;
      return;
    }
    const ident = (t[4] << 8) | t[5];
    const seq = (t[6] << 8) | t[7];
    const w = this.#pings.get(`${ident}/${seq}`);
    if (!w) {
      this.#env.stats.icmp.unmatchedErrors++;
      return;
    }
    this.#pings.delete(`${ident}/${seq}`);
    w.timer.cancel();
    w.resolve({ ok: false, error: err.kind, from: err.from, seq: w.seq });
  }

  /** Sends one ICMP echo request and resolves with the reply, an ICMP error, or a timeout. */
  ping(dst: Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    const ident = (opts.id ?? this.#env.rng.below(0x10000)) & 0xffff;
    const seq = (opts.seq ?? 0) & 0xffff;
    const size = opts.size ?? 56;
    const key = `${ident}/${seq}`;
    return new Promise<PingResult>((resolve) => {
      const route = this.route(dst, opts.src ?? 0);
      if (typeof route === 'string') {
        resolve({ ok: false, error: route, seq });
        return;
      }
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = (i + 8) & 0xff; // ping(8)'s fill pattern
      const req: Icmpv4Repr = { kind: 'echoRequest', ident, seq, data };
      const body = new Uint8Array(icmpv4Length(req));
      emitIcmpv4(req, body);
      const now = this.#env.clock.now();
      const timer = this.#env.timers.timer(() => {
        if (this.#pings.get(key)?.timer !== timer) return;
        this.#pings.delete(key);
        resolve({ ok: false, error: 'timeout', seq });
      });
      const prev = this.#pings.get(key);
      if (prev) {
        prev.timer.cancel();
        prev.resolve({ ok: false, error: 'timeout', seq });
      }
      this.#pings.set(key, { sent: now, seq, resolve, timer });
      timer.set(now + (opts.timeout ?? 1_000_000));
      this.#env.stats.icmp.outMessages++;
      this.#env.stats.icmp.outEchoRequests++;
      const err = this.send(route, { protocol: IP_PROTO_ICMP, ttl: opts.ttl }, body);
      if (err !== undefined && err !== 'ENOBUFS') {
        this.#pings.delete(key);
        timer.cancel();
        resolve({ ok: false, error: err, seq });
      }
    });
  }
}
