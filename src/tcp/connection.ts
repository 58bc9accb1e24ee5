/**
 * One TCP connection: the TCB (RFC 9293 §3.3.1, field names as in the RFC),
 * its buffers and timers, and the socket-facing API. Segment arrival lives in
 * input.ts, "what to send next" in output.ts, timer expiry in timers.ts.
 */

import type { Instant } from '../time/instant.ts';
import type { Timer } from '../time/timers.ts';
import type { IpAddress } from '../wire/address.ts';
import type { TcpSocketOptions } from './config.ts';
import type { CongestionControl } from './congestion/types.ts';
import { createCongestionControl } from './congestion/types.ts';
import { reasonCode, type TcpCloseReason, TcpError, type TcpErrorCode } from './errors.ts';
import type { TcpInfo } from './info.ts';
import type { TcpLayer } from './layer.ts';
import type { TcpListener } from './listen.ts';
import { sendAbortRst, tcpOutput, windowUpdateDue } from './output.ts';
import { ReassemblyQueue } from './reassembly.ts';
import { ByteRing } from './ring.ts';
import { RttEstimator } from './rtt.ts';
import { SackScoreboard } from './sack.ts';
import { type Seq, seq, seqAdd, seqGt, seqSub } from './seq.ts';
import type { TcpState } from './state.ts';
import { onDelAck, onKeepalive, onPersist, onRtx, onWait } from './timers.ts';

export interface TcpEndpoint {
  readonly address: IpAddress;
  readonly port: number;
}

/** The socket layer's view of events on a connection; every method is optional. */
export interface TcpConnectionEvents {
  /** The three-way handshake completed. */
  onEstablished?(): void;
  /** New data (or EOF) can be read. */
  onReadable?(): void;
  /** Send-buffer space became available after write() returned less than asked. */
  onWritable?(): void;
  /** The peer's FIN arrived: no more data will follow what is buffered. */
  onEnd?(): void;
  /** The connection is gone; `reason` undefined means an orderly end. */
  onClose?(reason?: TcpCloseReason): void;
}

// Pending-event bits, flushed after each input/timer step so callbacks never run mid-update.
export const EV_ESTABLISHED = 1;
export const EV_READABLE = 2;
export const EV_WRITABLE = 4;
export const EV_END = 8;
export const EV_CLOSE = 16;

/** Per-connection counters (feed TCP_INFO). */
export interface TcpConnStats {
  segsIn: number;
  segsOut: number;
  bytesAcked: number;
  bytesReceived: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  /** RFC 8985 tail loss probes sent. */
  lossProbes: number;
}

export class TcpConnection {
  /** @internal */ readonly layer: TcpLayer;
  state: TcpState = 'CLOSED';
  readonly local: TcpEndpoint;
  readonly remote: TcpEndpoint;

  // --- TCB (RFC 9293 §3.3.1) ---
  readonly snd = { una: seq(0), nxt: seq(0), wnd: 0, wl1: seq(0), wl2: seq(0), up: seq(0) };
  readonly rcv = { nxt: seq(0), wnd: 0, up: seq(0) };
  iss: Seq = seq(0);
  irs: Seq = seq(0);
  /** Highest sequence number sent + 1 (snd.nxt is pulled back on RTO; this is not). */
  sndMax: Seq = seq(0);
  /** Right edge of the window we last advertised (never moved left). */
  rcvAdv: Seq = seq(0);
  /** Largest window the peer has offered (RFC 5961 MAX.SND.WND, sender SWS). */
  maxSndWnd = 0;

  // --- negotiated ---
  /** Send MSS: payload bytes per segment before options. */
  mss = 536;
  /** MSS we announced. */
  rcvMss = 536;
  /** Peer's window shift (applied to windows we receive) and ours (to windows we send). */
  sndWscale = 0;
  rcvWscale = 0;
  wsOk = false;
  tsOk = false;
  tsRecent = 0;
  tsRecentAge: Instant = 0;
  lastAckSent: Seq = seq(0);
  tsOffset = 0;
  sackOk = false;
  /** What we offered in our SYN (active open). */
  offeredWscale = 0;

  // --- buffers ---
  readonly sndBuf: ByteRing;
  readonly rcvBuf: ByteRing;
  /** Sequence number of the first byte in sndBuf. */
  sndBufSeq: Seq = seq(0);
  #reasm: ReassemblyQueue | undefined;
  #scoreboard: SackScoreboard | undefined;
  finQueued = false;
  /** Sequence number of our FIN (valid when finQueued). */
  finSeq: Seq = seq(0);
  finReceived = false;
  readShut = false;
  /** close() was called: nobody will read; the connection finishes on its own. */
  orphan = false;
  /** Writer saw a short write; emit onWritable when space returns. */
  wantWritable = false;

  // --- ACK state ---
  ackNow = false;
  /** Full-sized segments received since our last ACK. */
  delackSegs = 0;
  /**
   * What a full-sized segment from the peer is: the largest payload seen so far, capped at
   * the MSS we announced, starting from 536 (like Linux's icsk_ack.rcv_mss).
   */
  rcvMssEst = 536;
  /** TCP_DEFER_ACCEPT: the peer's bare ACK of our SYN-ACK came and was held back. */
  deferAcked = false;
  // --- RFC 8985 §7 tail loss probe (tlp.ts) ---
  /** The retransmission timer holds a probe timeout (PTO), not an RTO. */
  ptoArmed = false;
  /** Where the RTO would have fired when the PTO took its place. */
  ptoRtoDeadline: Instant = 0;
  /** TLP.end_seq: SND.NXT after the outstanding probe; undefined when none is. */
  tlpEndSeq: Seq | undefined = undefined;
  /** TLP.is_retrans: the outstanding probe resent old data. */
  tlpIsRetrans = false;
  /** Start of the last segment sent as new data (what a probe resends). */
  tailSeq: Seq = seq(0);

  /** RFC 2883 D-SACK: a duplicate received below RCV.NXT, reported first in the next ACK. */
  dsack: { left: number; right: number } | undefined = undefined;
  /** Quick-ACK mode: this many more ACKs of data go out at once (config.quickAck). */
  quickAcks = 0;
  /** In-order data has arrived on this connection (Linux: icsk_ack.ato is set). */
  dataSeen = false;
  /** When in-order data last arrived (Linux icsk_ack.lrcvtime). */
  lastDataRecv: Instant = 0;

  // --- retransmission, RTT, congestion ---
  readonly rtt: RttEstimator;
  cc: CongestionControl;
  rtxCount = 0;
  rttTiming = false;
  rttSeq: Seq = seq(0);
  rttStart: Instant = 0;
  dupAcks = 0;
  inRecovery = false;
  recover: Seq = seq(0);
  highRxt: Seq = seq(0);
  /** NewReno window inflation during fast recovery (RFC 6582). */
  nrInflate = 0;
  persistCount = 0;
  /** When the unacknowledged head was first sent, stamped at its first retransmission (valid while rtxCount > 0; Linux retrans_stamp). */
  rtxStamp = 0;
  /** When zero-window probing began (valid while persistCount > 0; Linux icsk_probes_tstamp). */
  persistStamp = 0;
  keepaliveProbes = 0;
  lastRecv: Instant = 0;
  lastSend: Instant = 0;
  minRtt = 0;

  // --- lifecycle ---
  events: TcpConnectionEvents | undefined = undefined;
  pending = 0;
  closeReason: TcpCloseReason | undefined = undefined;
  /** Soft error (SO_ERROR), e.g. from an ICMP message. */
  error: TcpErrorCode | undefined = undefined;
  /** Listener that made this connection (passive open), until accepted. */
  parent: TcpListener | undefined = undefined;
  /** Opened actively (SYN-SENT first). */
  active = false;
  reuseAddr = false;
  readonly opts: TcpSocketOptions;
  readonly stats: TcpConnStats = {
    segsIn: 0,
    segsOut: 0,
    bytesAcked: 0,
    bytesReceived: 0,
    retransmits: 0,
    lossProbes: 0,
    fastRetransmits: 0,
    timeouts: 0,
  };

  #terminated = false;
  #rtxTimer: Timer | undefined;
  #persistTimer: Timer | undefined;
  #delackTimer: Timer | undefined;
  #keepTimer: Timer | undefined;
  #paceTimer: Timer | undefined;
  /** Pacing: when the next burst of new data may leave (tcpOutput). */
  paceNext: Instant = 0;
  #waitTimer: Timer | undefined;
  /** @internal scratch for wrapped payloads */
  scratch: Uint8Array | undefined;

  constructor(layer: TcpLayer, local: TcpEndpoint, remote: TcpEndpoint, opts: TcpSocketOptions) {
    this.layer = layer;
    this.local = local;
    this.remote = remote;
    this.opts = opts;
    this.sndBuf = new ByteRing(opts.sndBuf, layer.memory.forSend);
    this.rcvBuf = new ByteRing(opts.rcvBuf, layer.memory);
    const cfg = layer.config;
    this.rtt = new RttEstimator({ initialRto: cfg.initialRto, minRto: cfg.minRto, maxRto: cfg.maxRto });
    this.cc = createCongestionControl(opts.congestion, 536);
  }

  // ---------------------------------------------------------------- lazy parts

  /** @internal */
  get reasm(): ReassemblyQueue {
    if (!this.#reasm) this.#reasm = new ReassemblyQueue(this.opts.rcvBuf, undefined, this.layer.memory);
    return this.#reasm;
  }
  /** @internal */
  get hasReasm(): boolean {
    return this.#reasm !== undefined && !this.#reasm.isEmpty;
  }
  /** @internal */
  get scoreboard(): SackScoreboard {
    if (!this.#scoreboard) this.#scoreboard = new SackScoreboard();
    return this.#scoreboard;
  }
  /** @internal */
  get hasScoreboard(): boolean {
    return this.#scoreboard !== undefined;
  }
  /** @internal */ get rtxTimer(): Timer {
    return (this.#rtxTimer ??= this.layer.env.timers.timer(() => onRtx(this)));
  }
  /** @internal */ get persistTimer(): Timer {
    return (this.#persistTimer ??= this.layer.env.timers.timer(() => onPersist(this)));
  }
  /** @internal */ get delackTimer(): Timer {
    return (this.#delackTimer ??= this.layer.env.timers.timer(() => onDelAck(this)));
  }
  /** @internal Pacing: the next burst is due (config pacingRate). */
  get paceTimer(): Timer {
    return (this.#paceTimer ??= this.layer.env.timers.timer(() => {
      tcpOutput(this);
      this.flush();
    }));
  }
  /** @internal */ get keepTimer(): Timer {
    return (this.#keepTimer ??= this.layer.env.timers.timer(() => onKeepalive(this)));
  }
  /** @internal */ get waitTimer(): Timer {
    return (this.#waitTimer ??= this.layer.env.timers.timer(() => onWait(this)));
  }
  /** @internal Arms the retransmission timer for an RTO at `at` (replacing a pending PTO). */
  armRto(at: Instant): void {
    this.ptoArmed = false;
    this.rtxTimer.set(at);
  }
  /** @internal Arms the retransmission timer as a tail-loss-probe timeout (tlp.ts). */
  armPto(at: Instant, rtoAt: Instant): void {
    this.ptoArmed = true;
    this.ptoRtoDeadline = rtoAt;
    this.rtxTimer.set(at);
  }
  /** @internal Stops the retransmission timer (RTO or PTO). */
  cancelRtx(): void {
    this.ptoArmed = false;
    this.#rtxTimer?.cancel();
  }
  /** @internal */ cancelTimers(): void {
    this.ptoArmed = false;
    this.#rtxTimer?.cancel();
    this.#persistTimer?.cancel();
    this.#delackTimer?.cancel();
    this.#keepTimer?.cancel();
    this.#waitTimer?.cancel();
    this.#paceTimer?.cancel();
  }
  /** @internal */ get rtxArmed(): boolean {
    return this.#rtxTimer?.armed ?? false;
  }
  /** @internal */ get persistArmed(): boolean {
    return this.#persistTimer?.armed ?? false;
  }
  /** @internal */ cancelDelack(): void {
    this.#delackTimer?.cancel();
  }
  /** @internal */ get delackArmed(): boolean {
    return this.#delackTimer?.armed ?? false;
  }

  // ---------------------------------------------------------------- API

  get readableLength(): number {
    return this.rcvBuf.length;
  }
  get writableSpace(): number {
    return this.sndBuf.space;
  }
  /** Bytes written but not yet acknowledged. */
  get unackedLength(): number {
    return this.sndBuf.length;
  }
  /** The peer's FIN arrived and every byte before it has been read. */
  get eof(): boolean {
    return this.finReceived && this.rcvBuf.length === 0;
  }
  /** Whether this side can still send (not shut down, not closed). */
  get writable(): boolean {
    return !this.finQueued && (this.state === 'ESTABLISHED' || this.state === 'CLOSE-WAIT' || this.#opening);
  }
  get #opening(): boolean {
    return this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED';
  }
  get options(): Readonly<TcpSocketOptions> {
    return this.opts;
  }

  /** Queues bytes for sending; returns how many fit in the send buffer (0 when full). */
  write(data: Uint8Array): number {
    this.#checkSendable();
    const n = this.sndBuf.push(data);
    if (n < data.length) {
      this.wantWritable = true;
      this.layer.memory.blockedWriter(this);
    }
    if (n > 0) tcpOutput(this);
    return n;
  }

  /** Takes up to `max` received bytes; null when none are buffered (check `eof`). */
  read(max = Number.POSITIVE_INFINITY): Uint8Array | null {
    if (this.rcvBuf.length === 0) {
      if (this.closeReason !== undefined && !this.finReceived)
        throw new TcpError(reasonCode(this.closeReason));
      return null;
    }
    const out = this.rcvBuf.take(max);
    // RFC 9293 §3.8.6.2.2: advertise the reopened window once it grew enough (receiver SWS).
    if (windowUpdateDue(this)) {
      this.ackNow = true;
      tcpOutput(this);
    }
    return out;
  }

  /** Applies socket options (some take effect at once: buffer sizes, keepalive, Nagle). */
  setOptions(o: Partial<TcpSocketOptions>): void {
    Object.assign(this.opts, o);
    if (o.sndBuf !== undefined) this.sndBuf.limit = o.sndBuf;
    if (o.rcvBuf !== undefined) {
      this.rcvBuf.limit = o.rcvBuf;
    }
    if (o.keepAlive !== undefined || o.keepIdle !== undefined) this.armKeepalive();
    if (o.noDelay && this.state !== 'CLOSED') tcpOutput(this);
    if (o.congestion !== undefined && o.congestion !== this.cc.name && !this.#established) {
      this.cc = createCongestionControl(o.congestion, this.mss);
    }
  }
  get #established(): boolean {
    return this.state !== 'CLOSED' && this.state !== 'SYN-SENT' && this.state !== 'SYN-RECEIVED';
  }

  /**
   * RFC 9293 §3.10.4 (CLOSE) for one or both directions. 'write' queues a FIN after
   * the buffered data; 'read' discards buffered and future data.
   */
  shutdown(how: 'read' | 'write' | 'both'): void {
    if (this.state === 'CLOSED' || this.state === 'LISTEN') throw new TcpError('ENOTCONN');
    if (how !== 'write') {
      this.readShut = true;
      this.rcvBuf.clear();
    }
    if (how !== 'read') this.#queueFin();
  }

  /**
   * Graceful close: FIN after queued data, then the connection finishes unattended.
   * Sends RST instead if unread data would be discarded (RFC 1122 §4.2.2.13) or
   * SO_LINGER is 0.
   */
  close(): void {
    const s = this.state;
    if (s === 'CLOSED') {
      this.rcvBuf.clear(); // nobody will read it: give the memory back
      return;
    }
    this.orphan = true;
    this.events = undefined;
    if (s === 'SYN-SENT') {
      // RFC 9293 §3.10.4: SYN-SENT: "Delete the TCB".
      this.terminate(undefined);
      return;
    }
    if (this.rcvBuf.length > 0 || this.opts.linger === 0 || (this.#reasm?.bytes ?? 0) > 0) {
      // RFC 1122 §4.2.2.13: "If such a host issues a CLOSE call while received data is still
      // pending in TCP ... its TCP SHOULD send a RST to show that data was lost."
      this.abort();
      return;
    }
    this.readShut = true;
    this.#queueFin();
    if (this.state === 'FIN-WAIT-2') this.armFinWait2();
  }

  /** RFC 9293 §3.10.5 ABORT: RST to the peer (when synchronized) and gone. */
  abort(): void {
    // RFC 9293 §3.10.5: "All queued SENDs and RECEIVEs should be given 'connection reset'".
    this.rcvBuf.clear();
    const s = this.state;
    if (s === 'CLOSED') return;
    if (s !== 'SYN-SENT' && s !== 'TIME-WAIT' && s !== 'LISTEN') {
      sendAbortRst(this);
    }
    this.events = undefined;
    this.terminate('aborted');
  }

  /** TCP_INFO-style snapshot. */
  info(): TcpInfo {
    return this.layer.infoFor(this);
  }

  #checkSendable(): void {
    if (this.finQueued) throw new TcpError('EPIPE', 'write after shutdown');
    if (this.closeReason !== undefined) throw new TcpError(reasonCode(this.closeReason));
    const s = this.state;
    if (s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'SYN-SENT' || s === 'SYN-RECEIVED') return;
    if (s === 'CLOSED' || s === 'LISTEN') throw new TcpError('ENOTCONN');
    throw new TcpError('EPIPE');
  }

  #queueFin(): void {
    if (this.finQueued) return;
    const s = this.state;
    if (s === 'SYN-SENT') {
      this.terminate(undefined);
      return;
    }
    if (s !== 'ESTABLISHED' && s !== 'CLOSE-WAIT' && s !== 'SYN-RECEIVED') return;
    this.finQueued = true;
    this.finSeq = seqAdd(this.sndBufSeq, this.sndBuf.length);
    // SYN-RECEIVED: "queue for processing after entering ESTABLISHED state" (§3.10.4);
    // the state moves in input.ts when our SYN is acknowledged.
    if (s === 'ESTABLISHED') this.state = 'FIN-WAIT-1';
    else if (s === 'CLOSE-WAIT') this.state = 'LAST-ACK';
    tcpOutput(this);
  }

  // ---------------------------------------------------------------- internal helpers

  /** @internal The FIN we queued has been sent. */
  get finSent(): boolean {
    return this.finQueued && seqGt(this.sndMax, this.finSeq);
  }

  /** @internal Our FIN is acknowledged. */
  get finAcked(): boolean {
    return this.finQueued && seqGt(this.snd.una, this.finSeq);
  }

  /** @internal Bytes in flight (sent, not yet acknowledged). */
  get flight(): number {
    return seqSub(this.sndMax, this.snd.una);
  }

  /** @internal */
  armKeepalive(): void {
    if (!this.keepAliveOn || this.state === 'CLOSED' || !this.#established) {
      this.#keepTimer?.cancel();
      return;
    }
    this.keepaliveProbes = 0;
    this.keepTimer.set(this.lastRecv + this.opts.keepIdle);
  }

  /** @internal Keepalives run: SO_KEEPALIVE, or config.alwaysKeepalive. */
  get keepAliveOn(): boolean {
    return this.opts.keepAlive || this.layer.config.alwaysKeepalive;
  }

  /** @internal Orphans in FIN-WAIT-2 are reaped (Linux tcp_fin_timeout). */
  armFinWait2(): void {
    if (this.orphan) {
      const t = this.opts.finWait2Timeout ?? this.layer.config.finWait2Timeout;
      this.waitTimer.set(this.layer.env.clock.now() + t);
    }
  }

  /** @internal Enters TIME-WAIT and (re)starts the 2*MSL timer. */
  enterTimeWait(): void {
    this.state = 'TIME-WAIT';
    this.cancelRtx();
    this.#persistTimer?.cancel();
    this.#keepTimer?.cancel();
    this.#delackTimer?.cancel();
    this.sndBuf.clear();
    this.waitTimer.set(this.layer.env.clock.now() + 2 * this.layer.config.msl);
  }

  /** @internal Ends the connection: CLOSED, timers off, removed from the layer. */
  terminate(reason: TcpCloseReason | undefined): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.state = 'CLOSED';
    this.closeReason = reason;
    this.cancelTimers();
    this.sndBuf.clear();
    // Nobody will read it: closed by the user, or never accepted from the listener.
    if (this.orphan || this.parent) this.rcvBuf.clear();
    this.layer.memory.forget(this);
    this.#reasm?.clear();
    this.#scoreboard?.clear();
    this.layer.remove(this);
    this.pending |= EV_CLOSE;
  }

  /** @internal Delivers pending events to the socket layer. */
  flush(): void {
    let p = this.pending;
    while (p !== 0) {
      this.pending = 0;
      const ev = this.events;
      if (ev) {
        if (p & EV_ESTABLISHED) ev.onEstablished?.();
        if (p & EV_READABLE) ev.onReadable?.();
        if (p & EV_END) ev.onEnd?.();
        if (p & EV_WRITABLE) ev.onWritable?.();
        if (p & EV_CLOSE) ev.onClose?.(this.closeReason);
      }
      p = this.pending;
    }
  }
}
