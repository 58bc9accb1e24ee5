/**
 * A host (or router): interfaces, IPv4, ICMP, UDP, TCP (plugged in with
 * `attachTcp`) and the sockets API over them. One per simulated host; a Pollable
 * that a driver (Simulation, real-time driver) polls at `nextDeadline()`.
 *
 * The stack drives itself: a device's frames only wait in their interface's receive
 * queue (and `onWake` tells the driver), and `poll(now)` takes a bounded batch from
 * each queue, processes it, then runs the timers due. While frames wait,
 * `nextDeadline()` is now.
 *
 *   const stack = new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'host-a' });
 *   stack.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.1.2/24'] });
 *   stack.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.1.1' });
 *   sim.add(stack);
 *   const s = stack.socket(AF_INET, SOCK_DGRAM);
 */

// IPv6 (issue #15): the layer beside IPv4 and the dual-family network layer the transports see.
import { DualNetwork } from './ip/dual-network.ts';
import { Gro } from './ip/gro.ts';
import type { NetInterface } from './ip/interface.ts';
import { type InterfaceSpec, type Ipv4Config, Ipv4Layer } from './ip/ipv4.ts';
import { Ipv4Network } from './ip/ipv4-network.ts';
import { type Ipv6Config, type Ipv6EnableOptions, Ipv6Layer, type Ipv6RouteSpec } from './ip/ipv6.ts';
import type { Ipv6Interface } from './ip/ipv6-iface.ts';
import { Ipv6Network } from './ip/ipv6-network.ts';
import type { Ping6Options, Ping6Result } from './ip/ipv6-ping.ts';
import type { Ipv6Route6 } from './ip/ipv6-route.ts';
import type { NetworkLayer } from './ip/network.ts';
import type { PingOptions, PingResult } from './ip/ping.ts';
import type { Route, RouteSpec } from './ip/route.ts';
import { newStackStats, type StackStats } from './ip/stats.ts';
import type { Rng } from './rand/rng.ts';
import type {
  DatagramImpl,
  ResolvedAddress,
  Scheduler,
  SocketBackend,
  StreamImpl,
} from './socket/backend.ts';
import {
  type AddressFamily,
  AF_INET,
  AF_INET6,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SocketKind,
} from './socket/constants.ts';
import type { ScopeZones } from './socket/inet-address.ts';
import { Socket } from './socket/socket.ts';
import { type MulticastHost, StackDatagramSocket } from './socket/stack-dgram.ts';
import { type NameserverOptions, StackResolver } from './socket/stack-resolver.ts';
import { streamSocketFactory } from './socket/stack-stream.ts';
import {
  type StackTcpEnv,
  type StackTcpStats,
  type TcpLayerLike,
  TcpReceiveShim,
  tcpEnvOver,
} from './stack/tcp-glue.ts';
import type { TcpConfig } from './tcp/config.ts';
import { TcpLayer } from './tcp/layer.ts';
import type { Clock, Pollable } from './time/clock.ts';
import type { Instant } from './time/instant.ts';
import { TimerQueue } from './time/timers.ts';
import { UdpLayer } from './udp/udp.ts';
import { type IpAddress, type Ipv4Address, parseIpv4, parseIpv6 } from './wire/address.ts';
import { IP_PROTO_TCP } from './wire/ipv4.ts';

export type { StackTcpEnv, StackTcpStats, TcpLayerLike } from './stack/tcp-glue.ts';

/** Frames `poll` takes from each interface's receive queue per call (Linux's NAPI weight). */
export const RX_BATCH = 64;
/**
 * Bytes `poll` takes from each interface per call (at least one frame), after which the
 * batch's socket events are delivered: the application then reads the data while it is
 * still in the CPU's cache. About 43 full 1500-byte frames fit, or one 64 KiB super-segment
 * (as much as Linux's GRO hands up at once). With 64 such segments per batch, 4 MiB went
 * through the receive buffer before the reader ran, and bulk transfer at MTU 65535 was about
 * 16 % slower (scripts/bench-ab.ts, RX_BATCH 1 against 64).
 */
export const RX_BATCH_BYTES = 64 * 1024;
/** Polls in a row that may leave the timers for later because input is still waiting. */
const MAX_INPUT_ONLY_POLLS = 256;

export interface StackConfig extends Ipv4Config {
  tcp?: Partial<TcpConfig>;
  /** IPv6 settings; `enable: true` turns IPv6 on for every interface added (link-local, DAD, RS). */
  ipv6?: Ipv6Config & { enable?: boolean };
}

export interface StackOptions {
  clock: Clock;
  rng: Rng;
  name?: string;
  /** May bind ports below 1024 (as root). Default false. */
  privileged?: boolean;
  /** Forward datagrams not addressed to us (a router). Default false. */
  forwarding?: boolean;
  config?: StackConfig;
  /** DNS servers ('10.0.2.53' or '10.0.2.53:5353') asked after `hosts` (src/socket/stack-resolver.ts). */
  nameservers?: readonly string[];
  /** Receive coalescing of TCP segments (src/ip/gro.ts; per interface: NetInterface.gro). Default true. */
  gro?: boolean;
}

export class Stack implements Pollable {
  readonly name: string;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers = new TimerQueue();
  readonly stats: StackStats;
  readonly tcpStats: StackTcpStats = { badChecksum: 0, malformed: 0, noLayer: 0 };
  readonly ip: Ipv4Layer;
  /** The IPv6 layer (shares the interface table and link layer with `ip`). */
  readonly ip6: Ipv6Layer;
  /** The family-generic network layer the transports use (src/ip/network.ts). */
  readonly net: NetworkLayer;
  readonly udp: UdpLayer;
  /**
   * Called when a frame is queued on an idle stack (a device received it, or loopback):
   * the driver should poll soon. A real-time driver sets its `kick` here.
   */
  onWake: (() => void) | undefined = undefined;
  /**
   * Called with each frame taken from a receive queue, just before it is processed (a
   * tracing hook, like Linux's netif_receive_skb tracepoint).
   */
  traceReceive: ((iface: NetInterface, frame: Uint8Array) => void) | undefined = undefined;
  readonly privileged: boolean;
  /** Host names for getaddrinfo on this stack (an /etc/hosts); 'localhost' is built in. */
  readonly hosts = new Map<string, Ipv4Address>([['localhost', 0x7f000001]]);
  /** getaddrinfo on this stack: `hosts`, then DNS over this stack's UDP to the nameservers. */
  readonly resolver: StackResolver;
  readonly #tcpShim: TcpReceiveShim;
  readonly #tcpLayer: TcpLayer;
  readonly #receive: (iface: NetInterface, frame: Uint8Array) => void;
  readonly #gro: Gro;
  #inputOnlyPolls = 0;
  readonly #ipv6Enable: boolean;
  /** When the receive queues last went from empty to not (nextDeadline while frames wait). */
  #rxSince: Instant = 0;
  #backend: SocketBackend | undefined;
  /** Overrides how stream sockets are made (default: src/socket/stack-stream.ts over `tcp`). */
  #streamFactory: ((stack: Stack) => StreamImpl) | undefined;
  readonly #env: { clock: Clock; rng: Rng; timers: TimerQueue; stats: StackStats; forwarding: boolean };

  constructor(options: StackOptions) {
    this.name = options.name ?? 'host';
    this.clock = options.clock;
    this.rng = options.rng;
    this.privileged = options.privileged ?? false;
    this.stats = newStackStats();
    this.#env = {
      clock: this.clock,
      rng: this.rng,
      timers: this.timers,
      stats: this.stats,
      forwarding: options.forwarding ?? false,
    };
    this.ip = new Ipv4Layer(this.#env, options.config);
    this.ip.checkForwarding(this.#env.forwarding);
    this.#ipv6Enable = options.config?.ipv6?.enable === true;
    this.ip.table.onWake = () => {
      this.#rxSince = this.clock.now();
      this.onWake?.();
    };
    const ip = this.ip;
    const gro = new Gro(this.stats, (iface, frame) => ip.receive(iface, frame));
    gro.enabled = options.gro ?? true;
    this.#gro = gro;
    this.#receive = (iface, frame) => {
      const trace = this.traceReceive;
      if (trace !== undefined) trace(iface, frame);
      gro.input(iface, frame);
    };
    const env = this.#env;
    this.ip6 = new Ipv6Layer(
      {
        clock: this.clock,
        rng: this.rng,
        timers: this.timers,
        table: ip.table,
        link: ip.link,
        get forwarding() {
          return env.forwarding;
        },
      },
      // The stack's static multicast routes (StackConfig.multicastRoutes) hold both families'.
      options.config?.multicastRoutes !== undefined && options.config.ipv6?.multicastRoutes === undefined
        ? { ...options.config.ipv6, multicastRoutes: options.config.multicastRoutes }
        : options.config?.ipv6,
    );
    this.net = new DualNetwork(new Ipv4Network(this.ip), new Ipv6Network(this.ip6));
    this.udp = new UdpLayer(this.net, this.stats.udp, { privileged: this.privileged, rng: this.rng });
    this.#tcpShim = new TcpReceiveShim(this.tcpStats);
    this.net.registerProtocol(IP_PROTO_TCP, this.#tcpShim);
    this.#tcpLayer = this.attachTcp((env) => new TcpLayer(env, options.config?.tcp));
    this.#tcpLayer.driveByPolls();
    this.udp.tcpTunnel = this.#tcpShim.tunnel(() => this.#tcpLayer.config.udpTunnelingPort);
    this.resolver = new StackResolver(this, options.nameservers ?? []);
  }

  /** The source address this stack would use towards `dst` (undefined: no route). */
  sourceFor(dst: IpAddress): IpAddress | undefined {
    const r = this.net.route(dst);
    return typeof r === 'string' ? undefined : r.source;
  }

  /** The DNS servers getaddrinfo asks after the hosts table ('address:port'). */
  get nameservers(): string[] {
    return this.resolver.nameservers;
  }

  /** Replaces the DNS servers (empty: hosts table only); timeouts/retries run on this stack's clock. */
  setNameservers(nameservers: readonly string[], options?: NameserverOptions): void {
    this.resolver.setNameservers(nameservers, options);
  }

  /** The TTL of datagrams whose socket sets no IP_TTL. */
  get defaultTtl(): number {
    return this.net.defaultTtl;
  }

  /** The stack's TCP layer (src/tcp/layer.ts). */
  get tcp(): TcpLayer {
    return this.#tcpLayer;
  }

  /** Receive coalescing (src/ip/gro.ts) on this stack; each interface has its own switch too (`gro`). */
  get gro(): boolean {
    return this.#gro.enabled;
  }
  set gro(on: boolean) {
    this.#gro.enabled = on;
  }

  get forwarding(): boolean {
    return this.#env.forwarding;
  }
  set forwarding(on: boolean) {
    this.ip.checkForwarding(on);
    this.#env.forwarding = on;
  }

  /**
   * Group memberships for datagram sockets in both families (IP_ADD_MEMBERSHIP,
   * IPV6_JOIN_GROUP, source-specific joins): each socket owns its memberships on an
   * interface's table (src/ip/membership.ts), and the interface reports its changes with
   * IGMPv3 (src/ip/igmp.ts) or MLDv2 (src/ip/ipv6-mld.ts).
   */
  readonly #multicast: MulticastHost = {
    interfaceFor: (group, ifindex, addr) => {
      let iface: NetInterface | undefined;
      if (ifindex !== 0) iface = this.ip6.zoneInterface(ifindex);
      else if (addr !== 0) iface = this.ip.interfaces.find((i) => i.hasAddress(addr));
      else {
        const r = this.net.route(group);
        iface = typeof r === 'string' ? undefined : r.iface;
      }
      if (!iface) return 0;
      // IPv6 memberships need IPv6 on the interface.
      if (group.family === 6 && !this.ip6.state(iface)) return 0;
      return iface.ifindex;
    },
    interfaceOf4: (addr) => this.ip.interfaces.find((i) => i.hasAddress(addr))?.ifindex ?? 0,
    ifname: (ifindex) => this.ip6.zoneInterface(ifindex)?.name,
    join: (group, ifindex, owner, sources) => {
      const iface = this.ip6.zoneInterface(ifindex);
      if (!iface) return false;
      if (group.family === 4)
        return this.ip.igmp.join(
          iface,
          group.v4,
          owner,
          sources?.map((s) => (s.family === 4 ? s.v4 : 0)),
        );
      const st = this.ip6.state(iface);
      return (
        st !== undefined &&
        this.ip6.mld.join(
          st,
          group.v6,
          owner,
          sources?.map((s) => (s.family === 6 ? s.v6 : new Uint8Array(16))),
        )
      );
    },
    leave: (group, ifindex, owner, sources) => {
      const iface = this.ip6.zoneInterface(ifindex);
      if (!iface) return;
      if (group.family === 4) {
        this.ip.igmp.leave(
          iface,
          group.v4,
          owner,
          sources?.map((s) => (s.family === 4 ? s.v4 : 0)),
        );
        return;
      }
      const st = this.ip6.state(iface);
      if (st)
        this.ip6.mld.leave(
          st,
          group.v6,
          owner,
          sources?.map((s) => (s.family === 6 ? s.v6 : new Uint8Array(16))),
        );
    },
  };

  /** The interfaces as zones of link-local addresses (scope ids, RFC 4007 §6) for sockets. */
  get zones(): ScopeZones {
    const ip6 = this.ip6;
    return {
      has: (ifindex) => ip6.zoneInterface(ifindex) !== undefined,
      links: () => ip6.linkZones().map((i) => i.ifindex),
    };
  }

  get interfaces(): readonly NetInterface[] {
    return this.ip.interfaces;
  }

  get routes(): readonly Route[] {
    return this.ip.routes.routes;
  }

  // ---------------------------------------------------------------- configuration

  /** Adds an interface; its on-link routes appear and a gratuitous ARP goes out per address. */
  addInterface(spec: InterfaceSpec): NetInterface {
    const v6 = (spec.addresses ?? []).filter((a) => a.includes(':'));
    const iface = this.ip.addInterface(
      v6.length === 0 ? spec : { ...spec, addresses: spec.addresses!.filter((a) => !a.includes(':')) },
    );
    if (this.#ipv6Enable) this.ip6.enable(iface.name);
    for (const a of v6) this.ip6.addAddress(iface.name, a);
    return iface;
  }

  /** Adds an address: '10.0.1.2/24', or an IPv6 one ('fd00:1::2/64', which enables IPv6 there). */
  addAddress(ifname: string, cidr: string): void {
    if (cidr.includes(':')) this.ip6.addAddress(ifname, cidr);
    else this.ip.addAddress(ifname, cidr);
  }

  /** Adds a route; an IPv6 destination ('::/0', 'fd00:2::/64') goes to the IPv6 table. */
  addRoute(spec: RouteSpec): Route;
  addRoute(spec: Ipv6RouteSpec): Ipv6Route6;
  addRoute(spec: RouteSpec | Ipv6RouteSpec): Route | Ipv6Route6 {
    if (
      typeof spec.destination === 'string' &&
      (spec.destination.includes(':') || String(spec.gateway ?? '').includes(':'))
    )
      return this.ip6.addRoute(spec as Ipv6RouteSpec);
    return this.ip.addRoute(spec as RouteSpec);
  }

  /** Turns IPv6 on for an interface: link-local address with DAD, MLD, router solicitation. */
  enableIpv6(ifname: string, opts?: Ipv6EnableOptions): Ipv6Interface {
    return this.ip6.enable(ifname, opts);
  }

  /** A router stack (forwarding on) advertises `prefix` ('fd00:1::/64') on `ifname` in RAs. */
  advertiseIpv6Prefix(ifname: string, prefix: string): void {
    this.ip6.advertisePrefix(ifname, prefix);
  }

  setInterfaceUp(ifname: string, up: boolean): void {
    this.ip.setInterfaceUp(ifname, up);
    this.ip6.setInterfaceUp(ifname, up);
  }

  // ---------------------------------------------------------------- Pollable

  /** Now while a receive queue holds frames; else the earliest timer. */
  nextDeadline(): Instant | undefined {
    const t = this.timers.nextDeadline();
    if (this.ip.table.pending === 0) return t;
    // Due since the first waiting frame was queued: an instant already past, so a real-time
    // driver that compares it with its own (earlier-read) `now` finds the stack due at once.
    const since = this.#rxSince;
    return t !== undefined && t < since ? t : since;
  }

  /**
   * Takes a batch of received frames from each interface and processes them, then runs
   * the timers due. While frames are still waiting after the batch, the timers wait for
   * a later poll at the same instant, so every frame of an instant is processed before
   * its timers (an ACK re-arms the RTO before it can fire) — for at most
   * MAX_INPUT_ONLY_POLLS polls in a row, so a flood cannot starve them.
   */
  poll(now: Instant): void {
    this.pollReceive();
    if (this.ip.table.pending > 0 && ++this.#inputOnlyPolls < MAX_INPUT_ONLY_POLLS) return;
    this.#inputOnlyPolls = 0;
    const tcp = this.#tcpLayer;
    tcp.polling = true;
    try {
      this.timers.runDue(now);
    } finally {
      tcp.polling = false;
    }
    // Socket events, once, after the poll's input and timers (TcpLayer.deliverEvents).
    tcp.deliverEvents();
  }

  /**
   * The input half of `poll`: up to RX_BATCH frames from each interface's receive queue,
   * processed now. Returns how many. For a caller that queued a frame and must see it
   * processed before anything else happens (the conformance target's injection).
   */
  pollReceive(): number {
    const tcp = this.#tcpLayer;
    tcp.polling = true;
    let n: number;
    try {
      n = this.ip.table.pollReceive(RX_BATCH, RX_BATCH_BYTES, this.#receive);
      // The coalesced run goes up with its batch: no segment waits for a later poll.
      this.#gro.flush();
      // One output pass per connection the batch touched, then the socket events, once.
      if (n > 0) tcp.runOutputPass();
    } finally {
      tcp.polling = false;
    }
    if (n > 0) tcp.deliverEvents();
    return n;
  }

  // ---------------------------------------------------------------- ICMP echo

  /** Sends one echo request (ping). `dst` is dotted-quad text or a number. IPv4 only until IPv6 lands. */
  ping(dst: string | Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    const a = typeof dst === 'string' ? parseIpv4(dst) : dst;
    if (a === undefined) return Promise.reject(new TypeError(`bad IPv4 address ${String(dst)}`));
    return this.ip.ping(a, opts);
  }

  /** Sends one ICMPv6 echo request to `dst` ('fd00::1', 'fe80::1%eth0' names the interface). */
  ping6(dst: string, opts: Ping6Options = {}): Promise<Ping6Result> {
    const pct = dst.indexOf('%');
    const a = parseIpv6(dst);
    if (a === undefined)
      return Promise.reject(Object.assign(new TypeError(`bad IPv6 address ${dst}`), { code: 'EINVAL' }));
    return this.ip6.ping(
      a,
      pct >= 0 && opts.ifname === undefined ? { ...opts, ifname: dst.slice(pct + 1) } : opts,
    );
  }

  // ---------------------------------------------------------------- TCP seam

  /** The environment a TcpLayer needs, built on this stack's network layer (src/stack/tcp-glue.ts). */
  tcpEnv(): StackTcpEnv {
    return tcpEnvOver(this.net, { clock: this.clock, rng: this.rng, timers: this.timers, stats: this.stats });
  }

  /**
   * Plugs a TCP layer in: `stack.attachTcp((env) => new TcpLayer(env))`. Segments
   * with protocol 6 are checksum-verified and handed to `layer.receive`; ICMP errors
   * quoting TCP go to `layer.icmpError`.
   */
  attachTcp<T extends TcpLayerLike>(make: (env: StackTcpEnv) => T): T {
    const layer = make(this.tcpEnv());
    this.#tcpShim.layer = layer;
    return layer;
  }

  // ---------------------------------------------------------------- sockets

  /** Sets how stream sockets are made (the TCP socket backend plugs in here). */
  setStreamFactory(make: (stack: Stack) => StreamImpl): void {
    this.#streamFactory = make;
  }

  /** The socket backend of this stack (its clock for timeouts; `resolver` for names). */
  get backend(): SocketBackend {
    if (this.#backend) return this.#backend;
    const timers = this.timers;
    const clock = this.clock;
    const scheduler: Scheduler = {
      schedule: (fn: () => void, ms: number) => {
        const t = timers.timer(() => fn());
        t.set(clock.now() + Math.max(0, Math.round(ms * 1000)));
        return t;
      },
      cancel: (handle: unknown) => {
        (handle as { cancel(): void } | undefined)?.cancel();
      },
    };
    const backend: SocketBackend = {
      name: 'stack',
      scheduler,
      create: (family: AddressFamily, type: SocketKind): DatagramImpl | StreamImpl => {
        if (family !== AF_INET && family !== AF_INET6)
          throw Object.assign(new Error('EAFNOSUPPORT'), { code: 'EAFNOSUPPORT' });
        const f = family === AF_INET6 ? 10 : 2;
        if (type === SOCK_DGRAM)
          return new StackDatagramSocket(this.udp.open(), f, this.zones, this.#multicast);
        if (type === SOCK_STREAM)
          return this.#streamFactory ? this.#streamFactory(this) : streamSocketFactory(this, f);
        throw Object.assign(new Error('EPROTONOSUPPORT'), { code: 'EPROTONOSUPPORT' });
      },
      resolve: (host: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> =>
        this.resolver.resolve(host, family),
      gethostname: () => this.name,
    };
    this.#backend = backend;
    return backend;
  }

  /** socket(2) on this stack: the front `Socket` (Python-style API) over the stack backend. */
  socket(family: number = AF_INET, type: number = SOCK_STREAM, proto = 0): Socket {
    return new Socket(this.backend, family, type, proto);
  }
}
