/**
 * The TCP layer of one host: demultiplexing (4-tuple, then listener, else RST),
 * bind/connect/listen over the transport's port table (src/transport/port-table.ts),
 * ICMP errors, counters.
 * It knows nothing about IP headers: IP reaches it through `receive` / `icmpError`,
 * and it reaches IP through `TcpEnv`.
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerQueue } from '../time/timers.ts';
import {
  ipEqual,
  isWildcard,
  type PortEndpoint,
  type PortRequest,
  streamConflict,
} from '../transport/bind-rules.ts';
import { PortTable } from '../transport/port-table.ts';
import { EphemeralPorts } from '../transport/ports.ts';
import type { IpAddress } from '../wire/address.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpRepr } from '../wire/tcp.ts';
import { resolveTcpConfig, type TcpConfig, type TcpSocketOptions } from './config.ts';
import { TcpConnection, type TcpConnectionEvents } from './connection.ts';
import { reasonCode, type TcpCloseReason, TcpError } from './errors.ts';
import type { TcpInfo } from './info.ts';
import { segmentArrives, wantedWscale } from './input.ts';
import { IsnGenerator } from './isn.ts';
import { initSend, TcpListener } from './listen.ts';
import { TcpMemory } from './memory.ts';
import { replyRst, sendDataAt, tcpOutput } from './output.ts';
import { seq, seqAdd, seqGt, seqLe, seqLt, seqSub } from './seq.ts';
import { SynCookies } from './syncookie.ts';

/**
 * The IP header fields a connection chooses for its segments (IP_TOS, IP_MTU_DISCOVER; see
 * TcpSocketOptions). Absent: TOS 0 and DF set (RFC 1191 path MTU discovery).
 */
export interface TcpIpFields {
  readonly tos?: number;
  readonly pmtuDisc?: number;
  readonly ttl?: number;
}

/** The UDP ports around a tunnelled segment (TcpConfig.udpTunnelingPort). */
export interface TcpUdpEncap {
  readonly srcPort: number;
  readonly dstPort: number;
}

export interface TcpEnv {
  clock: Clock;
  rng: Rng;
  timers: TimerQueue;
  /**
   * Hand a segment to IP (which adds the IP header, routes, computes the checksum).
   * `repr` and `payload` are lent for the duration of the call only: copy to keep.
   */
  output(
    src: IpAddress,
    dst: IpAddress,
    repr: TcpRepr,
    payload: Uint8Array,
    ip?: TcpIpFields,
    udp?: TcpUdpEncap,
  ): void;
  /** Source address the host would use to reach dst (undefined: no route -> ENETUNREACH/EHOSTUNREACH). */
  routeSource(dst: IpAddress): IpAddress | undefined;
  /** Largest TCP payload on the route to dst (path MTU - IP - TCP headers, no options), e.g. 1460. */
  mssFor(dst: IpAddress): number;
  isLocalAddress(a: IpAddress): boolean;
}

export type TcpIcmpKind =
  | 'unreachable'
  | 'port-unreachable'
  | 'proto-unreachable'
  | 'host-unreachable'
  | 'net-unreachable'
  | 'frag-needed'
  | 'time-exceeded';

/** Layer-wide counters: every drop and notable event. */
export function newTcpStats() {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    badSegment: 0,
    noListener: 0,
    rstSent: 0,
    rstReceived: 0,
    resets: 0,
    retransmits: 0,
    timeouts: 0,
    timedOut: 0,
    fastRetransmits: 0,
    /** RFC 8985 tail loss probes sent, and those whose ACK showed they repaired a loss. */
    lossProbes: 0,
    lossProbeRecoveries: 0,
    partialAckRetransmits: 0,
    sackRecoveries: 0,
    dupAcks: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    cookiesSent: 0,
    cookiesAccepted: 0,
    cookiesFailed: 0,
    backlogDrops: 0,
    synQueueDrops: 0,
    outOfWindow: 0,
    pawsDrops: 0,
    missingTimestamp: 0,
    badAck: 0,
    ackOfUnsent: 0,
    ackTooOld: 0,
    outOfOrder: 0,
    reassemblyDrops: 0,
    /** Data segments dropped at the memory limit, and out-of-order queues pruned for it (memory.ts). */
    memoryDrops: 0,
    memoryPrunes: 0,
    truncatedToWindow: 0,
    zeroWindowDrops: 0,
    zeroWindowProbes: 0,
    delayedAcks: 0,
    keepaliveProbes: 0,
    keepaliveTimeouts: 0,
    dataAfterClose: 0,
    activeOpens: 0,
    passiveOpens: 0,
    established: 0,
    timeWaitExpired: 0,
    timeWaitRecycled: 0,
    timeWaitRstIgnored: 0,
    /** Segments for a connection that arrived by another UDP tunnel port (or none): reset. */
    tunnelPortMismatch: 0,
    deferredAcks: 0,
    finWait2Timeouts: 0,
    icmpNoConnection: 0,
    icmpOutOfWindow: 0,
    icmpAborts: 0,
    icmpSoftErrors: 0,
    pmtuUpdates: 0,
  };
}
export type TcpStats = ReturnType<typeof newTcpStats>;

export interface TcpBindOptions {
  /** undefined (or the unspecified address): every local address (INADDR_ANY). */
  address?: IpAddress;
  /** 0: ephemeral (RFC 6056). */
  port: number;
  reuseAddr?: boolean;
  /** May use ports below 1024 (default true; false gives EACCES there, like a non-root process). */
  privileged?: boolean;
}

/**
 * A port held by bind(2) before listen() or connect(). It blocks conflicting binds,
 * listens and connects (the rules of bind-rules.ts `streamConflict`) until `release()`, or
 * until it is handed to `listen({ binding })` / `connect({ binding })`, which take it over.
 */
export class TcpBinding {
  readonly layer: TcpLayer;
  /** undefined: every local address. */
  readonly address: IpAddress | undefined;
  readonly port: number;
  /** (address, port), as the port table reads a claim. */
  readonly local: PortEndpoint;
  /** SO_REUSEADDR; may change while bound (it is read at each conflict check). */
  reuseAddr: boolean;
  #released = false;

  constructor(layer: TcpLayer, address: IpAddress | undefined, port: number, reuseAddr: boolean) {
    this.layer = layer;
    this.address = address;
    this.port = port;
    this.local = { address, port };
    this.reuseAddr = reuseAddr;
  }

  /** Released, or taken over by a listener or connection. */
  get released(): boolean {
    return this.#released;
  }

  /** Gives the port back (close() of a socket that never listened or connected). Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.layer.unbind(this);
  }
}

export interface TcpConnectOptions {
  remote: IpAddress;
  remotePort: number;
  /**
   * A port reserved with `bind()`: the connection uses its address (when not the wildcard)
   * and port, and takes the binding over (it is released when connect succeeds; on an
   * exception it stays bound). `local` / `localPort` / `reuseAddr` are then ignored.
   */
  binding?: TcpBinding;
  /** Source address (undefined: chosen by routing). */
  local?: IpAddress;
  /** Source port (undefined or 0: ephemeral, RFC 6056). */
  localPort?: number;
  reuseAddr?: boolean;
  /** See TcpBindOptions.privileged (checked for an explicit localPort only). */
  privileged?: boolean;
  options?: Partial<TcpSocketOptions>;
  events?: TcpConnectionEvents;
}

export interface TcpListenOptions {
  /**
   * A port reserved with `bind()`: the listener takes its address and port (and the binding
   * over, when listen succeeds). `address` / `port` are then ignored; `reuseAddr` defaults
   * to the binding's.
   */
  binding?: TcpBinding;
  /** undefined: all local addresses. */
  address?: IpAddress;
  /** 0: ephemeral. Ignored with `binding`. */
  port?: number;
  backlog: number;
  synBacklog?: number;
  reuseAddr?: boolean;
  /** See TcpBindOptions.privileged. */
  privileged?: boolean;
  /** Options inherited by accepted connections. */
  options?: Partial<TcpSocketOptions>;
}

export { ipEqual };

/** What holds a TCP port: a bind()-only socket, a listener, or a connection (TIME-WAIT included). */
export type TcpPortClaim = TcpBinding | TcpListener | TcpConnection;

const tupleKey = (localPort: number, remotePort: number): number => localPort * 65536 + remotePort;

export class TcpLayer {
  /** udpEncap's port pairs, one per peer tunnel port (no allocation per tunnelled segment). */
  readonly #udpEncaps = new Map<number, TcpUdpEncap>();
  readonly env: TcpEnv;
  readonly config: TcpConfig;
  readonly stats: TcpStats = newTcpStats();
  /** Bytes held by all connections' buffers, against config.memoryLimit (memory.ts). */
  readonly memory: TcpMemory;
  /** @internal */ readonly isn: IsnGenerator;
  /** @internal */ readonly cookies: SynCookies;
  /** @internal */ readonly ports: EphemeralPorts;
  /**
   * Every socket holding a TCP port: bindings, listeners and connections. bind, listen and
   * connect (and through them the socket layer) check and pick ports here only.
   */
  readonly portTable: PortTable<TcpPortClaim>;
  /**
   * Deviation: one random timestamp offset per layer rather than per connection (RFC 7323
   * §5.4 suggests per-connection), so stateless SYN-cookie SYN-ACKs share the clock.
   */
  /** @internal */ readonly tsOffset: number;
  readonly #conns = new Map<number, TcpConnection[]>();
  readonly #listeners = new Map<number, TcpListener[]>();
  #count = 0;
  #challengeWindow = -1;
  #challengeCount = 0;

  constructor(env: TcpEnv, config: Partial<TcpConfig> = {}) {
    this.env = env;
    this.config = resolveTcpConfig(config);
    const { memoryLimit: limit, memoryPressure: pressure } = this.config;
    this.memory = new TcpMemory({ limit, pressure, clock: env.clock, timers: env.timers });
    this.isn = new IsnGenerator(env.rng, env.clock);
    this.cookies = new SynCookies(env.rng, env.clock);
    this.ports = new EphemeralPorts(env.rng);
    this.portTable = new PortTable<TcpPortClaim>(streamConflict, this.ports);
    this.tsOffset = env.rng.nextU32();
  }

  /** Number of connections in the table (all states but LISTEN). */
  get connectionCount(): number {
    return this.#count;
  }

  *connections(): IterableIterator<TcpConnection> {
    for (const list of this.#conns.values()) yield* list;
  }

  *listeners(): IterableIterator<TcpListener> {
    for (const list of this.#listeners.values()) yield* list;
  }

  /** Ports held by bind() that neither listen nor connect yet. */
  *bindings(): IterableIterator<TcpBinding> {
    for (const c of this.portTable.claims('bound')) if (c instanceof TcpBinding) yield c;
  }

  // ------------------------------------------------------------------ bind

  /**
   * bind(2) for a stream socket: reserves (address, port) until the binding is released or
   * handed to listen()/connect(). Port 0 picks an ephemeral port (RFC 6056) that nothing
   * uses. Throws EADDRNOTAVAIL (not a local address), EACCES (port < 1024 unprivileged),
   * EINVAL (bad port), EADDRINUSE (the port table's rules, bind-rules.ts `streamConflict`).
   */
  bind(o: TcpBindOptions): TcpBinding {
    const address = isWildcard(o.address) ? undefined : o.address;
    if (address && !this.env.isLocalAddress(address))
      throw new TcpError('EADDRNOTAVAIL', 'not an address of this host');
    const reuseAddr = o.reuseAddr ?? false;
    const port = this.#claimPort({ address, role: 'bound', reuseAddr }, o.port, o.privileged);
    const b = new TcpBinding(this, address, port, reuseAddr);
    this.portTable.add(b, 'bound');
    return b;
  }

  /** @internal Called by TcpBinding.release() and when a binding is taken over. */
  unbind(b: TcpBinding): void {
    this.portTable.remove(b);
  }

  /**
   * Validates `port` for `req` (a bind, or a listen; `req.self` is a binding being taken
   * over, never a conflict with itself) or, for port 0, picks an ephemeral one.
   */
  #claimPort(req: PortRequest, port: number, privileged: boolean | undefined): number {
    if (!(Number.isInteger(port) && port >= 0 && port < 65536))
      throw new TcpError('EINVAL', `bad port ${port}`);
    if (port === 0) {
      // Like Linux's inet_csk_find_open_port: an ephemeral bind takes a port nobody uses.
      const picked = this.portTable.pick({ ...req, exclusive: true });
      if (picked === undefined) throw new TcpError('EADDRINUSE', 'no ephemeral port');
      return picked;
    }
    if (port < 1024 && privileged === false)
      throw new TcpError('EACCES', `ports below 1024 need privilege (port ${port})`);
    if (this.portTable.conflicts(req, port)) throw new TcpError('EADDRINUSE', `port ${port}`);
    return port;
  }

  /** Default socket options for new connections, from the config. */
  defaultOptions(): TcpSocketOptions {
    const c = this.config;
    return {
      noDelay: false,
      keepAlive: false,
      keepIdle: c.keepIdle,
      keepInterval: c.keepInterval,
      keepCount: c.keepCount,
      linger: undefined,
      rcvBuf: c.rcvBuf,
      sndBuf: c.sndBuf,
      maxSeg: undefined,
      congestion: c.congestion,
    };
  }

  // ------------------------------------------------------------------ open

  /** Active OPEN (RFC 9293 §3.10.1): sends a SYN; the connection starts in SYN-SENT. */
  connect(o: TcpConnectOptions): TcpConnection {
    if (!(Number.isInteger(o.remotePort) && o.remotePort > 0 && o.remotePort < 65536))
      throw new TcpError('EINVAL', `bad remote port ${o.remotePort}`);
    if (isWildcard(o.remote)) throw new TcpError('EINVAL', 'connect to the unspecified address');
    const binding = o.binding;
    if (binding && (binding.released || binding.layer !== this))
      throw new TcpError('EINVAL', 'binding released or from another layer');
    let local = binding ? binding.address : o.local;
    if (local !== undefined && !isWildcard(local)) {
      if (!this.env.isLocalAddress(local)) throw new TcpError('EADDRNOTAVAIL');
    } else {
      local = this.env.routeSource(o.remote);
      if (local === undefined) throw new TcpError('ENETUNREACH', 'no route to host');
    }
    const laddr = local;
    const reuse = binding ? binding.reuseAddr : (o.reuseAddr ?? false);
    const remote = { address: o.remote, port: o.remotePort };
    let port = binding ? binding.port : (o.localPort ?? 0);
    if (binding) {
      // The port is ours already; only the exact 4-tuple may be taken (Linux
      // __inet_check_established).
      if (this.portTable.tupleInUse(laddr, port, remote)) throw new TcpError('EADDRNOTAVAIL', 'tuple in use');
    } else if (port !== 0) {
      if (port < 1024 && o.privileged === false)
        throw new TcpError('EACCES', `ports below 1024 need privilege (port ${port})`);
      if (this.portTable.conflicts({ address: laddr, role: 'connected', reuseAddr: reuse, remote }, port))
        throw new TcpError('EADDRINUSE', `port ${port}`);
    } else {
      // Linux __inet_hash_connect: skip ports held by bind() or a listener, and those whose
      // 4-tuple to this peer is taken; EADDRNOTAVAIL when none is left.
      const picked = this.portTable.pick({ address: laddr, role: 'connected', reuseAddr: false, remote });
      if (picked === undefined) throw new TcpError('EADDRNOTAVAIL', 'no ephemeral port');
      port = picked;
    }
    const opts = { ...this.defaultOptions(), ...o.options };
    // FreeBSD TCP_REMOTE_UDP_ENCAPS_PORT: "You have to have enabled a UDP tunneling port first".
    if (opts.udpEncapsPort && !this.config.udpTunnelingPort)
      throw new TcpError('EINVAL', 'UDP encapsulation needs config.udpTunnelingPort');
    const c = new TcpConnection(
      this,
      { address: laddr, port },
      { address: o.remote, port: o.remotePort },
      opts,
    );
    c.active = true;
    c.reuseAddr = reuse;
    c.events = o.events;
    c.state = 'SYN-SENT';
    c.rcvMss = this.announcedMss(o.remote, opts);
    c.mss = c.rcvMss;
    c.rcvWscale = this.config.windowScaling ? this.wscaleFor(opts) : 0;
    c.tsOffset = this.tsOffset;
    c.lastRecv = this.env.clock.now();
    initSend(c, this.isn.isn(laddr, port, o.remote, o.remotePort));
    if (binding) binding.release();
    this.add(c);
    this.stats.activeOpens++;
    tcpOutput(c);
    return c;
  }

  /** Passive OPEN (RFC 9293 §3.10.1). Throws EADDRINUSE per the port table's rules. */
  listen(o: TcpListenOptions): TcpListener {
    const binding = o.binding;
    if (binding && (binding.released || binding.layer !== this))
      throw new TcpError('EINVAL', 'binding released or from another layer');
    const address = binding ? binding.address : isWildcard(o.address) ? undefined : o.address;
    if (address && !this.env.isLocalAddress(address))
      throw new TcpError('EADDRNOTAVAIL', 'not an address of this host');
    const reuse = o.reuseAddr ?? binding?.reuseAddr ?? false;
    // Linux re-checks the port at listen() (inet_csk_listen_start -> get_port): sharing
    // through SO_REUSEADDR ends when one of the sockets listens.
    const port = this.#claimPort(
      { address, role: 'listening', reuseAddr: reuse, self: binding },
      binding ? binding.port : (o.port ?? 0),
      binding ? true : o.privileged,
    );
    if (binding) binding.release();
    const opts = { ...this.defaultOptions(), ...o.options };
    const l = new TcpListener(
      this,
      { address, port },
      o.backlog,
      o.synBacklog ?? this.config.synBacklog,
      opts,
      reuse,
    );
    let list = this.#listeners.get(port);
    if (!list) this.#listeners.set(port, (list = []));
    list.push(l);
    this.portTable.add(l, 'listening');
    return l;
  }

  /**
   * The window shift we offer: enough for the largest buffer the connection may have
   * (like Linux's tcp_select_initial_window: max(SO_RCVBUF, tcp_rmem[2], rmem_max)).
   */
  wscaleFor(opts: TcpSocketOptions): number {
    return wantedWscale(Math.max(opts.rcvBuf, this.config.maxRcvBuf));
  }

  /** The MSS we announce towards `dst` (route MSS capped by TCP_MAXSEG). */
  announcedMss(dst: IpAddress, opts: TcpSocketOptions): number {
    const m = this.routeMss(dst, opts);
    return opts.maxSeg !== undefined ? Math.min(m, opts.maxSeg) : m;
  }

  /** @internal Timestamp clock for segments without a connection (cookie SYN-ACKs). */
  tsClock(): number {
    return (Math.floor(this.env.clock.now() / 1000) + this.tsOffset) >>> 0;
  }

  // ------------------------------------------------------------------ input

  /**
   * A TCP segment for this host, checksum already verified by IP. `tunnelPort`: the UDP
   * source port it came tunnelled from (config.udpTunnelingPort), 0 for plain TCP.
   */
  receive(src: IpAddress, dst: IpAddress, r: TcpRepr, payload: Uint8Array, tunnelPort = 0): void {
    const stats = this.stats;
    stats.segmentsIn++;
    if (r.srcPort === 0 || r.dstPort === 0) {
      stats.badSegment++;
      return;
    }
    const flags = r.flags;
    let c = this.#find(dst, r.dstPort, src, r.srcPort);
    if (c && c.state === 'TIME-WAIT' && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      // RFC 9293 §3.10.7.4 note / RFC 6191 §2: a new SYN may reuse a TIME-WAIT tuple when its
      // timestamp (or, failing that, its sequence number) is beyond the old incarnation's.
      const ts = r.options.timestamps;
      const newTs = ts !== undefined && this.config.timestamps;
      const seqNewer = seqGt(seq(r.seq), c.rcv.nxt);
      let newer: boolean;
      if (c.tsOk && newTs) {
        // "greater than the last timestamp seen", or equal to it with a greater sequence number.
        const d = (ts.tsVal - c.tsRecent) | 0;
        newer = d > 0 || (d === 0 && seqNewer);
      } else if (c.tsOk) newer = seqNewer;
      // "If the previous incarnation ... did not use Timestamps ... If TCP Timestamps would be
      // enabled for the new incarnation ..., honor the incoming connection request."
      else newer = newTs || seqNewer;
      // Deviation: a SYN that may not reuse the tuple is not "silently dropped" (RFC 6191) but
      // processed by TIME-WAIT, which acknowledges it (RFC 5961 §4.2), as Linux does.
      if (newer && this.#findListener(dst, r.dstPort)) {
        stats.timeWaitRecycled++;
        c.terminate(undefined);
        c.flush();
        c = undefined;
      }
    }
    if (c && (c.opts.udpEncapsPort ?? 0) !== tunnelPort) {
      // FreeBSD tcp_input / tcp_twcheck: a segment for a connection that came by another way
      // (tunnelled from another UDP port, or tunnelled vs plain) does not belong to it; it is
      // answered as in CLOSED, back the way it came.
      stats.tunnelPortMismatch++;
      const segLen = payload.length + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
      replyRst(this, dst, src, r, segLen, tunnelPort, c.opts);
      return;
    }
    if (c) {
      const parent = c.parent;
      segmentArrives(c, r, payload);
      c.flush();
      parent?.flush();
      return;
    }
    const l = this.#findListener(dst, r.dstPort);
    if (l) {
      l.input(src, dst, r, payload, tunnelPort);
      l.flush();
      return;
    }
    // §3.10.7.1 CLOSED: "An incoming segment not containing a RST causes a RST to be sent in response."
    stats.noListener++;
    const segLen = payload.length + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
    replyRst(this, dst, src, r, segLen, tunnelPort);
  }

  /** @internal The UDP ports for a segment to a peer's tunnel port (undefined: plain TCP). */
  udpEncap(peerPort: number | undefined): TcpUdpEncap | undefined {
    if (!peerPort) return undefined;
    const srcPort = this.config.udpTunnelingPort;
    let e = this.#udpEncaps.get(peerPort);
    if (e?.srcPort !== srcPort) {
      e = Object.freeze({ srcPort, dstPort: peerPort });
      this.#udpEncaps.set(peerPort, e);
    }
    return e;
  }

  /** @internal Largest payload towards `dst` for a connection with these options (route MSS, less the tunnel's overhead). */
  routeMss(dst: IpAddress, opts: TcpSocketOptions): number {
    const m = this.env.mssFor(dst);
    return opts.udpEncapsPort ? m - this.config.udpTunnelingOverhead : m;
  }

  /**
   * An ICMP error quoting one of our segments: `src`/`dst` are the quoted datagram's source
   * (this host) and destination (the peer).
   */
  icmpError(
    kind: TcpIcmpKind,
    src: IpAddress,
    dst: IpAddress,
    quoted: { srcPort: number; dstPort: number; seq: number },
    nextHopMtu?: number,
  ): void {
    const stats = this.stats;
    const c = this.#find(src, quoted.srcPort, dst, quoted.dstPort);
    if (!c) {
      stats.icmpNoConnection++;
      return;
    }
    // RFC 5927 §4.1: only believe errors quoting a sequence number we have in flight.
    const s = seq(quoted.seq);
    if (!(seqLe(c.snd.una, s) && seqLt(s, seqAdd(c.sndMax, c.sndMax === c.snd.una ? 1 : 0)))) {
      stats.icmpOutOfWindow++;
      return;
    }
    if (kind === 'frag-needed') {
      // RFC 1191 §6.5: lower the MSS to fit the next-hop MTU and retransmit at once.
      if (nextHopMtu === undefined) return;
      const hdr = c.remote.address.family === 4 ? 40 : 60;
      const mss = Math.max(this.config.minMss, nextHopMtu - hdr);
      if (mss < c.mss) {
        c.mss = mss;
        stats.pmtuUpdates++;
        if (c.sndMax !== c.snd.una && c.state !== 'SYN-SENT' && c.state !== 'SYN-RECEIVED') {
          c.snd.nxt = c.snd.una;
          const used = sendDataAt(c, c.snd.una, c.mss, true);
          c.snd.nxt = seqAdd(c.snd.una, used);
          tcpOutput(c);
        }
      }
      c.flush();
      return;
    }
    // Protocol unreachable refuses like port unreachable: FreeBSD (icmp_may_rst, PRC_UNREACH_PROTOCOL
    // -> ECONNREFUSED) and Linux (icmp_err_convert: ENOPROTOOPT, reported as ECONNREFUSED
    // by tcp_v4_err's "connection refused" class) agree.
    const reason: TcpCloseReason =
      kind === 'port-unreachable' || kind === 'proto-unreachable'
        ? 'refused'
        : kind === 'net-unreachable'
          ? 'net-unreachable'
          : kind === 'host-unreachable' || kind === 'time-exceeded'
            ? 'host-unreachable'
            : 'unreachable';
    const handshake = c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED';
    const hard = kind === 'port-unreachable' || kind === 'proto-unreachable';
    if (handshake && (!this.config.icmpMayReset || (this.config.icmpSoftUnreachable && !hard))) {
      // FreeBSD: with icmp_may_rst=0, or for an error other than port/protocol unreachable,
      // the handshake error is only noted (t_softerror) and the SYN retransmissions go on.
      // RFC 1122 §4.2.3.9: net/host unreachable (codes 0, 1, 5) "indicate soft error
      // conditions, TCP MUST NOT abort the connection". Deviation: FreeBSD also aborts on TTL
      // exceeded in transit (not on reassembly timeout); the code does not reach this layer,
      // so time exceeded is soft here.
      stats.icmpSoftErrors++;
    } else if (c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED') {
      // Like Linux (tcp_v4_err): an ICMP error while the handshake is in progress ends it
      // (ECONNREFUSED for port unreachable, EHOSTUNREACH/ENETUNREACH otherwise).
      stats.icmpAborts++;
      c.terminate(reason);
    } else {
      // RFC 5461 §4 (and RFC 1122 §4.2.3.9 for soft errors): once synchronized, keep the
      // connection and report the error through SO_ERROR.
      stats.icmpSoftErrors++;
      c.error = reasonCode(reason);
    }
    c.flush();
  }

  // ------------------------------------------------------------------ table

  #find(
    local: IpAddress,
    localPort: number,
    remote: IpAddress,
    remotePort: number,
  ): TcpConnection | undefined {
    const list = this.#conns.get(tupleKey(localPort, remotePort));
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (ipEqual(c.remote.address, remote) && ipEqual(c.local.address, local)) return c;
    }
    return undefined;
  }

  #findListener(local: IpAddress, port: number): TcpListener | undefined {
    const ls = this.#listeners.get(port);
    if (!ls) return undefined;
    let wild: TcpListener | undefined;
    for (const l of ls) {
      if (l.local.address === undefined) wild = l;
      else if (ipEqual(l.local.address, local)) return l;
    }
    return wild;
  }

  /** @internal */
  add(c: TcpConnection): void {
    const k = tupleKey(c.local.port, c.remote.port);
    let list = this.#conns.get(k);
    if (!list) this.#conns.set(k, (list = []));
    list.push(c);
    this.#count++;
    this.portTable.add(c, 'connected');
  }

  /** @internal */
  remove(c: TcpConnection): void {
    this.portTable.remove(c);
    const k = tupleKey(c.local.port, c.remote.port);
    const list = this.#conns.get(k);
    if (list) {
      const i = list.indexOf(c);
      if (i >= 0) {
        list.splice(i, 1);
        this.#count--;
        if (list.length === 0) this.#conns.delete(k);
      }
    }
    if (c.parent) {
      c.parent.forget(c);
      c.parent = undefined;
    }
  }

  /** @internal */
  removeListener(l: TcpListener): void {
    this.portTable.remove(l);
    const list = this.#listeners.get(l.local.port);
    if (!list) return;
    const i = list.indexOf(l);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(l.local.port);
  }

  /** @internal RFC 5961 §7: at most config.challengeAckLimit challenge ACKs per second. */
  allowChallengeAck(): boolean {
    const sec = Math.floor(this.env.clock.now() / 1_000_000);
    if (sec !== this.#challengeWindow) {
      this.#challengeWindow = sec;
      this.#challengeCount = 0;
    }
    if (this.#challengeCount >= this.config.challengeAckLimit) {
      this.stats.challengeAcksSuppressed++;
      return false;
    }
    this.#challengeCount++;
    return true;
  }

  /** @internal */
  infoFor(c: TcpConnection): TcpInfo {
    const sb = c.hasScoreboard ? c.scoreboard : undefined;
    const info: TcpInfo = {
      state: c.state,
      rto: c.rtt.rto,
      cwnd: c.cc.cwnd,
      ssthresh: c.cc.ssthresh,
      mss: c.mss,
      rcvMss: c.rcvMss,
      retransmits: c.rtxCount,
      totalRetrans: c.stats.retransmits,
      lost: 0,
      sacked: sb ? sb.sackedBytes : 0,
      unacked: seqSub(c.sndMax, c.snd.una),
      sndWnd: c.snd.wnd,
      rcvWnd: c.rcv.wnd,
      options: { timestamps: c.tsOk, sack: c.sackOk },
      backoff: c.rtt.backoffCount,
      probes: c.persistCount + c.keepaliveProbes,
      bytesAcked: c.stats.bytesAcked,
      bytesReceived: c.stats.bytesReceived,
      segsOut: c.stats.segsOut,
      segsIn: c.stats.segsIn,
      lastDataSent: c.lastSend,
      lastDataRecv: c.lastRecv,
      congestion: c.cc.name,
    };
    const srtt = c.rtt.srtt;
    if (srtt !== undefined) info.rtt = srtt;
    const rttvar = c.rtt.rttvar;
    if (rttvar !== undefined) info.rttvar = rttvar;
    if (c.wsOk) info.options.windowScale = { snd: c.sndWscale, rcv: c.rcvWscale };
    return info;
  }
}
