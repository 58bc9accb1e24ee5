/**
 * A listening endpoint: RFC 9293 §3.10.7.2 (LISTEN), a SYN queue of embryonic
 * (SYN-RECEIVED) connections and an accept queue of established ones, with SYN
 * cookies when the SYN queue is full.
 */
import type { IpAddress } from '../wire/address.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOptions, type TcpRepr } from '../wire/tcp.ts';
import { sizeBuffersOnEstablished } from './buffers.ts';
import { ccCreate } from './cc.ts';
import type { TcpSocketOptions } from './config.ts';
import { TcpConnection } from './connection.ts';
import { ecnAcceptSyn } from './ecn.ts';
import type { TcpListenerHost } from './host.ts';
import { segmentArrives } from './input.ts';
import { armKeepalive, terminate } from './lifecycle.ts';
import { applySynOptions } from './options.ts';
import { replyRst, tcpOutput } from './output.ts';
import { type Seq, seq, seqAdd } from './seq.ts';
import type { Tcb, TcpParent } from './tcb.ts';
import { tfoMaxQlen, tfoServerChoice } from './tfo.ts';

export interface TcpListenerEndpoint {
  /** undefined: every local address (INADDR_ANY). */
  readonly address: IpAddress | undefined;
  readonly port: number;
  /** With the wildcard: only this family's segments (an AF_INET socket, or AF_INET6 with IPV6_V6ONLY). */
  readonly family?: 4 | 6;
}

export class TcpListener implements TcpParent {
  readonly layer: TcpListenerHost;
  readonly local: TcpListenerEndpoint;
  /** listen(2) backlog: the accept queue holds backlog + 1 connections, as on Linux. */
  backlog: number;
  /** SYN-queue bound; beyond it SYN cookies answer (config.synCookies). */
  synBacklog: number;
  readonly opts: TcpSocketOptions;
  reuseAddr: boolean;
  /** Called (after the segment that caused it is processed) when accept() has something. */
  onAcceptable: (() => void) | undefined = undefined;
  /**
   * Asked about each new SYN before it opens a connection: false holds it (nothing is sent),
   * and the owner later answers it with `acceptSyn` or `refuseSyn`. A gateway's catch-all
   * listener (TcpLayer.listenAny) answers a guest's SYN only once the host side connected.
   * No SYN cookies while set: a held SYN needs its state.
   */
  onSyn: ((src: IpAddress, dst: IpAddress, r: TcpRepr) => boolean) | undefined = undefined;
  #synHeld = false;
  closed = false;
  readonly #synQueue = new Set<TcpConnection>();
  #acceptQueue: TcpConnection[] = [];
  #notify = false;

  constructor(
    layer: TcpListenerHost,
    local: TcpListenerEndpoint,
    backlog: number,
    synBacklog: number,
    opts: TcpSocketOptions,
    reuseAddr: boolean,
  ) {
    this.layer = layer;
    this.local = local;
    this.backlog = Math.max(0, backlog);
    this.synBacklog = Math.max(1, synBacklog);
    this.opts = opts;
    this.reuseAddr = reuseAddr;
  }

  get state(): 'LISTEN' | 'CLOSED' {
    return this.closed ? 'CLOSED' : 'LISTEN';
  }
  /** Connections waiting in accept(). */
  get acceptQueueLength(): number {
    return this.#acceptQueue.length;
  }
  /** Embryonic connections (SYN-RECEIVED). */
  get synQueueLength(): number {
    return this.#synQueue.size;
  }

  /** Takes the oldest established connection, if any. */
  accept(): TcpConnection | undefined {
    const c = this.#acceptQueue.shift();
    if (c) c.parent = undefined;
    return c;
  }

  /** Stops listening: embryos are dropped, un-accepted connections reset (like Linux). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.#synQueue]) {
      c.parent = undefined;
      terminate(c, undefined);
    }
    this.#synQueue.clear();
    for (const c of this.#acceptQueue) {
      c.parent = undefined;
      c.abort();
    }
    this.#acceptQueue = [];
    this.layer.removeListener(this);
  }

  /** Opens the connection for a SYN that `onSyn` held (a SYN-ACK goes out now). */
  acceptSyn(src: IpAddress, dst: IpAddress, r: TcpRepr): void {
    if (this.closed) return;
    this.#synHeld = true;
    try {
      this.input(src, dst, r, new Uint8Array(0));
    } finally {
      this.#synHeld = false;
    }
    this.flush();
  }

  /**
   * Refuses a SYN that `onSyn` held with a RST, as a port without a listener does
   * (RFC 9293 §3.10.7.1: "the RST acknowledges the segment").
   */
  refuseSyn(src: IpAddress, dst: IpAddress, r: TcpRepr): void {
    this.layer.stats.noListener++;
    replyRst(this.layer, dst, src, r, 1, 0, this.opts);
  }

  /** @internal */
  hasAcceptRoom(): boolean {
    // Linux sk_acceptq_is_full() is `queued > backlog`: listen(N) holds N + 1 connections
    // (listen(0) holds one). Python on Linux: listen(1) lets two clients complete.
    return this.#acceptQueue.length <= this.backlog;
  }

  /** @internal An embryo completed the handshake. */
  established(c: TcpConnection): void {
    this.#synQueue.delete(c);
    this.#acceptQueue.push(c);
    this.#notify = true;
  }

  /** @internal The connection ended before accept(). */
  forget(c: TcpConnection): void {
    this.#synQueue.delete(c);
    const i = this.#acceptQueue.indexOf(c);
    if (i >= 0) this.#acceptQueue.splice(i, 1);
  }

  /** @internal Queued for the layer's next event delivery. */
  eventsQueued = false;

  /** @internal Tells the socket layer about new connections to accept (see Tcb.flush). */
  flush(): void {
    if (!this.#notify || this.layer.deferEvents(this)) return;
    this.deliverEvents();
  }

  /** @internal */
  deliverEvents(): void {
    if (!this.#notify) return;
    this.#notify = false;
    this.onAcceptable?.();
  }

  /** @internal §3.10.7.2: a segment for LISTEN (no connection matched). */
  /**
   * A segment for this listener; `tunnelPort`: the UDP port it came tunnelled from (0: plain
   * TCP); `ecn`: its IP ECN field.
   */
  input(src: IpAddress, dst: IpAddress, r: TcpRepr, payload: Uint8Array, tunnelPort = 0, ecn = 0): void {
    const layer = this.layer;
    const stats = layer.stats;
    const flags = r.flags;
    // "First, check for a RST: An incoming RST segment could not be valid since it could not
    // have been sent in response to anything sent by this incarnation of the connection. An
    // incoming RST should be ignored."
    if (flags & TCP_RST) return;
    if (flags & TCP_ACK) {
      if (
        !(flags & TCP_SYN) &&
        layer.config.synCookies !== 'never' &&
        this.onSyn === undefined &&
        this.#cookieAck(src, dst, r, payload, tunnelPort, ecn)
      )
        return;
      // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state. An
      // acceptable reset segment should be formed for any arriving ACK-bearing segment."
      stats.badAck++;
      replyRst(
        layer,
        dst,
        src,
        r,
        payload.length + (flags & TCP_FIN ? 1 : 0) + (flags & TCP_SYN ? 1 : 0),
        tunnelPort,
        this.opts,
      );
      return;
    }
    if (!(flags & TCP_SYN)) return; // "Any other control or text-bearing segment ... drop it"
    if (flags & TCP_FIN && layer.config.dropSynFin) {
      // Like Linux (tcp_rcv_state_process, LISTEN: a SYN with FIN is discarded) and FreeBSD
      // with net.inet.tcp.drop_synfin: no legitimate opener sets both, so no reply at all.
      stats.synFinDrops++;
      return;
    }
    if (this.onSyn !== undefined && !this.#synHeld) {
      if (!this.onSyn(src, dst, r)) return;
    }
    if (!this.hasAcceptRoom()) {
      // Like Linux: a full accept queue drops new SYNs outright.
      stats.backlogDrops++;
      return;
    }
    const cfg = layer.config;
    const synFull = this.#synQueue.size >= this.synBacklog;
    // RFC 7413: Fast Open's choice comes first (Linux tcp_conn_request asks tcp_try_fastopen
    // only when it keeps state, so never for a SYN answered with a SYN cookie).
    if (this.onSyn === undefined && (cfg.synCookies === 'always' || (synFull && cfg.synCookies === 'auto'))) {
      this.#sendCookie(src, dst, r, tunnelPort);
      return;
    }
    if (synFull) {
      stats.synQueueDrops++;
      return;
    }
    const c = new TcpConnection(
      layer,
      { address: dst, port: r.dstPort },
      { address: src, port: r.srcPort },
      // A SYN that came tunnelled makes a tunnelled connection (FreeBSD syncache_add's port).
      layer.sharedOptions.intern({ ...this.opts, udpEncapsPort: tunnelPort || undefined }),
    );
    c.parent = this;
    c.reuseAddr = this.reuseAddr;
    c.state = 'SYN-RECEIVED';
    c.irs = seq(r.seq);
    c.rcv.nxt = seqAdd(c.irs, 1);
    c.lastAckSent = c.rcv.nxt;
    // One route lookup for the MSS we announce (capped by TCP_MAXSEG) and the one we send.
    const routeMss = layer.routeMss(src, c.opts);
    c.rcvMss = c.opts.maxSeg !== undefined ? Math.min(routeMss, c.opts.maxSeg) : routeMss;
    c.tsOffset = layer.tsOffset;
    // RFC 7323 §2.2/§2.3: our shift for the SYN-ACK (applySynOptions zeroes it when the SYN
    // offered no window scale).
    c.rcvWscale = layer.wscaleFor(c.opts);
    applySynOptions(c, r.options, true, routeMss);
    ecnAcceptSyn(c, flags, ecn);
    const iss = layer.isn.isn(dst, r.dstPort, src, r.srcPort);
    initSend(c, iss);
    c.snd.wnd = r.window; // RFC 7323 §2.2: not scaled on a SYN
    c.maxSndWnd = c.snd.wnd;
    c.snd.wl1 = c.irs;
    c.snd.wl2 = iss;
    c.lastRecv = layer.env.clock.now();
    layer.add(c);
    stats.passiveOpens++;
    const tfo = tfoServerChoice(
      layer,
      this.opts,
      tfoMaxQlen(layer, this.opts, this.backlog),
      this.#tfoPendingCount(),
      src,
      dst,
      r,
      payload.length,
    );
    if (tfo.child) {
      // RFC 7413 §4.2.2: the SYN's data goes to the application at once, and the connection
      // into the accept queue while its SYN-ACK (which acknowledges the data) is answered.
      c.tfoChild = true;
      this.#tfoPending.add(c);
      if (payload.length > 0) {
        c.rcvBuf.push(payload);
        c.rcv.nxt = seqAdd(c.rcv.nxt, payload.length);
        c.stats.bytesReceived += payload.length;
        c.dataSeen = true;
        c.lastDataRecv = c.lastRecv;
      }
      this.#acceptQueue.push(c);
      this.#notify = true;
    } else {
      // Deviation: text carried on a SYN without Fast Open is not queued (RFC 9293 allows it;
      // Linux and FreeBSD drop it too); the peer retransmits it.
      c.tfoOption = tfo.reply;
      this.#synQueue.add(c);
    }
    tcpOutput(c);
  }

  /** Fast Open connections still in SYN-RECEIVED (Linux fastopenq.qlen, RFC 7413 §5.1). */
  readonly #tfoPending = new Set<TcpConnection>();

  #tfoPendingCount(): number {
    for (const c of this.#tfoPending) if (c.state !== 'SYN-RECEIVED') this.#tfoPending.delete(c);
    return this.#tfoPending.size;
  }

  /** A stateless SYN-ACK whose ISN is a cookie. */
  #sendCookie(src: IpAddress, dst: IpAddress, r: TcpRepr, tunnelPort: number): void {
    const layer = this.layer;
    const cfg = layer.config;
    const o = r.options;
    const peerWs = cfg.windowScaling ? o.windowScale : undefined;
    const sackOk = cfg.sack && o.sackPermitted === true;
    const iss = layer.cookies.encode(dst, r.dstPort, src, r.srcPort, seq(r.seq), o.mss ?? 536, {
      sackOk,
      wscale: peerWs,
      ts: o.timestamps !== undefined,
    });
    const opts: {
      mss: number;
      windowScale?: number;
      sackPermitted?: boolean;
      timestamps?: { tsVal: number; tsEcr: number };
    } = { mss: layer.announcedMss(src, { ...this.opts, udpEncapsPort: tunnelPort || undefined }) };
    if (peerWs !== undefined) opts.windowScale = layer.wscaleFor(this.opts);
    if (sackOk) opts.sackPermitted = true;
    if (cfg.timestamps && o.timestamps)
      opts.timestamps = { tsVal: layer.tsClock(), tsEcr: o.timestamps.tsVal };
    layer.stats.cookiesSent++;
    layer.stats.segmentsOut++;
    layer.env.output(
      dst,
      src,
      {
        srcPort: r.dstPort,
        dstPort: r.srcPort,
        seq: iss,
        ack: (r.seq + 1) >>> 0,
        flags: TCP_SYN | TCP_ACK,
        window: Math.min(this.opts.rcvBuf, 0xffff),
        urgentPointer: 0,
        options: opts as TcpOptions,
      },
      new Uint8Array(0),
      this.opts,
      layer.udpEncap(tunnelPort),
    );
  }

  /** An ACK that may complete a cookie handshake. Returns true when it did. */
  /**
   * Deviation: a connection made from a cookie has no ECN (Linux keeps the ECN bit in the
   * timestamp cookie; ours carries MSS, window scale, SACK and timestamps only).
   */
  #cookieAck(
    src: IpAddress,
    dst: IpAddress,
    r: TcpRepr,
    payload: Uint8Array,
    tunnelPort: number,
    ecn: number,
  ): boolean {
    const layer = this.layer;
    const cfg = layer.config;
    const ack = seq(r.ack);
    const data = layer.cookies.decode(dst, r.dstPort, src, r.srcPort, seqAdd(ack, -1), seq(r.seq - 1));
    if (!data) {
      layer.stats.cookiesFailed++;
      return false;
    }
    if (!this.hasAcceptRoom()) {
      layer.stats.backlogDrops++;
      return true;
    }
    layer.stats.cookiesAccepted++;
    const c = new TcpConnection(
      layer,
      { address: dst, port: r.dstPort },
      { address: src, port: r.srcPort },
      // A SYN that came tunnelled makes a tunnelled connection (FreeBSD syncache_add's port).
      layer.sharedOptions.intern({ ...this.opts, udpEncapsPort: tunnelPort || undefined }),
    );
    c.parent = this;
    c.reuseAddr = this.reuseAddr;
    c.irs = seq(r.seq - 1);
    c.rcv.nxt = seq(r.seq);
    c.lastAckSent = c.rcv.nxt;
    c.rcvMss = layer.announcedMss(src, c.opts);
    c.tsOffset = layer.tsOffset;
    c.mss = Math.max(cfg.minMss, Math.min(data.mss, layer.routeMss(src, c.opts), c.opts.maxSeg ?? 65535));
    if (data.wscale !== undefined && cfg.windowScaling) {
      c.wsOk = true;
      c.sndWscale = data.wscale;
      c.rcvWscale = layer.wscaleFor(c.opts);
    }
    c.sackOk = data.sackOk && cfg.sack;
    const ts = r.options.timestamps;
    if (ts && cfg.timestamps) {
      c.tsOk = true;
      c.tsRecent = ts.tsVal;
      c.tsRecentAge = layer.env.clock.now();
    }
    c.cc = ccCreate(c);
    initSend(c, seqAdd(ack, -1));
    c.snd.una = ack;
    c.snd.nxt = ack;
    c.sndMax = ack;
    c.state = 'ESTABLISHED';
    sizeBuffersOnEstablished(c); // the MSS is now known (profile sockBufRounding)
    c.snd.wnd = r.window << c.sndWscale;
    c.maxSndWnd = c.snd.wnd;
    c.snd.wl1 = c.rcv.nxt;
    c.snd.wl2 = ack;
    c.rcv.wnd = Math.min(c.opts.rcvBuf, 0xffff);
    c.rcvAdv = seqAdd(c.rcv.nxt, c.rcv.wnd);
    c.lastRecv = layer.env.clock.now();
    layer.add(c);
    layer.stats.passiveOpens++;
    layer.stats.established++;
    armKeepalive(c);
    this.#acceptQueue.push(c);
    this.#notify = true;
    if (payload.length > 0 || r.flags & TCP_FIN) segmentArrives(c, r, payload, ecn);
    return true;
  }
}

/** Sets the send-side TCB for a new ISS (nothing sent yet). */
export function initSend(c: Tcb, iss: Seq): void {
  c.iss = iss;
  c.snd.una = iss;
  c.snd.nxt = iss;
  c.sndMax = iss;
  c.sndBufSeq = seqAdd(iss, 1);
  c.recover = iss;
  c.highRxt = iss;
}
