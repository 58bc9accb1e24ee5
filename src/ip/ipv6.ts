/**
 * The IPv6 layer of a stack (RFC 8200): per-interface IPv6 state, input (header and
 * extension-header checks, options, routing headers, reassembly, local delivery by Next
 * Header), forwarding for a router stack (hop limit, Packet Too Big, never fragmenting),
 * and the parts it wires together, one concern each:
 *
 * - ipv6-output.ts (routes, source selection, the header, source fragmentation, link hand-off)
 * - ipv6-icmp.ts (ICMPv6 errors and echo), ipv6-ping.ts (the ping client)
 * - ndp.ts (Neighbor Discovery over the shared neighbour cache), slaac.ts (RFC 4862),
 *   ipv6-mld.ts (MLDv2 reports), ipv6-fragment.ts (reassembly), ipv6-pmtu.ts (RFC 8201)
 * - ipv6-network.ts: this layer as the family-generic NetworkLayer.
 *
 * It shares the interface table and the link layer with IPv4 (the Ethernet demux hands
 * it EtherType 0x86dd). IPv6 runs on an interface once enabled (`enable`) or given an
 * IPv6 address; loopback has ::1 from the start.
 */

import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerQueue } from '../time/timers.ts';
import { formatIpv6, parseIpv6 } from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.ts';
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_PARAMPROB_HEADER,
  ICMPV6_PARAMPROB_NEXT_HEADER,
  ICMPV6_PARAMPROB_OPTION,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_REASSEMBLY,
  ICMPV6_UNREACH_ADDRESS,
} from '../wire/icmpv6.ts';
import {
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  IPV6_NH_DSTOPTS,
  IPV6_NH_HOPOPTS,
  IPV6_NH_ICMPV6,
  IPV6_NH_NONE,
  IPV6_NH_ROUTING,
  IPV6_OPT_ROUTER_ALERT,
  type Ipv6Chain,
  Ipv6View,
  isIpv6ChainError,
  parseIpv6Options,
  unknownOptionAction,
  walkExtensionHeaders,
} from '../wire/ipv6.ts';
import {
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_LOOPBACK,
  ipv6MulticastMac,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
} from '../wire/ipv6-address.ts';
import type { LinkLayer } from './ethernet.ts';
import type { IcmpRateConfig } from './icmp.ts';
import type { NetInterface } from './interface.ts';
import type { InterfaceTable } from './interfaces.ts';
import { Ipv6Forwarder } from './ipv6-forward.ts';
import { Ipv6Reassembler, type Ipv6ReassemblyConfig } from './ipv6-fragment.ts';
import { Icmpv6, type Ipv6Arrival } from './ipv6-icmp.ts';
import { Ipv6Interface } from './ipv6-iface.ts';
import { Mld } from './ipv6-mld.ts';
import { DEFAULT_HOP_LIMIT, Ipv6Output, type Ipv6Route } from './ipv6-output.ts';
import { Ping6Client, type Ping6Options, type Ping6Result } from './ipv6-ping.ts';
import { Ipv6PmtuCache } from './ipv6-pmtu.ts';
import { type Ipv6Route6, Ipv6RouteTable, parseCidr6 } from './ipv6-route.ts';
import { type Ipv6Stats, newIpv6Stats } from './ipv6-stats.ts';
import { type MulticastRouteConfig, MulticastRoutes } from './mroute.ts';
import { Ndp, type NdpConfig } from './ndp.ts';
import { type NeighborStats, newNeighborStats } from './neighbor.ts';
import type { IpPacketInfo, ReceivedIcmpError, RouteError, TransportProtocol } from './network.ts';
import { Slaac, type SlaacConfig } from './slaac.ts';

export interface Ipv6Config {
  ndp?: Partial<NdpConfig>;
  slaac?: Partial<SlaacConfig>;
  reassembly?: Partial<Ipv6ReassemblyConfig>;
  icmpRate?: Partial<IcmpRateConfig>;
  defaultHopLimit?: number;
  /** Static multicast routes for a router (mroute.ts): without them a router forwards no multicast. */
  multicastRoutes?: readonly MulticastRouteConfig[];
}

export interface Ipv6Env {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  readonly table: InterfaceTable;
  readonly link: LinkLayer;
  /** Forward packets not for us (a router). */
  readonly forwarding: boolean;
}

export interface Ipv6EnableOptions {
  /** Make the link-local address (RFC 4862 §5.3). Default true on Ethernet. */
  linkLocal?: boolean;
  /** Solicit routers and take RA configuration (a host). Default true unless forwarding. */
  acceptRa?: boolean;
}

export interface Ipv6RouteSpec {
  /** 'fd00:1::/64', '::/0' or 'default'. */
  readonly destination: string;
  readonly gateway?: string;
  readonly interface?: string;
  readonly metric?: number;
}

export class Ipv6Layer {
  routeGeneration = 0;
  readonly stats: Ipv6Stats = newIpv6Stats();
  readonly neighborStats: NeighborStats = newNeighborStats();
  readonly routes = new Ipv6RouteTable();
  readonly output: Ipv6Output;
  readonly icmp: Icmpv6;
  readonly ndp: Ndp;
  readonly slaac: Slaac;
  readonly mld: Mld;
  readonly reassembler: Ipv6Reassembler;
  readonly config: Ipv6Config;
  readonly #env: Ipv6Env;
  readonly #states = new Map<NetInterface, Ipv6Interface>();
  readonly #mroutes: MulticastRoutes;
  readonly #forwarder: Ipv6Forwarder;
  readonly #protocols = new Map<number, TransportProtocol>();
  readonly #pmtu = new Ipv6PmtuCache();
  readonly #pings: Ping6Client;

  constructor(env: Ipv6Env, config: Ipv6Config = {}) {
    this.#env = env;
    this.config = config;
    this.#mroutes = new MulticastRoutes(config.multicastRoutes, 6);
    const now = () => env.clock.now();
    const stats = this.stats;
    const state = (i: NetInterface) => this.#states.get(i);
    this.output = new Ipv6Output({
      clock: env.clock,
      rng: env.rng,
      stats,
      interfaces: env.table,
      routes: this.routes,
      link: env.link,
      pmtu: this.#pmtu,
      state,
      defaultHopLimit: () => this.defaultHopLimit,
      isLocal: (a) => this.isLocalAddress(a),
    });
    const output = this.output;
    this.#pings = new Ping6Client({ clock: env.clock, rng: env.rng, timers: env.timers, output });
    this.mld = new Mld({ now, timers: env.timers, rng: env.rng, stats, output, state });
    this.slaac = new Slaac(
      {
        now,
        timers: env.timers,
        stats,
        sendDadSolicitation: (st, a) => this.ndp.sendDadSolicitation(st, a),
        joinGroup: (st, g) => this.mld.join(st, g),
        leaveGroup: (st, g) => this.mld.leave(st, g),
        changed: (st, a) => this.#addressChanged(st, a),
      },
      config.slaac,
    );
    this.ndp = new Ndp(
      {
        now,
        timers: env.timers,
        rng: env.rng,
        stats,
        neighborStats: this.neighborStats,
        link: env.link,
        output,
        routes: this.routes,
        isRouter: () => env.forwarding,
        state,
        conflict: (st, a) => this.slaac.conflict(st, a),
        autonomousPrefix: (st, p) => this.slaac.prefix(st, p),
        routeChanged: () => this.routeGeneration++,
        resolutionFailed: (packets) => {
          // RFC 4861 §7.2.2: the sender learns address unreachable (RFC 4443 §3.1 code 3).
          for (const p of packets)
            this.icmp.sendError(p.bytes, undefined, ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_ADDRESS);
        },
      },
      config.ndp,
    );
    this.icmp = new Icmpv6(
      {
        clock: env.clock,
        stats,
        output,
        defaultHopLimit: () => this.defaultHopLimit,
        isLocal: (a) => this.isLocalAddress(a),
        ndp: (a, msg) => this.ndp.input(a, msg),
        mldQuery: (a, msg) => this.mld.query(a, msg),
        echoReply: (id, seq, a, n) => this.#pings.reply(id, seq, a, n),
        echoError: (err) => {
          // RFC 8201 §4: a Packet Too Big about our own echo request lowers the path MTU too.
          if (err.kind === 'frag-needed' && err.nextHopMtu !== undefined && err.quoted.dst.family === 6)
            this.learnPathMtu(err.quoted.dst.v6, err.nextHopMtu);
          this.#pings.error(err);
        },
        transportError: (err) => this.#transportError(err),
      },
      config.icmpRate,
    );
    this.#forwarder = new Ipv6Forwarder({ stats, icmp: this.icmp, output, table: env.table, link: env.link });
    this.reassembler = new Ipv6Reassembler(
      {
        now,
        timers: env.timers,
        stats,
        timedOut: (first) =>
          this.icmp.sendError(first, undefined, ICMPV6_TIME_EXCEEDED, ICMPV6_TIME_EXCEEDED_REASSEMBLY),
      },
      config.reassembly,
    );
    env.link.register(ETHERTYPE_IPV6, (iface, bytes, linkBroadcast) =>
      this.input(iface, bytes, linkBroadcast),
    );
    // Frames to an Ethernet multicast address are ours when the interface joined the group.
    env.link.addMulticastFilter(
      (iface, mac) =>
        this.#wantsMac(iface, mac) ||
        // A router with static multicast routes from this link takes every IPv6 group's frames.
        (mac[0] === 0x33 && mac[1] === 0x33 && env.forwarding && this.#mroutes.routesFrom(iface.name)),
    );
    // Loopback: ::1, up from the start (Linux gives lo ::1/128).
    const lo = new Ipv6Interface(env.table.loopback);
    lo.addresses.push({
      address: IPV6_LOOPBACK,
      key: '',
      prefix: 128,
      state: 'preferred',
      origin: 'loopback',
    });
    this.#states.set(env.table.loopback, lo);
    this.routes.add({
      destination: IPV6_LOOPBACK,
      prefix: 128,
      gateway: undefined,
      interface: 'lo',
      metric: 0,
      origin: 'kernel',
    });
  }

  get defaultHopLimit(): number {
    return this.config.defaultHopLimit ?? DEFAULT_HOP_LIMIT;
  }

  registerProtocol(protocol: number, handler: TransportProtocol): void {
    this.#protocols.set(protocol, handler);
  }

  /** The IPv6 state of an interface (undefined: IPv6 is not enabled there). */
  /** The interface a zone (scope id, RFC 4007 §6: an interface index) names. */
  zoneInterface(scope: number): NetInterface | undefined {
    return this.#env.table.list.find((i) => i.ifindex === scope);
  }

  /** The links IPv6 runs on (up, not loopback): the zones a link-local address can be in. */
  linkZones(): NetInterface[] {
    return this.#env.table.list.filter((i) => i.up && !i.isLoopback && this.#states.has(i));
  }

  state(iface: NetInterface): Ipv6Interface | undefined {
    return this.#states.get(iface);
  }

  // ---------------------------------------------------------------- configuration

  /**
   * Enables IPv6 on an interface: all-nodes membership, the link-local address with DAD,
   * fe80::/64 and ff00::/8 on-link, then router solicitation (a host) once the link-local
   * address is usable. Returns the state (the existing one if already enabled).
   */
  enable(ifname: string, opts: Ipv6EnableOptions = {}): Ipv6Interface {
    const iface = this.#iface(ifname);
    const existing = this.#states.get(iface);
    if (existing) return existing;
    this.routeGeneration++;
    const st = new Ipv6Interface(iface);
    this.#states.set(iface, st);
    const ethernet = iface.device?.linkType === 'ethernet';
    if (ethernet) this.ndp.attach(st);
    this.mld.join(st, IPV6_ALL_NODES);
    if (this.#env.forwarding) this.mld.join(st, IPV6_ALL_ROUTERS);
    const ll = new Uint8Array(16);
    ll[0] = 0xfe;
    ll[1] = 0x80;
    this.routes.add({
      destination: ll,
      prefix: 64,
      gateway: undefined,
      interface: ifname,
      metric: 256,
      origin: 'kernel',
    });
    const mc = new Uint8Array(16);
    mc[0] = 0xff;
    this.routes.add({
      destination: mc,
      prefix: 8,
      gateway: undefined,
      interface: ifname,
      metric: 256,
      origin: 'kernel',
    });
    st.acceptRa = opts.acceptRa ?? !this.#env.forwarding;
    if (ethernet && opts.linkLocal !== false) this.slaac.addLinkLocal(st);
    return st;
  }

  /** Adds an address ('fd00:1::2/64'): enables IPv6 on the interface, on-link route, DAD. */
  addAddress(ifname: string, cidr: string): void {
    const c = parseCidr6(cidr);
    if (!c || isIpv6Multicast(c.address) || isIpv6Unspecified(c.address))
      throw Object.assign(new Error(`bad IPv6 address ${cidr}`), { code: 'EINVAL' });
    const st = this.enable(ifname);
    this.routeGeneration++;
    this.slaac.addAddress(st, c.address, c.prefix, 'static');
    if (c.prefix < 128)
      this.routes.add({
        destination: c.address,
        prefix: c.prefix,
        gateway: undefined,
        interface: ifname,
        metric: 256,
        origin: 'connected',
      });
  }

  /** Adds a route ({ destination: '::/0', gateway: 'fe80::1', interface: 'eth0' }). */
  addRoute(spec: Ipv6RouteSpec): Ipv6Route6 {
    const d = parseCidr6(spec.destination);
    if (!d) throw Object.assign(new Error(`bad route destination ${spec.destination}`), { code: 'EINVAL' });
    const gw = spec.gateway === undefined ? undefined : parseIpv6(spec.gateway);
    if (spec.gateway !== undefined && gw === undefined)
      throw Object.assign(new Error(`bad gateway ${spec.gateway}`), { code: 'EINVAL' });
    let ifname = spec.interface;
    if (ifname === undefined) {
      if (gw === undefined)
        throw Object.assign(new Error('a route needs a gateway or an interface'), { code: 'EINVAL' });
      if (isIpv6LinkLocal(gw))
        throw Object.assign(new Error('a link-local gateway needs an interface'), { code: 'EINVAL' });
      const via = this.routes.lookup(gw, (r) => r.gateway === undefined && r.interface !== 'lo');
      if (!via)
        throw Object.assign(new Error(`gateway ${formatIpv6(gw)} is not on-link`), { code: 'ENETUNREACH' });
      ifname = via.interface;
    }
    this.enable(ifname);
    this.routeGeneration++;
    return this.routes.add({
      destination: d.address,
      prefix: d.prefix,
      gateway: gw,
      interface: ifname,
      metric: spec.metric ?? 1024,
      origin: 'static',
    });
  }

  /**
   * A router stack advertises `prefixCidr` ('fd00:1::/64') on `ifname` in Router
   * Advertisements (RFC 4861 §6.2), and gives itself the address ::1 in it unless it has one.
   */
  advertisePrefix(ifname: string, prefixCidr: string): void {
    const c = parseCidr6(prefixCidr);
    if (!c || c.prefix > 64) throw Object.assign(new Error(`bad prefix ${prefixCidr}`), { code: 'EINVAL' });
    const st = this.enable(ifname, { acceptRa: false });
    const first = st.advertise.length === 0;
    st.advertise.push({ prefix: c.address.slice(), length: c.prefix });
    if (first) this.ndp.router.start(st);
  }

  setInterfaceUp(ifname: string, up: boolean): void {
    this.routeGeneration++;
    const st = this.#states.get(this.#iface(ifname));
    if (st && !up) st.ndp?.flush();
  }

  #iface(ifname: string): NetInterface {
    const iface = this.#env.table.get(ifname);
    if (!iface) throw Object.assign(new Error(`no interface ${ifname}`), { code: 'ENODEV' });
    return iface;
  }

  #addressChanged(st: Ipv6Interface, a: { address: Uint8Array; state: string; origin: string }): void {
    this.routeGeneration++;
    if (a.state !== 'preferred') return;
    if (a.origin === 'link-local' && !st.iface.isLoopback) {
      // RFC 4861 §6.3.7: a host solicits routers once it has a link-local address.
      if (st.acceptRa) this.ndp.startSolicitation(st);
      // A router's interface advertises (again) now that it can send from link-local.
      if (this.#env.forwarding && st.advertise.length > 0) this.ndp.router.send(st);
    }
  }

  /**
   * Is a packet from `src` to group `dst` arriving on `st` ours? Its interface is a member
   * and lets the source in (RFC 3810 §4.2); on loopback it is one we sent to a group some
   * interface of ours joined (IPV6_MULTICAST_LOOP, or sent out of lo).
   */
  #member(st: Ipv6Interface, dst: Uint8Array, src: Uint8Array): boolean {
    if (!st.iface.isLoopback) return st.groups.accepts(dst, src);
    for (const o of this.#states.values()) if (o.groups.has(dst)) return true;
    return false;
  }

  #wantsMac(iface: NetInterface, mac: Uint8Array): boolean {
    const st = this.#states.get(iface);
    if (!st || mac[0] !== 0x33 || mac[1] !== 0x33) return false;
    for (const g of st.groups.values()) {
      if (g.empty) continue;
      const m = ipv6MulticastMac(g.address);
      if (m[2] === mac[2] && m[3] === mac[3] && m[4] === mac[4] && m[5] === mac[5]) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- queries

  /** Is `a` a usable address of ours (any interface: the weak host model, as Linux)? */
  isLocalAddress(a: Uint8Array): boolean {
    if (isIpv6Loopback(a)) return this.#env.table.loopback.up;
    for (const st of this.#states.values()) if (st.iface.up && st.hasUsable(a)) return true;
    return false;
  }

  route(dst: Uint8Array, src?: Uint8Array, ifname?: string): Ipv6Route | RouteError {
    return this.output.route(dst, src, ifname);
  }

  pathMtu(dst: Uint8Array): number {
    const r = this.output.route(dst);
    if (typeof r === 'string') return IPV6_MIN_MTU;
    return this.output.pathMtu(r);
  }

  /** RFC 8201 §4: a validated Packet Too Big lowers (never raises) the path MTU, floor 1280. */
  learnPathMtu(dst: Uint8Array, mtu: number): number {
    const current = this.pathMtu(dst);
    if (mtu >= current) return current;
    this.#pmtu.learn(dst, mtu, this.#env.clock.now());
    return this.pathMtu(dst);
  }

  ping(dst: Uint8Array, opts: Ping6Options = {}): Promise<Ping6Result> {
    return this.#pings.ping(dst, opts);
  }

  // ---------------------------------------------------------------- input

  /** A packet from the link (or the loopback queue). */
  input(iface: NetInterface, bytes: Uint8Array, linkMulticast: boolean): void {
    const stats = this.stats;
    stats.received++;
    const st = this.#states.get(iface);
    if (!st) {
      stats.disabled++;
      return;
    }
    const v = Ipv6View.check(bytes);
    if (isWireError(v)) {
      stats.malformed++;
      return;
    }
    const pkt = bytes.subarray(0, IPV6_HEADER_LEN + v.payloadLength);
    const src = v.src;
    const dst = v.dst;
    // RFC 4291 §2.7: a multicast address is never a source; ::1 never arrives from a wire (§2.5.3).
    if (isIpv6Multicast(src) || (!iface.isLoopback && (isIpv6Loopback(src) || isIpv6Loopback(dst)))) {
      stats.badSource++;
      return;
    }
    if (!iface.isLoopback && !isIpv6Unspecified(src) && this.isLocalAddress(src)) {
      stats.badSource++;
      return;
    }
    const a: Ipv6Arrival = {
      src: src.slice(),
      dst: dst.slice(),
      hopLimit: v.hopLimit,
      iface,
      linkMulticast,
      packet: pkt,
    };
    const chain = walkExtensionHeaders(pkt);
    if (isIpv6ChainError(chain)) {
      stats.badExtHeaders++;
      if (chain.code !== undefined)
        this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, chain.code, chain.pointer ?? 0);
      return;
    }
    // RFC 8200 §4.3: the hop-by-hop options are examined by every node on the path.
    const first = chain.headers[0];
    if (
      first !== undefined &&
      first.type === IPV6_NH_HOPOPTS &&
      !this.#options(pkt, first.offset, first.length, a)
    )
      return;
    const multicast = isIpv6Multicast(dst);
    // A router forwards a group's packets only where a static multicast route says so
    // (mroute.ts), and never beyond their scope: interface- and link-local groups stay on
    // their link (RFC 4291 §2.7).
    if (
      multicast &&
      this.#env.forwarding &&
      !iface.isLoopback &&
      this.#mroutes.size > 0 &&
      (dst[1] & 0x0f) > 2
    ) {
      const outs = this.#mroutes.outputs(iface.name, dst, src);
      if (outs.length > 0) this.#forwarder.forwardMulticast(a, pkt, outs);
    }
    const local = multicast
      ? this.#member(st, dst, src)
      : iface.isLoopback
        ? this.isLocalAddress(dst)
        : (this.isLocalAddress(dst) && !isIpv6Loopback(dst)) ||
          // A transparent interface (a gateway's guest link) takes every unicast destination
          // beyond the link as ours, as IPv4 does (NetInterface.transparent). Link-local
          // addresses (RFC 4291 §2.5.6) stay the link's own: only ours are ours.
          (iface.transparent && !isIpv6Unspecified(dst) && !isIpv6LinkLocal(dst));
    if (!local) {
      if (multicast || !this.#env.forwarding || iface.isLoopback) {
        stats.notForUs++;
        return;
      }
      this.#forwarder.forward(a, pkt);
      return;
    }
    this.#deliver(a, pkt, chain, 0);
  }

  #deliver(a: Ipv6Arrival, pkt: Uint8Array, chain: Ipv6Chain, depth: number): void {
    const stats = this.stats;
    for (const h of chain.headers) {
      if (h.type === IPV6_NH_DSTOPTS) {
        if (!this.#options(pkt, h.offset, h.length, a)) return;
      } else if (h.type === IPV6_NH_ROUTING) {
        const segmentsLeft = pkt[h.offset + 3];
        // RFC 8200 §4.4: with Segments Left 0 an unrecognised type is ignored. We recognise
        // none: type 0 is deprecated and MUST NOT be processed (RFC 5095 §3), and a host
        // forwards no source-routed packet; otherwise Parameter Problem code 0 at Routing Type.
        if (segmentsLeft !== 0) {
          stats.badRouting++;
          this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAMPROB_HEADER, h.offset + 2);
          return;
        }
      }
    }
    if (chain.fragment !== undefined) {
      this.#reassemble(a, pkt, chain, depth);
      return;
    }
    const proto = chain.protocol;
    const payload = pkt.subarray(chain.offset);
    stats.delivered++;
    if (proto === IPV6_NH_ICMPV6) {
      this.icmp.input(a, payload);
      return;
    }
    if (proto === IPV6_NH_NONE) return; // RFC 8200 §4.7: nothing follows
    const handler = this.#protocols.get(proto);
    if (handler) {
      const info: IpPacketInfo = {
        // RFC 4007 §6: a link-local peer is known by its address and the link it is on.
        src: isIpv6LinkLocal(a.src)
          ? { family: 6, v6: a.src, scope: a.iface.ifindex }
          : { family: 6, v6: a.src },
        dst: isIpv6LinkLocal(a.dst)
          ? { family: 6, v6: a.dst, scope: a.iface.ifindex }
          : { family: 6, v6: a.dst },
        protocol: proto,
        ttl: a.hopLimit,
        ecn: (pkt[1] >> 4) & 3, // the Traffic Class's low two bits
        iface: a.iface,
        broadcast: isIpv6Multicast(a.dst),
        linkBroadcast: a.linkMulticast,
        packet: pkt,
      };
      handler.receive(info, payload);
      return;
    }
    stats.delivered--;
    stats.unknownProtocol++;
    // RFC 8200 §4: an unrecognised Next Header: Parameter Problem code 1 pointing at it.
    this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAMPROB_NEXT_HEADER, chain.nextHeaderAt);
  }

  #reassemble(a: Ipv6Arrival, pkt: Uint8Array, chain: Ipv6Chain, depth: number): void {
    const stats = this.stats;
    const f = chain.fragment!;
    const data = pkt.subarray(chain.offset);
    // RFC 8200 §4.5: a fragment not the last whose length is not a multiple of 8: Parameter
    // Problem code 0 pointing at Payload Length; one reaching past 65535: at Fragment Offset.
    if (f.moreFragments && data.length % 8 !== 0) {
      stats.reasmMalformed++;
      this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAMPROB_HEADER, 4);
      return;
    }
    const unfragLen = f.offsetInPacket;
    if (f.offset + data.length > 0xffff - (unfragLen - IPV6_HEADER_LEN)) {
      stats.reasmMalformed++;
      this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAMPROB_HEADER, f.offsetInPacket + 2);
      return;
    }
    const idx = chain.headers.length - 1;
    const namingAt = idx === 0 ? 6 : chain.headers[idx - 1].offset;
    const whole = this.reassembler.add({
      src: a.src,
      dst: a.dst,
      identification: f.identification,
      offset: f.offset,
      moreFragments: f.moreFragments,
      nextHeader: f.nextHeader,
      unfragmentable: pkt.subarray(0, unfragLen),
      nextHeaderAt: namingAt,
      data,
      packet: pkt,
    });
    if (!whole) return;
    // Fragments inside fragments: a second level at most.
    if (depth >= 1) {
      stats.reasmMalformed++;
      return;
    }
    const c = walkExtensionHeaders(whole);
    if (isIpv6ChainError(c)) {
      stats.badExtHeaders++;
      return;
    }
    this.#deliver({ ...a, packet: whole }, whole, c, depth + 1);
  }

  /**
   * RFC 8200 §4.2: the options of a hop-by-hop or destination options header. Known: Pad1,
   * PadN, Router Alert (RFC 2711). An unknown option's two high bits decide: skip, discard,
   * discard with Parameter Problem code 2 pointing at it (for 11, only to a unicast destination).
   */
  #options(pkt: Uint8Array, offset: number, length: number, a: Ipv6Arrival): boolean {
    const opts = parseIpv6Options(pkt.subarray(offset, offset + length));
    if (isWireError(opts)) {
      this.stats.badOptions++;
      this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAMPROB_HEADER, offset + 1);
      return false;
    }
    for (const o of opts) {
      if (o.type === IPV6_OPT_ROUTER_ALERT && pkt[6] === IPV6_NH_HOPOPTS) continue;
      const action = unknownOptionAction(o.type);
      if (action === 'skip') continue;
      this.stats.badOptions++;
      if (action === 'discard-icmp' || (action === 'discard-icmp-unicast' && !isIpv6Multicast(a.dst)))
        this.icmp.sendError(pkt, a, ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAMPROB_OPTION, offset + o.offset);
      return false;
    }
    return true;
  }

  /** An ICMPv6 error quoting a transport's packet, handed to that transport. */
  #transportError(err: ReceivedIcmpError): boolean {
    const h = this.#protocols.get(err.quoted.protocol);
    if (!h) return false;
    h.icmpError(err);
    return true;
  }
}
