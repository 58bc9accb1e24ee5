/**
 * The IPv4 layer of a stack: its configuration (interfaces, addresses, routes) and
 * IPv4 input: validation, reassembly, local delivery by protocol, or forwarding.
 * The parts it wires together live beside it, one concern each:
 *
 * - interfaces.ts (the interface table and receive queues), ethernet.ts (link-layer
 *   framing and demux), arp.ts over neighbor.ts (address resolution);
 * - output.ts (routing, the IP header, fragmentation, the hand-off to the link);
 * - forward.ts (routers), icmpv4.ts (ICMP errors and echo), ping.ts (the ping client),
 *   pmtu.ts (learnt path MTUs), fragment.ts (reassembly);
 * - ipv4-network.ts: this layer as the family-generic NetworkLayer transports use.
 *
 * RFCs: 791 (IP), 792 (ICMP), 826 (ARP), 815 (reassembly), 1122 (hosts), 1191 (PMTU),
 * 1624 (incremental checksum), 1812 (routers), 6864 (identification).
 */
import type { Device } from '../link/device.ts';
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerQueue } from '../time/timers.ts';
import {
  formatIpv4,
  type IpAddress,
  type Ipv4Address,
  isIpv4Loopback,
  isIpv4Multicast,
  localMac,
  type MacAddress,
  parseIpv4,
} from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import { ETHERTYPE_IPV4 } from '../wire/ethernet.ts';
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_UNREACH_HOST,
  ICMPV4_UNREACH_PROTOCOL,
} from '../wire/icmpv4.ts';
import {
  emitIpv4,
  IP_PROTO_ICMP,
  IP_PROTO_IGMP,
  IPV4_MIN_HEADER_LEN,
  Ipv4View,
  parseIpv4Packet,
} from '../wire/ipv4.ts';
import { Arp, type ArpConfig } from './arp.ts';
import { LinkLayer } from './ethernet.ts';
import { Ipv4Forwarder } from './forward.ts';
import { Reassembler, type ReassemblyConfig } from './fragment.ts';
import { ICMP_ERROR_MAX_LEN, type IcmpRateConfig } from './icmp.ts';
import { type ArrivalMeta, Icmpv4, type Icmpv4Error } from './icmpv4.ts';
import { Igmp, ipv4Bytes } from './igmp.ts';
import { makeInterfaceAddress, type NetInterface } from './interface.ts';
import { InterfaceTable } from './interfaces.ts';
import { IpIdGenerator } from './ipid.ts';
import { type MulticastRouteConfig, MulticastRoutes } from './mroute.ts';
import type {
  IpPacketInfo,
  ReceivedIcmpError,
  RouteError,
  SendError,
  SendOptions,
  TransportProtocol,
} from './network.ts';
import { badOptionOffset } from './options.ts';
import { DEFAULT_TTL, Ipv4Output, Ipv4Route } from './output.ts';
import { PingClient, type PingOptions, type PingResult } from './ping.ts';
import { PmtuCache } from './pmtu.ts';
import { parseCidr, type Route, type RouteSpec, RouteTable } from './route.ts';
import type { StackStats } from './stats.ts';

export type { ArrivalMeta, Icmpv4Error } from './icmpv4.ts';
export { icmpErrorKind } from './icmpv4.ts';
export { LOOPBACK_MTU } from './interfaces.ts';
export type {
  IcmpErrorKind,
  IpPacketInfo,
  ReceivedIcmpError,
  RouteError,
  SendError,
  SendOptions,
  TransportProtocol,
} from './network.ts';
export { DEFAULT_TTL, IPV4_MAX_PAYLOAD, Ipv4Route, type OutRoute } from './output.ts';
export type { PingOptions, PingResult } from './ping.ts';

export interface InterfaceSpec {
  readonly name: string;
  readonly device: Device;
  readonly mac?: MacAddress;
  /** CIDR strings, e.g. '10.0.1.2/24'. */
  readonly addresses?: readonly string[];
  readonly mtu?: number;
  /** Deliver datagrams for any unicast destination locally (NetInterface.transparent). */
  readonly transparent?: boolean;
}

export interface Ipv4Config {
  arp?: Partial<ArpConfig>;
  reassembly?: Partial<ReassemblyConfig>;
  icmpRate?: Partial<IcmpRateConfig>;
  /** Answer echo requests sent to a broadcast address. Default false (Linux icmp_echo_ignore_broadcasts). */
  echoBroadcast?: boolean;
  defaultTtl?: number;
  /** Frames an interface's receive queue holds before it drops (default RX_QUEUE_DEFAULT, 8192). */
  rxQueueLength?: number;
  /**
   * Static multicast routes for a router (mroute.ts), both families: without them a router
   * forwards no multicast.
   */
  multicastRoutes?: readonly MulticastRouteConfig[];
}

export interface Ipv4Env {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  readonly stats: StackStats;
  forwarding: boolean;
}

const NO_OUTPUTS: readonly string[] = [];

/** A one-entry memo of the IpAddress for a number: consecutive packets of a flow share one object. */
class AddressMemo {
  #n = -1;
  #a: IpAddress = { family: 4, v4: 0 };
  get(n: Ipv4Address): IpAddress {
    if (n !== this.#n) {
      this.#n = n;
      this.#a = { family: 4, v4: n };
    }
    return this.#a;
  }
}

const v4 = (a: Ipv4Address): IpAddress => ({ family: 4, v4: a });

export class Ipv4Layer {
  /**
   * Changes whenever a route could change (an interface, address or route added, an
   * interface up or down), so a transport may keep a route it looked up while it is the same.
   */
  routeGeneration = 0;
  /** The interface table (receive queues, addresses). */
  readonly table: InterfaceTable;
  readonly routes = new RouteTable();
  readonly reassembler: Reassembler;
  readonly config: Ipv4Config;
  readonly link: LinkLayer;
  readonly output: Ipv4Output;
  readonly icmp: Icmpv4;
  /** Multicast group membership and IGMPv3 (src/ip/igmp.ts). */
  readonly igmp: Igmp;
  readonly #env: Ipv4Env;
  readonly #arp: Arp;
  readonly #pmtu = new PmtuCache();
  /** pathMtu's last destination, its interface (undefined: no route) and routeGeneration then. */
  #mtuDst = 0;
  #mtuIface: NetInterface | undefined = undefined;
  #mtuGeneration = -1;
  readonly #pings: PingClient;
  readonly #forwarder: Ipv4Forwarder;
  readonly #mroutes: MulticastRoutes;
  readonly #protocols = new Map<number, TransportProtocol>();
  readonly #srcMemo = new AddressMemo();
  readonly #dstMemo = new AddressMemo();

  constructor(env: Ipv4Env, config: Ipv4Config = {}) {
    this.#env = env;
    this.config = config;
    const now = () => env.clock.now();
    this.table = new InterfaceTable(env.stats, config.rxQueueLength);
    this.link = new LinkLayer(env.stats);
    this.link.register(ETHERTYPE_IPV4, (iface, bytes, linkBroadcast) =>
      this.#ipInput(iface, bytes, linkBroadcast),
    );
    const { table: interfaces, routes, link } = this;
    const pmtu = this.#pmtu;
    this.output = new Ipv4Output({
      clock: env.clock,
      stats: env.stats,
      interfaces,
      routes,
      link,
      ids: new IpIdGenerator(env.rng),
      pmtu,
      defaultTtl: () => this.config.defaultTtl ?? DEFAULT_TTL,
      isMember: (iface, group, src) => this.igmp.accepts(iface, group, src),
    });
    const output = this.output;
    this.igmp = new Igmp({
      now,
      timers: env.timers,
      rng: env.rng,
      stats: env.stats.igmp,
      send: (iface, dst, msg, options) => {
        const src = iface.primaryAddress ?? 0;
        const route = new Ipv4Route(iface, dst, src, dst, false, false, link.headroom(iface));
        return output.send(route, { protocol: IP_PROTO_IGMP, ttl: 1 }, msg, options);
      },
    });
    // Frames to an Ethernet group address are ours when the interface joined the group.
    link.addMulticastFilter(
      (iface, mac) =>
        this.igmp.wantsMac(iface, mac) ||
        // A router with static multicast routes from this link takes every IPv4 group's frames.
        (mac[0] === 0x01 &&
          mac[1] === 0x00 &&
          mac[2] === 0x5e &&
          this.#env.forwarding &&
          this.#mroutes.routesFrom(iface.name)),
    );
    this.#pings = new PingClient({
      clock: env.clock,
      rng: env.rng,
      timers: env.timers,
      stats: env.stats,
      output,
    });
    this.icmp = new Icmpv4(
      {
        clock: env.clock,
        stats: env.stats,
        interfaces,
        output,
        echoBroadcast: () => this.config.echoBroadcast === true,
        echoReply: (ident, seq, arrival, bytes) => this.#pings.reply(ident, seq, arrival, bytes),
        echoError: (err) => this.#pings.error(err),
        transportError: (err) => this.#transportError(err),
      },
      config.icmpRate,
    );
    const icmp = this.icmp;
    this.#forwarder = new Ipv4Forwarder({ stats: env.stats, interfaces, routes, output, icmp });
    this.#mroutes = new MulticastRoutes(config.multicastRoutes, 4);
    this.#arp = new Arp(
      {
        now,
        timers: env.timers,
        stats: env.stats.arp,
        link,
        resolutionFailed: (packets) => {
          // RFC 1122 §2.3.2.2 / RFC 1812 §5.2.7.1: the sender learns host unreachable.
          for (const p of packets)
            icmp.sendError(p.bytes, undefined, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_HOST);
        },
      },
      config.arp,
    );
    this.reassembler = new Reassembler(
      {
        now,
        timers: env.timers,
        stats: env.stats.ip,
        timedOut: (_repr, quote) => {
          // RFC 792: Time Exceeded code 1, "fragment reassembly time exceeded". `quote` may be
          // shorter than its header's Total Length (the first fragment, cut to fit).
          icmp.sendError(quote, undefined, ICMPV4_TIME_EXCEEDED, 1);
        },
      },
      config.reassembly,
    );
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

  /** Every interface, loopback first. */
  get interfaces(): NetInterface[] {
    return this.table.list;
  }

  /** Throws ERR_METHOD_NOT_IMPLEMENTED for `on` in a build without forwarding (stack.js). */
  checkForwarding(on: boolean): void {
    Ipv4Forwarder.check(on);
  }

  registerProtocol(protocol: number, handler: TransportProtocol): void {
    this.#protocols.set(protocol, handler);
  }

  // ---------------------------------------------------------------- configuration

  addInterface(spec: InterfaceSpec): NetInterface {
    this.routeGeneration++;
    const mac = spec.mac ?? localMac(this.#env.rng.nextU32());
    const iface = this.table.add(spec.name, spec.device, mac, spec.mtu ?? spec.device.mtu);
    if (spec.device.linkType === 'ethernet') this.#arp.attach(iface);
    iface.transparent = spec.transparent ?? false;
    for (const a of spec.addresses ?? []) this.addAddress(iface.name, a);
    return iface;
  }

  getInterface(name: string): NetInterface | undefined {
    return this.table.get(name);
  }

  /** Adds an address ('10.0.1.2/24'): its on-link route appears and a gratuitous ARP goes out. */
  addAddress(ifname: string, cidr: string): void {
    this.routeGeneration++;
    const iface = this.getInterface(ifname);
    if (!iface) throw new Error(`no interface ${ifname}`);
    const c = parseCidr(cidr);
    if (!c) throw new Error(`bad address ${cidr}`);
    if (iface.hasAddress(c.address)) return;
    iface.addresses.push(makeInterfaceAddress(c.address, c.prefix));
    this.routes.add({
      destination: c.address,
      prefix: c.prefix,
      gateway: undefined,
      interface: iface.name,
      metric: 0,
      source: c.address,
      origin: 'connected',
    });
    if (iface.arp && iface.up) this.#arp.announce(iface, c.address);
  }

  setInterfaceUp(ifname: string, up: boolean): void {
    this.routeGeneration++;
    const iface = this.getInterface(ifname);
    if (!iface) throw new Error(`no interface ${ifname}`);
    iface.up = up;
    if (!up) iface.arp?.flush();
  }

  addRoute(spec: RouteSpec): Route {
    this.routeGeneration++;
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

  // ---------------------------------------------------------------- queries and output

  /** Is `a` one of this host's addresses (any interface, loopback range included)? Weak host model (RFC 1122 §3.3.4.2). */
  isLocalAddress(a: Ipv4Address): boolean {
    return this.table.isLocalAddress(a);
  }

  /** Is `a` the limited broadcast or the directed broadcast of one of our subnets? */
  isBroadcastAddress(a: Ipv4Address): boolean {
    return this.table.isBroadcastAddress(a);
  }

  /** The path MTU towards `dst` (learnt from fragmentation-needed, else the outgoing interface's MTU). */
  pathMtu(dst: Ipv4Address): number {
    // The last destination's interface is kept while the routes stay the same (Linux's
    // cached dst, checked against rt_genid): TCP asks once per connection, mostly for the
    // same peer. Its MTU and the learnt path MTU are read afresh each time.
    if (dst !== this.#mtuDst || this.#mtuGeneration !== this.routeGeneration) {
      const r = this.route(dst);
      this.#mtuIface = typeof r === 'string' ? undefined : r.iface;
      this.#mtuDst = dst;
      this.#mtuGeneration = this.routeGeneration;
    }
    const base = this.#mtuIface === undefined ? 576 : this.#mtuIface.mtu;
    const p = this.#pmtu.get(dst, this.#env.clock.now());
    return p !== undefined ? Math.min(base, p) : base;
  }

  /**
   * RFC 1191 §6.3: a transport validated a "fragmentation needed" quoting a datagram it
   * sent to `dst` (RFC 5927 §4.1) and passes on its next-hop MTU. Only a smaller path MTU
   * is recorded, clamped at MIN_PMTU (Linux __ip_rt_update_pmtu). Returns the path MTU now
   * in effect.
   */
  learnPathMtu(dst: Ipv4Address, mtu: number): number {
    const current = this.pathMtu(dst);
    if (mtu >= current) return current;
    this.#pmtu.learn(dst, mtu, this.#env.clock.now());
    return this.pathMtu(dst);
  }

  /** See Ipv4Output.route. */
  route(dst: Ipv4Address, src = 0, ifname?: string): Ipv4Route | RouteError {
    return this.output.route(dst, src, ifname);
  }

  /** See Ipv4Output.send. */
  send(route: Ipv4Route, opts: SendOptions, payload: Uint8Array): SendError | undefined {
    return this.output.send(route, opts, payload);
  }

  /** Sends one ICMP echo request and resolves with the reply, an ICMP error, or a timeout. */
  ping(dst: Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    return this.#pings.ping(dst, opts);
  }

  // ---------------------------------------------------------------- input

  /** A frame taken from `iface`'s receive queue: loopback packets are IP, the rest go through the link layer. */
  receive(iface: NetInterface, frame: Uint8Array): void {
    if (iface.isLoopback) {
      // IPv6 to ::1 or to our own addresses comes through loopback too.
      if (frame.length > 0 && frame[0] >> 4 === 6) this.link.inputIp(iface, frame);
      else this.#ipInput(iface, frame, false);
    } else this.link.input(iface, frame);
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
    // (Link padding beyond Total Length is cut off; a view only when there is some.)
    const pkt = v.totalLength === bytes.length ? bytes : bytes.subarray(0, v.totalLength);
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
    if (isIpv4Multicast(dst)) {
      // A router forwards a group's datagrams only where a static multicast route says so
      // (mroute.ts); never those of 224.0.0.0/24, the Local Network Control Block (RFC 5771
      // §4: link-local, "not forwarded by routers").
      const outs =
        this.#env.forwarding && !iface.isLoopback && this.#mroutes.size > 0 && dst >>> 8 !== 0xe00000
          ? this.#mroutes.outputs(iface.name, ipv4Bytes(dst), ipv4Bytes(src))
          : NO_OUTPUTS;
      // RFC 1112 §6: a group datagram is ours when the interface is a member and its
      // filter lets the source in (RFC 3376 §3.2). On loopback it is one we sent (looped,
      // IP_MULTICAST_LOOP, or sent out of lo) to a group some interface of ours joined.
      const member = iface.isLoopback ? this.igmp.joinedAnywhere(dst) : this.igmp.accepts(iface, dst, src);
      if (!member && outs.length === 0) {
        stats.notForUs++;
        return;
      }
      if (!this.#optionsOk(pkt, v, { iface, broadcast: true, linkBroadcast })) return;
      if (outs.length > 0) this.#forwarder.forwardMulticast(iface, pkt, v, outs);
      if (!member) return;
      this.#localDeliver(iface, pkt, v, true, linkBroadcast);
      return;
    }
    let local = iface.isLoopback
      ? this.isLocalAddress(dst)
      : !isIpv4Loopback(dst) && this.isLocalAddress(dst);
    const broadcast = !local && (dst === 0xffffffff || this.isBroadcastAddress(dst));
    // A transparent interface (a gateway's guest link) takes every unicast destination as ours.
    if (!local && !broadcast && iface.transparent && dst !== 0 && !isIpv4Multicast(dst)) local = true;
    if (local || broadcast) {
      if (broadcast) stats.broadcastIn++;
      if (!this.#optionsOk(pkt, v, { iface, broadcast, linkBroadcast })) return;
      this.#localDeliver(iface, pkt, v, broadcast, linkBroadcast);
      return;
    }
    if (isIpv4Multicast(dst) || dst === 0 || !this.#env.forwarding || iface.isLoopback) {
      stats.notForUs++;
      return;
    }
    if (!this.#optionsOk(pkt, v, { iface, broadcast, linkBroadcast })) return;
    this.#forwarder.forward(iface, pkt, v, linkBroadcast);
  }

  /**
   * RFC 1122 §3.2.1.8 / RFC 1812 §4.3.2.1: a datagram with malformed options (a zero or
   * overlong length, a bad pointer) is dropped and answered with ICMP Parameter Problem
   * (code 0) pointing at the bad octet, as Linux's ip_options_compile does (rate-limited
   * like every ICMP error).
   */
  #optionsOk(pkt: Uint8Array, v: Ipv4View, meta: ArrivalMeta): boolean {
    if (v.headerLength === IPV4_MIN_HEADER_LEN) return true;
    const bad = badOptionOffset(v.options);
    if (bad === undefined) return true;
    this.#env.stats.ip.badOptions++;
    this.icmp.sendError(pkt, meta, ICMPV4_PARAMETER_PROBLEM, 0, 0, bad);
    return false;
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
      // RFC 1812 §4.3.2.3: an ICMP error quotes as much of the datagram as fits in 576 bytes
      // (Linux ip_expire quotes the whole first fragment, as far as it fits).
      const quote = pkt.subarray(0, Math.min(pkt.length, ICMP_ERROR_MAX_LEN - 28));
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
    if (protocol === IP_PROTO_IGMP) {
      this.igmp.input(iface, dst, payload);
      return;
    }
    if (protocol === IP_PROTO_ICMP) {
      const options =
        packet === pkt ? v.options : packet.subarray(IPV4_MIN_HEADER_LEN, (packet[0] & 0x0f) * 4);
      this.icmp.input({ src, dst, ttl, iface, broadcast, linkBroadcast, options }, payload);
      return;
    }
    const handler = this.#protocols.get(protocol);
    if (handler) {
      const info: IpPacketInfo = {
        src: this.#srcMemo.get(src),
        dst: this.#dstMemo.get(dst),
        protocol,
        ttl,
        ecn: packet[1] & 3,
        iface,
        broadcast,
        linkBroadcast,
        packet,
      };
      handler.receive(info, payload);
      return;
    }
    stats.delivered--;
    stats.unknownProtocol++;
    // RFC 1122 §3.2.2.1: a host SHOULD generate Destination Unreachable, protocol unreachable.
    this.icmp.sendError(
      packet,
      { iface, broadcast, linkBroadcast },
      ICMPV4_DEST_UNREACHABLE,
      ICMPV4_UNREACH_PROTOCOL,
    );
  }

  /** An ICMP error quoting a transport's datagram, handed to that transport with IpAddress. */
  #transportError(err: Icmpv4Error): boolean {
    const q = err.quoted;
    const h = this.#protocols.get(q.protocol);
    if (!h) return false;
    const e: ReceivedIcmpError = {
      kind: err.kind,
      type: err.type,
      code: err.code,
      from: v4(err.from),
      quoted: {
        src: v4(q.src),
        dst: v4(q.dst),
        protocol: q.protocol,
        srcPort: q.srcPort,
        dstPort: q.dstPort,
        transport: q.transport,
      },
      ...(err.nextHopMtu !== undefined ? { nextHopMtu: err.nextHopMtu } : {}),
    };
    h.icmpError(e);
    return true;
  }
}
