/**
 * A host (or router): interfaces, IPv4, ICMP, UDP, TCP (plugged in with
 * `attachTcp`) and the sockets API over them. One per simulated host; a Pollable
 * that a driver (Simulation, real-time driver) polls at `nextDeadline()`.
 *
 *   const stack = new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'host-a' });
 *   stack.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.1.2/24'] });
 *   stack.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.1.1' });
 *   sim.add(stack);
 *   const s = stack.socket(AF_INET, SOCK_DGRAM);
 */

import type { NetInterface } from './ip/interface.ts';
import {
  DEFAULT_TTL,
  type InterfaceSpec,
  type IpPacketInfo,
  type Ipv4Config,
  Ipv4Layer,
  type PingOptions,
  type PingResult,
  type ReceivedIcmpError,
  type SendOptions,
  type TransportProtocol,
} from './ip/ipv4.ts';
import type { Route, RouteSpec } from './ip/route.ts';
import { newStackStats, type StackStats } from './ip/stats.ts';
import { allocFrame } from './link/frame-alloc.ts';
import type { Rng } from './rand/rng.ts';
import type {
  DatagramImpl,
  ResolvedAddress,
  Scheduler,
  SocketBackend,
  StreamImpl,
} from './socket/backend.ts';
import { type AddressFamily, AF_INET, SOCK_DGRAM, SOCK_STREAM, type SocketKind } from './socket/constants.ts';
import { Socket } from './socket/socket.ts';
import { StackDatagramSocket } from './socket/stack-dgram.ts';
import { type NameserverOptions, StackResolver } from './socket/stack-resolver.ts';
import { streamSocketFactory } from './socket/stack-stream.ts';
import { pmtuDontFragment, type TcpConfig } from './tcp/config.ts';
import { type TcpIpFields, TcpLayer, type TcpUdpEncap } from './tcp/layer.ts';
import type { Clock, Pollable } from './time/clock.ts';
import type { Instant } from './time/instant.ts';
import { TimerQueue } from './time/timers.ts';
import { UdpLayer, type UdpTcpTunnel } from './udp/udp.ts';
import { type IpAddress, type Ipv4Address, parseIpv4 } from './wire/address.ts';
import { pseudoHeaderSumV4 } from './wire/checksum.ts';
import { isWireError } from './wire/error.ts';
import { IP_PROTO_TCP, IP_PROTO_UDP, IPV4_MIN_HEADER_LEN } from './wire/ipv4.ts';
import { emitTcp, parseTcp, type TcpRepr, tcpHeaderLength } from './wire/tcp.ts';
import { emitUdp, UDP_HEADER_LEN } from './wire/udp.ts';

export interface StackConfig extends Ipv4Config {
  tcp?: Partial<TcpConfig>;
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
}

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
  ): void;
  routeSource(dst: IpAddress): IpAddress | undefined;
  mssFor(dst: IpAddress): number;
  isLocalAddress(a: IpAddress): boolean;
}

/** What the stack needs of a TcpLayer (structurally; src/tcp/layer.ts). */
export interface TcpLayerLike {
  /** `tunnelPort`: the UDP port a tunnelled segment came from (TcpConfig.udpTunnelingPort). */
  receive(src: IpAddress, dst: IpAddress, repr: TcpRepr, payload: Uint8Array, tunnelPort?: number): void;
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

const v4 = (a: Ipv4Address): IpAddress => ({ family: 4, v4: a });

/** RFC 9293 §3.7.2 / RFC 1191: TCP does path MTU discovery, so DF is set. */
const TCP_SEND_OPTIONS: SendOptions = Object.freeze({ protocol: IP_PROTO_TCP, dontFragment: true });

/** IP send options per (TTL, TOS byte, DF, tunnelled) a connection asks for, made once each. */
const tcpSendOptionsCache = new Map<number, SendOptions>();

/**
 * The IP send options for a TCP segment: the connection's IP_TOS byte (its DSCP; the ECN field
 * stays Not-ECT, as this TCP does no RFC 3168 ECN) and DF unless IP_MTU_DISCOVER turns path MTU
 * discovery off (pmtuDontFragment).
 */
function tcpSendOptions(ip: TcpIpFields | undefined, protocol = IP_PROTO_TCP): SendOptions {
  if (!ip && protocol === IP_PROTO_TCP) return TCP_SEND_OPTIONS;
  const dscp = ((ip?.tos ?? 0) & 0xff) >> 2;
  const df = pmtuDontFragment(ip?.pmtuDisc);
  const ttl = ip?.ttl;
  if (dscp === 0 && df && ttl === undefined && protocol === IP_PROTO_TCP) return TCP_SEND_OPTIONS;
  // (TTL 0 is never set: IP_TTL takes 1..255.)
  const key = (((ttl ?? 0) << 8) | (dscp << 1) | (df ? 1 : 0)) * 2 + (protocol === IP_PROTO_UDP ? 1 : 0);
  let o = tcpSendOptionsCache.get(key);
  if (!o) {
    o = Object.freeze({ protocol, dscp, dontFragment: df, ...(ttl !== undefined ? { ttl } : {}) });
    tcpSendOptionsCache.set(key, o);
  }
  return o;
}

export class Stack implements Pollable {
  readonly name: string;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers = new TimerQueue();
  readonly stats: StackStats;
  readonly tcpStats: StackTcpStats = { badChecksum: 0, malformed: 0, noLayer: 0 };
  readonly ip: Ipv4Layer;
  readonly udp: UdpLayer;
  readonly privileged: boolean;
  /** Host names for getaddrinfo on this stack (an /etc/hosts); 'localhost' is built in. */
  readonly hosts = new Map<string, Ipv4Address>([['localhost', 0x7f000001]]);
  /** getaddrinfo on this stack: `hosts`, then DNS over this stack's UDP to the nameservers. */
  readonly resolver: StackResolver;
  #tcp: TcpLayerLike | undefined;
  readonly #tcpLayer: TcpLayer;
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
    this.udp = new UdpLayer(this.ip, this.stats.udp, { privileged: this.privileged, rng: this.rng });
    this.ip.registerProtocol(IP_PROTO_TCP, this.#tcpShim());
    this.#tcpLayer = this.attachTcp((env) => new TcpLayer(env, options.config?.tcp));
    this.udp.tcpTunnel = this.#tcpTunnel();
    this.resolver = new StackResolver(this, options.nameservers ?? []);
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
    return this.ip.config.defaultTtl ?? DEFAULT_TTL;
  }

  /** The stack's TCP layer (src/tcp/layer.ts). */
  get tcp(): TcpLayer {
    return this.#tcpLayer;
  }

  get forwarding(): boolean {
    return this.#env.forwarding;
  }
  set forwarding(on: boolean) {
    this.#env.forwarding = on;
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
    return this.ip.addInterface(spec);
  }

  addAddress(ifname: string, cidr: string): void {
    this.ip.addAddress(ifname, cidr);
  }

  addRoute(spec: RouteSpec): Route {
    return this.ip.addRoute(spec);
  }

  setInterfaceUp(ifname: string, up: boolean): void {
    this.ip.setInterfaceUp(ifname, up);
  }

  // ---------------------------------------------------------------- Pollable

  nextDeadline(): Instant | undefined {
    return this.timers.nextDeadline();
  }

  poll(now: Instant): void {
    this.timers.runDue(now);
  }

  // ---------------------------------------------------------------- ICMP echo

  /** Sends one echo request (ping). `dst` is dotted-quad text or a number. */
  ping(dst: string | Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    const a = typeof dst === 'string' ? parseIpv4(dst) : dst;
    if (a === undefined) return Promise.reject(new TypeError(`bad IPv4 address ${String(dst)}`));
    return this.ip.ping(a, opts);
  }

  // ---------------------------------------------------------------- TCP seam

  /** The environment a TcpLayer needs, built on this stack's IP layer. */
  tcpEnv(): StackTcpEnv {
    const ip = this.ip;
    return {
      clock: this.clock,
      rng: this.rng,
      timers: this.timers,
      output: (src, dst, repr, payload, fields, udp) => {
        if (src.family !== 4 || dst.family !== 4) return;
        const route = ip.route(dst.v4, src.v4);
        if (typeof route === 'string') {
          this.stats.ip.noRoute++;
          return;
        }
        if (udp) {
          // TCP over UDP (TcpConfig.udpTunnelingPort): the segment rides in a UDP datagram
          // whose checksum covers it; as FreeBSD's tcp_output does, the TCP checksum is left 0.
          const at = ip.headroom(route) + IPV4_MIN_HEADER_LEN;
          const tlen = tcpHeaderLength(repr) + payload.length;
          const frame = allocFrame(at + UDP_HEADER_LEN + tlen);
          emitTcp(repr, payload, frame, 0, at + UDP_HEADER_LEN);
          frame[at + UDP_HEADER_LEN + 16] = 0;
          frame[at + UDP_HEADER_LEN + 17] = 0;
          const dgram = frame.subarray(at);
          emitUdp(
            udp,
            dgram.subarray(UDP_HEADER_LEN),
            dgram,
            pseudoHeaderSumV4(route.src, dst.v4, IP_PROTO_UDP, UDP_HEADER_LEN + tlen),
          );
          ip.sendInPlace(route, tcpSendOptions(fields, IP_PROTO_UDP), frame);
          return;
        }
        // The segment is built straight into its frame (link + IP header room in front), so
        // the payload is copied once and IP adds its header in place.
        const at = ip.headroom(route) + IPV4_MIN_HEADER_LEN;
        const len = tcpHeaderLength(repr) + payload.length;
        const frame = allocFrame(at + len);
        emitTcp(repr, payload, frame, pseudoHeaderSumV4(route.src, dst.v4, IP_PROTO_TCP, len), at);
        ip.sendInPlace(route, tcpSendOptions(fields), frame);
      },
      routeSource: (dst) => {
        if (dst.family !== 4) return undefined;
        const r = ip.route(dst.v4);
        return typeof r === 'string' ? undefined : v4(r.src);
      },
      // RFC 9293 §3.7.1: MSS = MTU - 20 (IP) - 20 (TCP).
      // An IPv4 datagram is at most 65535 bytes (RFC 791 Total Length), so loopback's
      // 65536-byte MTU gives MSS 65495, as on Linux's lo.
      mssFor: (dst) => (dst.family === 4 ? Math.min(ip.pathMtu(dst.v4), 65535) - 40 : 1220),
      isLocalAddress: (a) => a.family === 4 && ip.isLocalAddress(a.v4),
    };
  }

  /**
   * Plugs a TCP layer in: `stack.attachTcp((env) => new TcpLayer(env))`. Segments
   * with protocol 6 are checksum-verified and handed to `layer.receive`; ICMP errors
   * quoting TCP go to `layer.icmpError`.
   */
  attachTcp<T extends TcpLayerLike>(make: (env: StackTcpEnv) => T): T {
    const layer = make(this.tcpEnv());
    this.#tcp = layer;
    return layer;
  }

  /**
   * TCP over UDP: datagrams to TcpConfig.udpTunnelingPort are TCP segments. Their TCP checksum
   * is not checked (FreeBSD skips it; UDP's, checked already, covers the segment).
   */
  #tcpTunnel(): UdpTcpTunnel {
    return {
      port: () => this.#tcpLayer.config.udpTunnelingPort,
      receive: (info, srcPort, segment) => {
        const layer = this.#tcp;
        const p = parseTcp(segment);
        if (isWireError(p)) {
          this.tcpStats.malformed++;
          return;
        }
        if (!layer) {
          this.tcpStats.noLayer++;
          return;
        }
        layer.receive(v4(info.src), v4(info.dst), p.repr, p.payload, srcPort);
      },
    };
  }

  #tcpShim(): TransportProtocol {
    // The addresses handed to TCP, kept from one segment to the next: IpAddress is
    // immutable, so a connection's segments share two objects instead of making two each.
    let srcNum = -1;
    let srcAddr: IpAddress = v4(0);
    let dstNum = -1;
    let dstAddr: IpAddress = v4(0);
    return {
      receive: (info: IpPacketInfo, payload: Uint8Array) => {
        const layer = this.#tcp;
        if (info.broadcast || info.linkBroadcast) return; // RFC 9293 §3.10.7.1: TCP is unicast only
        const p = parseTcp(payload, pseudoHeaderSumV4(info.src, info.dst, IP_PROTO_TCP, payload.length));
        if (isWireError(p)) {
          if (p.wireError === 'checksum') this.tcpStats.badChecksum++;
          else this.tcpStats.malformed++;
          return;
        }
        if (!layer) {
          this.tcpStats.noLayer++;
          return;
        }
        if (info.src !== srcNum) {
          srcNum = info.src;
          srcAddr = v4(srcNum);
        }
        if (info.dst !== dstNum) {
          dstNum = info.dst;
          dstAddr = v4(dstNum);
        }
        layer.receive(srcAddr, dstAddr, p.repr, p.payload);
      },
      icmpError: (err: ReceivedIcmpError) => {
        const layer = this.#tcp;
        const q = err.quoted;
        if (!layer || q.srcPort === undefined || q.dstPort === undefined || q.transport.length < 8) return;
        const t = q.transport;
        const seq = ((t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]) >>> 0;
        layer.icmpError(
          err.kind,
          v4(q.src),
          v4(q.dst),
          { srcPort: q.srcPort, dstPort: q.dstPort, seq },
          err.nextHopMtu,
        );
      },
    };
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
        if (family !== AF_INET) throw Object.assign(new Error('EAFNOSUPPORT'), { code: 'EAFNOSUPPORT' });
        if (type === SOCK_DGRAM) return new StackDatagramSocket(this.udp.open());
        if (type === SOCK_STREAM) return (this.#streamFactory ?? streamSocketFactory)(this);
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
