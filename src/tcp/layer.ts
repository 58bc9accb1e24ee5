/**
 * The TCP layer of one host: demultiplexing (4-tuple, then listener, else RST),
 * bind/connect/listen over the transport's port table (src/transport/port-table.ts),
 * ICMP errors, counters.
 * It knows nothing about IP headers: IP reaches it through `receive` / `icmpError`,
 * and it reaches IP through `TcpEnv`. Its tables (conn-table.ts, listener-table.ts),
 * ICMP handling (icmp.ts), TCP_INFO (info-snapshot.ts) and counters (stats.ts) live apart.
 */

import type { Timer } from '../time/timers.ts';
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
import { superSegmentGsoSize } from '../wire/gso.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpRepr } from '../wire/tcp.ts';
import { ccCreate } from './cc.ts';
import { ChallengeAckLimiter } from './challenge.ts';
import { resolveTcpConfig, type TcpConfig, type TcpSocketOptions } from './config.ts';
import { ConnTable } from './conn-table.ts';
import { TcpConnection, type TcpConnectionEvents } from './connection.ts';
import type { TcpEnv, TcpUdpEncap } from './env.ts';
import { TcpError } from './errors.ts';
import { FastOpen, TFO_CLIENT_ENABLE } from './fastopen.ts';
import type { EventSource, OutputSource, TcpListenerHost } from './host.ts';
import { connectionIcmpError, type TcpIcmpKind } from './icmp.ts';
import { outputAfterInput, segmentArrives } from './input.ts';
import { IsnGenerator } from './isn.ts';
import { synMayReuseTimeWait, terminate } from './lifecycle.ts';
import { initSend, TcpListener } from './listen.ts';
import { findListener, removeListener } from './listener-table.ts';
import { TcpMemory } from './memory.ts';
import { wantedWscale } from './options.ts';
import { replyRst, tcpOutput } from './output.ts';
import { seq } from './seq.ts';
import { SharedOptions } from './shared-options.ts';
import { newTcpStats, type TcpStats } from './stats.ts';
import { SynCookies } from './syncookie.ts';
import { tfoConnect } from './tfo.ts';

export type { TcpEnv, TcpIpFields, TcpUdpEncap } from './env.ts';
export type { TcpIcmpKind } from './icmp.ts';
export { newTcpStats, type TcpStats } from './stats.ts';

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
  /**
   * RFC 7413 Fast Open (needs TFO_CLIENT_ENABLE in config.fastOpen, else EOPNOTSUPP): `data`
   * (MSG_FASTOPEN) rides on the SYN as far as a cached cookie allows (the connection's
   * tfoSynData says how much); `defer` (TCP_FASTOPEN_CONNECT) holds the SYN for the first
   * write when a cookie is cached. Without a cookie the SYN asks for one.
   */
  fastOpen?: { data?: Uint8Array; defer?: boolean };
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
  /** A wildcard listener for one family only (undefined: both, as an AF_INET6 socket without IPV6_V6ONLY). */
  family?: 4 | 6;
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

export class TcpLayer implements TcpListenerHost {
  /** udpEncap's port pairs, one per peer tunnel port (no allocation per tunnelled segment). */
  readonly #udpEncaps = new Map<number, TcpUdpEncap>();
  readonly env: TcpEnv;
  readonly config: TcpConfig;
  readonly stats: TcpStats = newTcpStats();
  /** @internal */ readonly sharedOptions = new SharedOptions();
  /** Bytes held by all connections' buffers, against config.memoryLimit (memory.ts). */
  readonly memory: TcpMemory;
  /** @internal */ readonly isn: IsnGenerator;
  /** @internal */ readonly cookies: SynCookies;
  /** @internal */ readonly ports: EphemeralPorts;
  /** RFC 7413 Fast Open: the server's cookie key and the client's cookie cache (fastopen.ts). */
  readonly fastOpen: FastOpen;
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
  readonly #table = new ConnTable<TcpConnection>();
  readonly #listeners = new Map<number, TcpListener[]>();
  /** The catch-all listener (listenAny), asked after every listener. */
  #catchAll: TcpListener | undefined = undefined;
  readonly #challengeAcks: ChallengeAckLimiter;
  /** Connections and listeners with events to deliver; undefined: events go out at once. */
  #eventQueue: (EventSource | undefined)[] | undefined = undefined;
  /** Entries of #eventQueue in use (the array is reused, never shrunk: no `length = 0` per poll). */
  #eventCount = 0;
  /** A Stack's poll is running: it calls deliverEvents at its end (driveByPolls). */
  polling = false;
  /** deliverEvents is running: what the callbacks queue is delivered in the same call. */
  #delivering = false;
  /** Connections whose input left something to send; undefined: sent at once. */
  #outputQueue: (TcpConnection | undefined)[] | undefined = undefined;
  /** Entries of #outputQueue in use. */
  #outputCount = 0;
  /** Delivers queued events raised outside a poll (an application call, say) at the next one. */
  #eventTimer: Timer | undefined = undefined;

  constructor(env: TcpEnv, config: Partial<TcpConfig> = {}) {
    this.env = env;
    this.config = resolveTcpConfig(config);
    const { memoryLimit: limit, memoryPressure: pressure } = this.config;
    this.memory = new TcpMemory({ limit, pressure, clock: env.clock, timers: env.timers });
    this.isn = new IsnGenerator(env.rng, env.clock);
    this.#challengeAcks = new ChallengeAckLimiter(env.rng);
    this.cookies = new SynCookies(env.rng, env.clock);
    this.ports = new EphemeralPorts(env.rng);
    this.portTable = new PortTable<TcpPortClaim>(streamConflict, this.ports);
    this.tsOffset = env.rng.nextU32();
    this.fastOpen = new FastOpen(env.rng, this.config.fastOpenKey);
  }

  // ------------------------------------------------------------------ poll-driven output and events

  /**
   * A Stack drives this layer by polls: after each receive batch, what the batch's segments
   * let a connection send goes out in one output pass per connection (runOutputPass), and
   * socket events (readable, writable, established, closed, acceptable) are delivered once,
   * after the poll's input and timers (deliverEvents), so the socket layer never runs in the
   * middle of a batch and sees each connection once. A layer driven on its own (no Stack)
   * sends and delivers after each segment or timer.
   */
  driveByPolls(): void {
    if (this.#eventQueue) return;
    this.#eventQueue = [];
    this.#outputQueue = [];
    this.#eventTimer = this.env.timers.timer(() => this.deliverEvents());
  }

  /** @internal (TcpHost) */
  deferOutput(c: OutputSource): boolean {
    const q = this.#outputQueue;
    if (!q) return false;
    if (!c.outputQueued) {
      c.outputQueued = true;
      q[this.#outputCount++] = c as TcpConnection;
    }
    return true;
  }

  /** Sends what the last receive batch left to send, one pass per connection. */
  runOutputPass(): void {
    const q = this.#outputQueue;
    const n = this.#outputCount;
    if (!q || n === 0) return;
    const now = this.env.clock.now();
    // (Output only queues frames and events: nothing joins this queue while it runs.)
    for (let i = 0; i < n; i++) {
      const c = q[i]!;
      q[i] = undefined;
      c.outputQueued = false;
      if (c.state === 'CLOSED') continue;
      this.stats.outputPasses++;
      outputAfterInput(c, now);
      c.flush();
    }
    this.#outputCount = 0;
  }

  /** @internal (TcpHost) */
  deferEvents(x: EventSource): boolean {
    const q = this.#eventQueue;
    if (!q) return false;
    if (!x.eventsQueued) {
      x.eventsQueued = true;
      q[this.#eventCount++] = x;
      // An event raised outside a poll (an application call) still goes out: the timer is
      // due at once. Inside a poll, the poll delivers (no timer work per event).
      if (!this.polling && !this.#delivering && !this.#eventTimer!.armed)
        this.#eventTimer!.set(this.env.clock.now());
    }
    return true;
  }

  /** Delivers every queued socket event (what the callbacks queue meanwhile, too). */
  deliverEvents(): void {
    const q = this.#eventQueue;
    if (!q) return;
    if (this.#eventCount === 0) return;
    // Callbacks may queue more (they join the end and are delivered in this call). Bounded: a
    // callback that keeps raising events cannot spin here for ever; what is left waits for
    // the timer, due at once.
    const limit = 64 * Math.max(this.#eventCount, 16);
    let i = 0;
    this.#delivering = true;
    try {
      for (; i < this.#eventCount && i < limit; i++) {
        const x = q[i]!;
        q[i] = undefined;
        x.eventsQueued = false;
        x.deliverEvents();
      }
    } finally {
      this.#delivering = false;
      const timer = this.#eventTimer!;
      if (i === this.#eventCount) {
        this.#eventCount = 0;
        if (timer.armed) timer.cancel();
      } else {
        // The bound was reached (or a callback threw, after entry i was taken): the rest
        // moves to the front and waits for the timer.
        const from = q[i] === undefined ? i + 1 : i;
        q.copyWithin(0, from, this.#eventCount);
        this.#eventCount -= from;
        q.fill(undefined, this.#eventCount);
        if (!timer.armed) timer.set(this.env.clock.now());
      }
    }
  }

  /** Number of connections in the table (all states but LISTEN). */
  get connectionCount(): number {
    return this.#table.size;
  }

  *connections(): IterableIterator<TcpConnection> {
    yield* this.#table.all();
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
      // Present (undefined) so a listener's `{ ...opts, udpEncapsPort }` for each SYN copies
      // the shape: adding a field the copied object lacks took about a microsecond.
      udpEncapsPort: undefined,
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
    const opts = this.sharedOptions.intern({ ...this.defaultOptions(), ...o.options });
    if (o.fastOpen && !(this.config.fastOpen & TFO_CLIENT_ENABLE))
      throw new TcpError('EOPNOTSUPP', 'Fast Open client is off (config.fastOpen lacks TFO_CLIENT_ENABLE)');
    // FreeBSD TCP_REMOTE_UDP_ENCAPS_PORT: "You have to have enabled a UDP tunneling port first".
    if (opts.udpEncapsPort && !this.config.udpTunnelingPort)
      throw new TcpError('EINVAL', 'UDP encapsulation needs config.udpTunnelingPort');
    // Ports as int32 (`| 0`): an endpoint's port field then stays a small integer in V8, where
    // one port computed in floating point (Math.floor) would box every endpoint's port.
    const c = new TcpConnection(
      this,
      { address: laddr, port: port | 0 },
      { address: o.remote, port: o.remotePort | 0 },
      opts,
    );
    // Made now, as Linux assigns the congestion ops at socket creation; until the SYN-ACK
    // gives the MSS (applySynOptions), TCP_INFO shows the window for the default 536.
    c.cc = ccCreate(c);
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
    if (o.fastOpen) tfoConnect(c, o.fastOpen.data, o.fastOpen.defer === true);
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
      address === undefined && o.family !== undefined
        ? { address, port, family: o.family }
        : { address, port },
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
   * A catch-all listener: SYNs to any address and port that no connection or listener takes
   * come here (a user-mode gateway terminating a guest's connections; with a transparent
   * interface, NetInterface.transparent). It holds no port; one per layer (EADDRINUSE for a
   * second). Set its `onSyn` to decide each SYN before it is answered.
   */
  listenAny(o: { backlog: number; synBacklog?: number; options?: Partial<TcpSocketOptions> }): TcpListener {
    if (this.#catchAll && !this.#catchAll.closed)
      throw new TcpError('EADDRINUSE', 'a catch-all listener exists');
    const opts = { ...this.defaultOptions(), ...o.options };
    const l = new TcpListener(
      this,
      { address: undefined, port: 0 },
      o.backlog,
      o.synBacklog ?? this.config.synBacklog,
      opts,
      false,
    );
    this.#catchAll = l;
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
   * source port it came tunnelled from (config.udpTunnelingPort), 0 for plain TCP; `ecn`: the
   * IP header's ECN field (RFC 3168 §5).
   */
  /** `gso`: the segment's gso size when the caller has looked it up (0: one segment). */
  receive(
    src: IpAddress,
    dst: IpAddress,
    r: TcpRepr,
    payload: Uint8Array,
    tunnelPort = 0,
    ecn = 0,
    gso = payload.length > 1 ? superSegmentGsoSize(payload) : 0,
  ): void {
    const stats = this.stats;
    // A super-segment received whole counts as its segments (Linux InSegs counts gso_segs).
    if (gso > 0) stats.segmentsIn += Math.ceil(payload.length / gso);
    else stats.segmentsIn++;
    if (r.srcPort === 0 || r.dstPort === 0) {
      stats.badSegment++;
      return;
    }
    const flags = r.flags;
    let c = this.#find(dst, r.dstPort, src, r.srcPort);
    if (
      c &&
      c.state === 'TIME-WAIT' &&
      (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN &&
      synMayReuseTimeWait(c, r, this.config.timestamps) &&
      this.#findListener(dst, r.dstPort)
    ) {
      // Deviation: a SYN that may not reuse the tuple is not "silently dropped" (RFC 6191) but
      // processed by TIME-WAIT, which acknowledges it (RFC 5961 §4.2), as Linux does.
      stats.timeWaitRecycled++;
      terminate(c, undefined);
      c.flush();
      c = undefined;
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
      segmentArrives(c, r, payload, ecn, gso);
      c.flush();
      parent?.flush();
      return;
    }
    const l = this.#findListener(dst, r.dstPort);
    if (l) {
      l.input(src, dst, r, payload, tunnelPort, ecn);
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
    connectionIcmpError(c, kind, seq(quoted.seq), nextHopMtu);
  }

  // ------------------------------------------------------------------ table

  #find(
    local: IpAddress,
    localPort: number,
    remote: IpAddress,
    remotePort: number,
  ): TcpConnection | undefined {
    return this.#table.find(local, localPort, remote, remotePort);
  }

  #findListener(local: IpAddress, port: number): TcpListener | undefined {
    return findListener(this.#listeners, local, port) ?? this.#catchAll;
  }

  /** @internal */
  add(c: TcpConnection): void {
    this.#table.add(c);
    this.portTable.add(c, 'connected');
  }

  /** @internal */
  remove(c: TcpConnection): void {
    this.portTable.remove(c);
    this.#table.remove(c);
  }

  /** @internal */
  removeListener(l: TcpListener): void {
    if (l === this.#catchAll) {
      this.#catchAll = undefined;
      return;
    }
    this.portTable.remove(l);
    removeListener(this.#listeners, l);
  }

  /**
   * @internal RFC 5961 §7: the host-wide challenge-ACK limit, about config.challengeAckLimit
   * per second, randomised per second (challenge.ts).
   */
  allowChallengeAck(): boolean {
    if (this.#challengeAcks.allow(this.env.clock, this.config.challengeAckLimit)) return true;
    this.stats.challengeAcksSuppressed++;
    return false;
  }
}
