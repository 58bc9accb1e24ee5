/**
 * The transmission control block of one connection (RFC 9293 §3.3.1, field names as in
 * the RFC): sequence variables, negotiated options, buffers, recovery state and timer
 * state. Data only: the behaviour that reads and changes it lives in the modules above
 * (input.ts, sender.ts, receiver.ts, output.ts, timers.ts), and the socket-facing API in
 * connection.ts (TcpConnection extends Tcb).
 */

import type { Instant } from '../time/instant.ts';
import type { Timer } from '../time/timers.ts';
import type { TcpOptions } from '../wire/tcp.ts';
import type { TcpSocketOptions } from './config.ts';
import { createCongestionControl } from './congestion/factory.ts';
import type { CongestionControl } from './congestion/types.ts';
import type { TcpCloseReason, TcpErrorCode } from './errors.ts';
import {
  EV_CLOSE,
  EV_END,
  EV_ESTABLISHED,
  EV_READABLE,
  EV_WRITABLE,
  type TcpConnectionEvents,
} from './events.ts';
import type { TcpEndpoint, TcpHost } from './host.ts';
import { TxLog } from './rack-log.ts';
import { ReassemblyQueue } from './reassembly.ts';
import { RecvQueue } from './recv-queue.ts';
import { ByteRing } from './ring.ts';
import { RttEstimator } from './rtt.ts';
import { SackScoreboard } from './sack.ts';
import { type Seq, seq, seqGt, seqSub } from './seq.ts';
import type { TcpState } from './state.ts';

/** Receive-buffer autotuning's measure (rcvbuf-auto.ts; Linux rcv_rtt_est and rcvq_space). */
export interface RcvSpace {
  /** Receiver RTT estimate in µs (the minimum window-arrival time); 0: none yet. */
  rtt: number;
  /** The window-arrival measure ends when RCV.NXT reaches this, started at `rttTime`. */
  rttSeq: Seq;
  rttTime: number;
  /** Bytes read in the last measured RTT (rcvq_space.space). */
  space: number;
  /** Where the reader was (copied_seq) and when, at the start of the current measure. */
  seq: Seq;
  time: number;
}

/** Per-connection counters (feed TCP_INFO). */
export interface TcpConnStats {
  segsIn: number;
  segsOut: number;
  bytesAcked: number;
  bytesReceived: number;
  /** Bytes the peer newly acknowledged or SACKed (Linux tp->delivered, in bytes), and those on ACKs with ECN-Echo (delivered_ce). */
  bytesDelivered: number;
  bytesDeliveredCe: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  /** RFC 8985 tail loss probes sent. */
  lossProbes: number;
}

/** The listener a passively opened connection belongs to until accepted (listen.ts). */
export interface TcpParent {
  /** Is there room in the accept queue? */
  hasAcceptRoom(): boolean;
  /** The connection completed its handshake: into the accept queue. */
  established(c: Tcb): void;
  /** The connection ended before accept(). */
  forget(c: Tcb): void;
  /** Tells the application about new connections to accept. */
  flush(): void;
}

/** The kinds of timer a connection runs (timers.ts), as Tcb.timerAt's argument. */
export type TimerKind = 0 | 1 | 2 | 3 | 4 | 5 | 6;
/** Retransmission: an RTO (RFC 6298), or a tail-loss-probe timeout (RFC 8985) when ptoArmed. */
export const T_RTX = 0;
/** Persist: zero-window probes (RFC 9293 §3.8.6.1). */
export const T_PERSIST = 1;
/** Delayed ACK (RFC 9293 §3.8.6.3). */
export const T_DELACK = 2;
/** Keepalive (RFC 1122 §4.2.3.6). */
export const T_KEEP = 3;
/** TIME-WAIT 2*MSL, or an orphan's FIN-WAIT-2 timeout. */
export const T_WAIT = 4;
/** Pacing: the next burst of new data may leave. */
export const T_PACE = 5;
/** RFC 8985 §6.3 RACK reordering timer: segments not yet lost may become lost by time alone. */
export const T_REO = 6;
const TIMER_KINDS = 7;
/** Tcb#timerSlots: where the arming count is kept, and the RTO a pending PTO stands in for (ptoRtoDeadline). */
const ARM_COUNT = 2 * TIMER_KINDS;
const PTO_RTO_AT = ARM_COUNT + 1;
/** A fresh Tcb#timerSlots (doubles: NEVER is Infinity). */
const newTimerSlots = (): number[] => [
  NEVER,
  NEVER,
  NEVER,
  NEVER,
  NEVER,
  NEVER,
  NEVER,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
];
/** A timer deadline that is not armed. */
export const NEVER = Number.POSITIVE_INFINITY;

/** Bits of Tcb#flags. */
const F_WS_OK = 1 << 0;
const F_TS_OK = 1 << 1;
const F_SACK_OK = 1 << 2;
const F_ECN_OK = 1 << 3;
const F_ECN_DEMAND_CWR = 1 << 4;
const F_ECN_QUEUE_CWR = 1 << 5;
const F_ECN_SEEN = 1 << 6;
const F_FIN_QUEUED = 1 << 7;
const F_FIN_RECEIVED = 1 << 8;
const F_READ_SHUT = 1 << 9;
const F_ORPHAN = 1 << 10;
const F_WANT_WRITABLE = 1 << 11;
const F_ACK_NOW = 1 << 12;
const F_DEFER_ACKED = 1 << 13;
const F_PTO_ARMED = 1 << 14;
const F_TLP_IS_RETRANS = 1 << 15;
const F_DATA_SEEN = 1 << 16;
const F_RTT_TIMING = 1 << 17;
const F_IN_RECOVERY = 1 << 18;
const F_RACK_REORD = 1 << 19;
const F_ACTIVE = 1 << 20;
const F_REUSE_ADDR = 1 << 21;
const F_TERMINATED = 1 << 22;
const F_EVENTS_QUEUED = 1 << 23;
const F_OUTPUT_QUEUED = 1 << 24;
/** Bits of Tcb#flags2 (a second word: a small integer holds 31 bits). */
const G_TFO_SYN = 1 << 0;
const G_TFO_OPTION_EXP = 1 << 1;
const G_TFO_SYN_DATA_ACKED = 1 << 2;
const G_TFO_DEFERRED = 1 << 3;
const G_TFO_CHILD = 1 << 4;
const G_MORE_HOLD = 1 << 5;
const G_FRTO = 1 << 6;
const G_RS_HAVE = 1 << 7;
const G_RS_APP_LIMITED = 1 << 8;
const G_RATE_SAMPLE_APP_LIMITED = 1 << 9;
const G_CWND_LIMITED = 1 << 10;
const G_LOSS_SACK = 1 << 11;
const G_RCV_DISCARD = 1 << 12;
const G_OWN_OPTS = 1 << 13;
const G_SNDBUF_CHECK = 1 << 14;
const G_SNDBUF_LOCKED = 1 << 15;
const G_HANDSHAKE_ACK_HELD = 1 << 16;
const G_RCVBUF_LOCKED = 1 << 17;

export class Tcb {
  /** @internal */ readonly layer: TcpHost;
  state: TcpState = 'CLOSED';
  /**
   * The connection's boolean state, one bit each (the accessors below): 36 booleans as
   * fields would cost 288 bytes per connection, a quarter of an idle one (bench/idle.ts).
   */
  #flags = 0;
  #flags2 = 0;

  /**
   * The boolean fields above that are declared, not defined, are bits of #flags and #flags2
   * (an idle connection holds two small integers instead of 38 fields): one accessor pair
   * each on the prototype, made here from the tables (what 38 written-out pairs did, in a
   * fraction of the bundle; scripts/build-browser.ts's budget).
   */
  static {
    const bit = (name: string, word: 1 | 2, mask: number): void => {
      Object.defineProperty(Tcb.prototype, name, {
        configurable: true,
        get:
          word === 1
            ? function (this: Tcb): boolean {
                return (this.#flags & mask) !== 0;
              }
            : function (this: Tcb): boolean {
                return (this.#flags2 & mask) !== 0;
              },
        set:
          word === 1
            ? function (this: Tcb, v: boolean): void {
                this.#flags = v ? this.#flags | mask : this.#flags & ~mask;
              }
            : function (this: Tcb, v: boolean): void {
                this.#flags2 = v ? this.#flags2 | mask : this.#flags2 & ~mask;
              },
      });
    };
    bit('wsOk', 1, F_WS_OK);
    bit('tsOk', 1, F_TS_OK);
    bit('sackOk', 1, F_SACK_OK);
    bit('ecnOk', 1, F_ECN_OK);
    bit('ecnDemandCwr', 1, F_ECN_DEMAND_CWR);
    bit('ecnQueueCwr', 1, F_ECN_QUEUE_CWR);
    bit('ecnSeen', 1, F_ECN_SEEN);
    bit('finQueued', 1, F_FIN_QUEUED);
    bit('finReceived', 1, F_FIN_RECEIVED);
    bit('readShut', 1, F_READ_SHUT);
    bit('orphan', 1, F_ORPHAN);
    bit('wantWritable', 1, F_WANT_WRITABLE);
    bit('ackNow', 1, F_ACK_NOW);
    bit('deferAcked', 1, F_DEFER_ACKED);
    bit('ptoArmed', 1, F_PTO_ARMED);
    bit('tlpIsRetrans', 1, F_TLP_IS_RETRANS);
    bit('dataSeen', 1, F_DATA_SEEN);
    bit('rttTiming', 1, F_RTT_TIMING);
    bit('inRecovery', 1, F_IN_RECOVERY);
    bit('rackReord', 1, F_RACK_REORD);
    bit('active', 1, F_ACTIVE);
    bit('reuseAddr', 1, F_REUSE_ADDR);
    bit('terminated', 1, F_TERMINATED);
    bit('eventsQueued', 1, F_EVENTS_QUEUED);
    bit('outputQueued', 1, F_OUTPUT_QUEUED);
    bit('tfoSyn', 2, G_TFO_SYN);
    bit('tfoOptionExp', 2, G_TFO_OPTION_EXP);
    bit('tfoSynDataAcked', 2, G_TFO_SYN_DATA_ACKED);
    bit('tfoDeferred', 2, G_TFO_DEFERRED);
    bit('tfoChild', 2, G_TFO_CHILD);
    bit('rcvDiscard', 2, G_RCV_DISCARD);
    bit('moreHold', 2, G_MORE_HOLD);
    bit('frto', 2, G_FRTO);
    bit('lossSack', 2, G_LOSS_SACK);
    bit('rsHave', 2, G_RS_HAVE);
    bit('rsAppLimited', 2, G_RS_APP_LIMITED);
    bit('rateSampleAppLimited', 2, G_RATE_SAMPLE_APP_LIMITED);
    bit('cwndLimited', 2, G_CWND_LIMITED);
    bit('sndBufCheck', 2, G_SNDBUF_CHECK);
    bit('sndBufLocked', 2, G_SNDBUF_LOCKED);
    bit('handshakeAckHeld', 2, G_HANDSHAKE_ACK_HELD);
    bit('rcvBufLocked', 2, G_RCVBUF_LOCKED);
  }
  readonly local: TcpEndpoint;
  readonly remote: TcpEndpoint;

  // --- TCB (RFC 9293 §3.3.1) ---
  // Sequence numbers and 32-bit timestamps are kept as int32 (`v | 0`) and read back as the
  // uint32 they are (`>>> 0`): an int32 is a small integer to V8 on 64-bit Node, stored in
  // the field itself, where a uint32 above 2^31 is a boxed 16-byte HeapNumber (bench/idle.ts).
  // SND and RCV stay plain numbers: read on every segment, behind accessors they cost about
  // 1% of request/response (scripts/bench-ab.ts), for 80 bytes per connection.
  readonly snd = { una: seq(0), nxt: seq(0), wnd: 0, wl1: seq(0), wl2: seq(0), up: seq(0) };
  readonly rcv = { nxt: seq(0), wnd: 0, up: seq(0) };
  #iss = 0;
  get iss(): Seq {
    return (this.#iss >>> 0) as Seq;
  }
  set iss(v: Seq) {
    this.#iss = v | 0;
  }
  #irs = 0;
  get irs(): Seq {
    return (this.#irs >>> 0) as Seq;
  }
  set irs(v: Seq) {
    this.#irs = v | 0;
  }
  /** Highest sequence number sent + 1 (snd.nxt is pulled back on RTO; this is not). */
  #sndMax = 0;
  get sndMax(): Seq {
    return (this.#sndMax >>> 0) as Seq;
  }
  set sndMax(v: Seq) {
    this.#sndMax = v | 0;
  }
  /** Right edge of the window we last advertised (never moved left). */
  #rcvAdv = 0;
  get rcvAdv(): Seq {
    return (this.#rcvAdv >>> 0) as Seq;
  }
  set rcvAdv(v: Seq) {
    this.#rcvAdv = v | 0;
  }
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
  declare wsOk: boolean;
  declare tsOk: boolean;
  #tsRecent = 0;
  get tsRecent(): number {
    return this.#tsRecent >>> 0;
  }
  set tsRecent(v: number) {
    this.#tsRecent = v | 0;
  }
  tsRecentAge: Instant = 0;
  #lastAckSent = 0;
  get lastAckSent(): Seq {
    return (this.#lastAckSent >>> 0) as Seq;
  }
  set lastAckSent(v: Seq) {
    this.#lastAckSent = v | 0;
  }
  /**
   * Replies to invalid segments and challenge ACKs (config.invalidRateLimit): the end of the
   * current limiting window (undefined: none yet) and the replies sent in it.
   */
  oowWindowEnd: Instant | undefined = undefined;
  oowReplies = 0;
  #tsOffset = 0;
  get tsOffset(): number {
    return this.#tsOffset >>> 0;
  }
  set tsOffset(v: number) {
    this.#tsOffset = v | 0;
  }
  declare sackOk: boolean;
  /**
   * RFC 3168 ECN (ecn.ts): negotiated (on an active open, asked for until the SYN-ACK says
   * otherwise, as Linux's TCP_ECN_OK); the receiver owes ECN-Echo until a CWR (Linux
   * TCP_ECN_DEMAND_CWR); the sender owes CWR on its next new data (TCP_ECN_QUEUE_CWR); an
   * ECT or CE segment has arrived (TCP_ECN_SEEN); and the end of the window whose ECN-Echo
   * already reduced cwnd (undefined: none pending), as Linux's CWR state's high_seq.
   */
  declare ecnOk: boolean;
  declare ecnDemandCwr: boolean;
  declare ecnQueueCwr: boolean;
  declare ecnSeen: boolean;
  ecnCwrEnd: Seq | undefined = undefined;
  /** The IP ECN field of the segment being processed (segmentArrives). */
  segEcn = 0;
  /** What we offered in our SYN (active open). */
  offeredWscale = 0;

  // --- RFC 7413 TCP Fast Open (fastopen.ts, tfo.ts) ---
  /** The Fast Open option our first SYN or SYN-ACK carries (never a retransmitted one); undefined: none. */
  tfoOption: TcpOptions['fastOpen'] = undefined;
  /** Our SYN asked for or used Fast Open (Linux syn_fastopen), and in the experimental form (syn_fastopen_exp). */
  declare tfoSyn: boolean;
  declare tfoOptionExp: boolean;
  /** Bytes of data our SYN carried (Linux syn_data). */
  tfoSynData = 0;
  /** The SYN-ACK acknowledged the data of our SYN (Linux syn_data_acked, TCPI_OPT_SYN_DATA). */
  declare tfoSynDataAcked: boolean;
  /** TCP_FASTOPEN_CONNECT: connect() has returned and the SYN waits for the first write's data. */
  declare tfoDeferred: boolean;
  /** Made from a SYN with data and a valid cookie: accept() returns it while still SYN-RECEIVED. */
  declare tfoChild: boolean;

  // --- buffers ---
  readonly sndBuf: ByteRing;
  readonly rcvBuf: RecvQueue;
  /** Sequence number of the first byte in sndBuf. */
  #sndBufSeq = 0;
  get sndBufSeq(): Seq {
    return (this.#sndBufSeq >>> 0) as Seq;
  }
  set sndBufSeq(v: Seq) {
    this.#sndBufSeq = v | 0;
  }
  #reasm: ReassemblyQueue | undefined;
  #scoreboard: SackScoreboard | undefined;
  #txLog: TxLog | undefined;
  declare finQueued: boolean;
  /** Sequence number of our FIN (valid when finQueued). */
  #finSeq = 0;
  get finSeq(): Seq {
    return (this.#finSeq >>> 0) as Seq;
  }
  set finSeq(v: Seq) {
    this.#finSeq = v | 0;
  }
  declare finReceived: boolean;
  declare readShut: boolean;
  /** close() was called: nobody will read; the connection finishes on its own. */
  declare orphan: boolean;
  /** Writer saw a short write; emit onWritable when space returns. */
  declare wantWritable: boolean;
  /**
   * An ACK freed send-buffer room while the writer waited for some (Linux SOCK_QUEUE_SHRUNK
   * with SOCK_NOSPACE): the output step after it may grow the buffer (sndbuf-auto.ts).
   */
  declare sndBufCheck: boolean;
  /** SO_SNDBUF was set (Linux SOCK_SNDBUF_LOCK): the send buffer keeps its size. */
  declare sndBufLocked: boolean;
  /** SO_RCVBUF was set (Linux SOCK_RCVBUF_LOCK): the receive buffer keeps its size. */
  declare rcvBufLocked: boolean;
  /** Receive-buffer autotuning's measure (rcvbuf-auto.ts), from the first in-order data on. */
  rcvSpace: RcvSpace | null = null;
  /**
   * Arriving text is acknowledged and discarded, not queued: set with readShut by close(), and
   * by shutdown(SHUT_RD) unless the profile keeps receiving (config.shutRdKeepsReceiving).
   */
  declare rcvDiscard: boolean;
  /** The last write had MSG_MORE: partial segments wait for the next one, as under TCP_CORK. */
  declare moreHold: boolean;
  /**
   * MSG_EOR record ends (sequence numbers of the byte after each record, in order): no
   * segment carries bytes of two records (Linux TCPCB_EOR: the skb is not merged into).
   */
  eorMarks: Seq[] | undefined = undefined;
  /** PSH marks (push.ts; config.pushWriteEnd): the byte after each marked write end, in order. */
  pshMarks: Seq[] | undefined = undefined;
  /** Linux pushed_seq: the send buffer's end at the last PSH mark (forced_push counts from it). */
  pushedSeq: Seq = seq(0);
  /** Where multi-segment GSO packets of new data ended, in order (push.ts; config.pushBurstEnd). */
  gsoEnds: Seq[] | undefined = undefined;
  /** Segments in the last super-segment sent (TSO, output.ts sendDataAt); 0: none yet. */
  gsoSegs = 0;

  // --- ACK state ---
  declare ackNow: boolean;
  /**
   * The ACK of a bare SYN-ACK waits for the established event's callbacks, which may send
   * data that carries it (input.ts synAckArrives; TcpConnection.deliverEvents sends it after).
   */
  declare handshakeAckHeld: boolean;
  /** Full-sized segments received since our last ACK. */
  delackSegs = 0;
  /**
   * What a full-sized segment from the peer is: the largest payload seen so far, capped at
   * the MSS we announced, starting from 536 (like Linux's icsk_ack.rcv_mss).
   */
  rcvMssEst = 536;
  /** TCP_DEFER_ACCEPT: the peer's bare ACK of our SYN-ACK came and was held back. */
  declare deferAcked: boolean;
  // --- RFC 8985 §7 tail loss probe (tlp.ts) ---
  /** The retransmission timer holds a probe timeout (PTO), not an RTO. */
  declare ptoArmed: boolean;
  /**
   * Where the RTO would have fired when the PTO took its place (valid while ptoArmed; kept
   * with the timers, Tcb#timerSlots).
   */
  get ptoRtoDeadline(): Instant {
    return this.#timerSlots?.[PTO_RTO_AT] ?? 0;
  }
  /** TLP.end_seq: SND.NXT after the outstanding probe; undefined when none is. */
  tlpEndSeq: Seq | undefined = undefined;
  /** TLP.is_retrans: the outstanding probe resent old data. */
  declare tlpIsRetrans: boolean;
  /** Start of the last segment sent as new data (what a probe resends). */
  #tailSeq = 0;
  get tailSeq(): Seq {
    return (this.#tailSeq >>> 0) as Seq;
  }
  set tailSeq(v: Seq) {
    this.#tailSeq = v | 0;
  }

  /** RFC 2883 D-SACK: a duplicate received below RCV.NXT, reported first in the next ACK. */
  dsack: { left: number; right: number } | undefined = undefined;
  /** Quick-ACK mode: this many more ACKs of data go out at once (config.quickAck). */
  quickAcks = 0;
  /** In-order data has arrived on this connection (Linux: icsk_ack.ato is set). */
  declare dataSeen: boolean;
  /** When in-order data last arrived (Linux icsk_ack.lrcvtime). */
  lastDataRecv: Instant = 0;

  // --- retransmission, RTT, congestion ---
  readonly rtt: RttEstimator;
  cc: CongestionControl;
  rtxCount = 0;
  declare rttTiming: boolean;
  #rttSeq = 0;
  get rttSeq(): Seq {
    return (this.#rttSeq >>> 0) as Seq;
  }
  set rttSeq(v: Seq) {
    this.#rttSeq = v | 0;
  }
  rttStart: Instant = 0;
  dupAcks = 0;
  declare inRecovery: boolean;
  #recover = 0;
  get recover(): Seq {
    return (this.#recover >>> 0) as Seq;
  }
  set recover(v: Seq) {
    this.#recover = v | 0;
  }
  #highRxt = 0;
  get highRxt(): Seq {
    return (this.#highRxt >>> 0) as Seq;
  }
  set highRxt(v: Seq) {
    this.#highRxt = v | 0;
  }
  /** NewReno window inflation during fast recovery (RFC 6582). */
  nrInflate = 0;

  // --- RFC 8985 RACK (rack.ts); the per-segment record is txLog ---
  /** RACK.xmit_ts: when the most recently sent segment known delivered went out (-1: none yet). */
  rackXmitTs: Instant = -1;
  /** That segment's transmission count (rack-log.ts TxSegment.order; 0: none yet). */
  rackXmitOrder = 0;
  /** RACK.end_seq: that segment's end. */
  #rackEndSeq = 0;
  get rackEndSeq(): Seq {
    return (this.#rackEndSeq >>> 0) as Seq;
  }
  set rackEndSeq(v: Seq) {
    this.#rackEndSeq = v | 0;
  }
  /** RACK.rtt: the RTT of that segment. */
  rackRtt = 0;
  /** RACK.fack: the highest end_seq delivered. */
  #rackFack = 0;
  get rackFack(): Seq {
    return (this.#rackFack >>> 0) as Seq;
  }
  set rackFack(v: Seq) {
    this.#rackFack = v | 0;
  }
  /** RACK.reord: reordering has been seen on this connection. */
  declare rackReord: boolean;
  /** RACK.dsack_round: the round (SND.NXT then) in which a D-SACK last widened the window. */
  rackDsackRound: Seq | undefined = undefined;
  /** RACK.reo_wnd_mult and RACK.reo_wnd_persist (RFC 8985 §6.2 step 4). */
  rackReoWndMult = 1;
  rackReoWndPersist = 0;

  // --- RFC 6937 proportional rate reduction (prr.ts), bytes ---
  prrDelivered = 0;
  prrOut = 0;
  /** RecoverFS: the FlightSize when recovery began. */
  prrRecoverFs = 0;
  /** The congestion window PRR allows now (pipe + sndcnt at the last ACK). */
  prrCwnd = 0;
  persistCount = 0;
  /** When the unacknowledged head was first sent, stamped at its first retransmission (valid while rtxCount > 0; Linux retrans_stamp). */
  rtxStamp = 0;
  /** When zero-window probing began (valid while persistCount > 0; Linux icsk_probes_tstamp). */
  persistStamp = 0;
  keepaliveProbes = 0;
  lastRecv: Instant = 0;
  lastSend: Instant = 0;
  /** When data (not a bare ACK) last went out (Linux lsndtime, tcpi_last_data_sent). */
  lastDataSend: Instant = 0;
  /**
   * After an RTO, the highest sequence sent then: until it is acknowledged the connection is
   * in Linux's Loss state (tcpi_ca_state); undefined otherwise.
   */
  lossEnd: Seq | undefined = undefined;
  /**
   * F-RTO (RFC 5682, frto.ts): the episode after an RTO runs; the end of what the timeout
   * retransmitted; where step 2b's new data starts (undefined: not sent yet).
   */
  declare frto: boolean;
  #frtoRtxEnd = 0;
  get frtoRtxEnd(): Seq {
    return (this.#frtoRtxEnd >>> 0) as Seq;
  }
  set frtoRtxEnd(v: Seq) {
    this.#frtoRtxEnd = v | 0;
  }
  /**
   * The Loss state after an RTO kept the SACK scoreboard (Linux tcp_timeout_mark_lost without
   * reneging): the segments it marked lost are retransmitted by the recovery sender, SACKed
   * data is not sent again (timers.ts rtoRetransmit).
   */
  declare lossSack: boolean;
  frtoNewFrom: Seq | undefined = undefined;
  /**
   * The reordering degree seen, in segments (Linux tp->reordering, tcpi_reordering): the
   * sysctl default 3 (DupThresh), raised to the distance an original arrived below the
   * highest SACKed sequence (tcp_check_sack_reordering).
   */
  reordering = 3;
  /**
   * Undo (undo.ts, Linux tcp_init_undo): SND.UNA when the reduction began (undefined: no
   * episode open), the bytes retransmitted since and not yet D-SACKed, and the window before.
   */
  undoMarker: Seq | undefined = undefined;
  undoRetrans = 0;
  priorCwnd = 0;
  priorSsthresh = 0;
  /**
   * Delivery rate without per-segment stamps (no SACK, rate.ts rateAverage): the window's
   * start and delivered bytes then; and the last rate (bytes/s, tcpi_delivery_rate).
   */
  rateStart: Instant = 0;
  rateDelivered = 0;
  deliveryRate = 0;
  // --- delivery-rate estimation (rate.ts; Linux tcp_rate.c), bytes and µs ---
  /** The delivered count's high-water mark above SND.UNA (sender.ts): SACKed bytes already counted. */
  deliveredAbove = 0;
  /** tp->first_tx_mstamp: send time of the most recently delivered segment (the send phase's start). */
  rateFirstTx: Instant = 0;
  /** tp->delivered_mstamp: when the delivered count last grew. */
  rateDeliveredTs: Instant = 0;
  /** tp->app_limited: 0, or the delivered count past which samples are no longer application-limited. */
  appLimitedUntil = 0;
  /** The sample the current ACK builds (struct rate_sample's prior_* fields): valid when rsHave. */
  declare rsHave: boolean;
  rsPriorDelivered = 0;
  rsPriorTs: Instant = 0;
  declare rsAppLimited: boolean;
  rsOrder = 0;
  rsSndUs = 0;
  /** The RTT of the most recently sent never-retransmitted segment this ACK delivered (-1: none), and its order. */
  rsRttUs = -1;
  rsRttOrder = 0;
  /** This ACK's RTT measurement sample (RFC 6298 / RFC 7323), µs (-1: none on this ACK). */
  ackRttUs = -1;
  /** The last sample kept for tcpi_delivery_rate (tp->rate_delivered, rate_interval_us, rate_app_limited). */
  rateSampleDelivered = 0;
  rateSampleUs = 0;
  declare rateSampleAppLimited: boolean;
  minRtt = 0;
  /** Pacing: when the next burst of new data may leave (tcpOutput). */
  paceNext: Instant = 0;
  /**
   * Linux tcp_cwnd_validate: whether the window in flight was limited by cwnd, the most bytes
   * outstanding in the current window when it was not (max_packets_out), and where that window
   * ends (cwnd_usage_seq). The window grows only while cwnd-limited (tcp_is_cwnd_limited).
   */
  declare cwndLimited: boolean;
  maxFlightOut = 0;
  #cwndUsageSeq = 0;
  get cwndUsageSeq(): Seq {
    return (this.#cwndUsageSeq >>> 0) as Seq;
  }
  set cwndUsageSeq(v: Seq) {
    this.#cwndUsageSeq = v | 0;
  }

  // --- lifecycle ---
  events: TcpConnectionEvents | undefined = undefined;
  pending = 0;
  closeReason: TcpCloseReason | undefined = undefined;
  /** Soft error (SO_ERROR), e.g. from an ICMP message. */
  error: TcpErrorCode | undefined = undefined;
  /** Listener that made this connection (passive open), until accepted. */
  parent: TcpParent | undefined = undefined;
  /** Opened actively (SYN-SENT first). */
  declare active: boolean;
  declare reuseAddr: boolean;
  /** terminate() ran (lifecycle.ts). */
  declare terminated: boolean;
  /**
   * Socket options, perhaps shared with other connections: change them only through ownOpts
   * (a plain field, not an accessor: read on every segment).
   */
  opts: Readonly<TcpSocketOptions>;
  /**
   * @internal The options to change: a copy of its own the first time, since the options a
   * connection is made with may be shared (shared-options.ts).
   */
  ownOpts(): TcpSocketOptions {
    if ((this.#flags2 & G_OWN_OPTS) === 0) {
      this.opts = { ...this.opts };
      this.#flags2 |= G_OWN_OPTS;
    }
    return this.opts as TcpSocketOptions;
  }
  readonly stats: TcpConnStats = {
    segsIn: 0,
    segsOut: 0,
    bytesAcked: 0,
    bytesReceived: 0,
    bytesDelivered: 0,
    bytesDeliveredCe: 0,
    retransmits: 0,
    lossProbes: 0,
    fastRetransmits: 0,
    timeouts: 0,
  };

  /**
   * `passive`: made by a listener for a SYN, which sets `cc` at once from the negotiated MSS
   * (applySynOptions, or the cookie's), so no placeholder controller is made for it.
   */
  constructor(
    layer: TcpHost,
    local: TcpEndpoint,
    remote: TcpEndpoint,
    opts: Readonly<TcpSocketOptions>,
    passive = false,
  ) {
    this.layer = layer;
    this.local = local;
    this.remote = remote;
    this.opts = opts;
    this.sndBuf = new ByteRing(opts.sndBuf, layer.memory.forSend);
    this.rcvBuf = new RecvQueue(opts.rcvBuf, layer.memory);
    const cfg = layer.config;
    this.rtt = new RttEstimator({
      initialRto: cfg.initialRto,
      minRto: cfg.minRto,
      maxRto: cfg.maxRto,
      linux: cfg.linuxRto,
    });
    // Until the handshake negotiates the MSS (applySynOptions): an active open's SYN-SENT
    // reads it (TCP_INFO); a passive one's is set before anything reads it.
    this.cc = passive
      ? (undefined as unknown as CongestionControl)
      : createCongestionControl(opts.congestion, 536);
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
  /** @internal Bytes held out of order (0 without a queue). */
  get reasmBytes(): number {
    return this.#reasm?.bytes ?? 0;
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
  /** @internal RFC 8985 per-segment transmit record (rack.ts). */
  get txLog(): TxLog {
    if (!this.#txLog) this.#txLog = new TxLog();
    return this.#txLog;
  }
  /** @internal */
  get hasTxLog(): boolean {
    return this.#txLog !== undefined;
  }
  /** @internal Frees the out-of-order queue, the scoreboard and the transmit record (the connection is gone). */
  clearQueues(): void {
    this.#reasm?.clear();
    this.#scoreboard?.clear();
    this.#txLog?.clear();
  }

  // ---------------------------------------------------------------- timers

  /**
   * The timers' storage, one array made when a timer is first armed and dropped (with the
   * queue entry) once none is armed, so an idle connection holds neither: the deadline of
   * each kind (T_RTX ... T_REO) at [kind], NEVER when not armed; when each was last armed
   * (a per-connection count: ties fire in arming order) at [TIMER_KINDS + kind]; the count
   * at [ARM_COUNT]; ptoRtoDeadline at [PTO_RTO_AT]. One queue entry (#timer) stands for all of them, at the earliest;
   * timers.ts runs the kinds as they fall due.
   */
  #timerSlots: number[] | undefined = undefined;
  #timer: Timer | undefined = undefined;

  /** @internal The connection's timer entry expired at `now` (timers.ts handles it; see TcpConnection). */
  protected timerFired(_now: Instant): void {}

  /** @internal The connection is its own timer target (TimerQueue calls this). */
  onTimer(now: Instant): void {
    this.timerFired(now);
  }

  /**
   * @internal Arms (or re-arms) timer `kind` for `at`. The queue entry moves only when `at`
   * comes before it (or at the same instant, to take a fresh place there, as a timer of its
   * own would); a later deadline leaves the entry where it is: it fires early, runs what is
   * due (perhaps nothing) and moves on to the earliest deadline then (runTimers). Re-arming
   * the RTO on every ACK therefore costs no queue work while an earlier deadline stands.
   */
  setTimer(kind: TimerKind, at: Instant): void {
    const slots = (this.#timerSlots ??= newTimerSlots());
    slots[kind] = at;
    slots[TIMER_KINDS + kind] = ++slots[ARM_COUNT]!;
    const t = (this.#timer ??= this.layer.env.timers.timer(this));
    const entry = t.deadline;
    if (entry === undefined || at <= entry) t.set(at);
  }

  /**
   * @internal Stops timer `kind`. The queue entry stays where it is, even when nothing is
   * armed any more: an entry that fires with nothing due just moves on to the earliest
   * deadline then, or goes away (runTimers). A connection that arms and stops its
   * retransmission timer on every exchange (request/response) thus does no queue work
   * until the entry comes due, as Linux's sk_reset_timer/sk_stop_timer leave a pending
   * timer to fire and re-check.
   */
  clearTimer(kind: TimerKind): void {
    const slots = this.#timerSlots;
    if (slots) slots[kind] = NEVER;
  }

  /** @internal The deadline of timer `kind` (NEVER: not armed). */
  timerAt(kind: TimerKind): Instant {
    const slots = this.#timerSlots;
    return slots ? slots[kind]! : NEVER;
  }

  /** @internal */
  timerArmed(kind: TimerKind): boolean {
    return this.timerAt(kind) !== NEVER;
  }

  /**
   * @internal The kind due first at `now` (earliest deadline, ties in arming order), disarmed
   * for its handler to run; -1 when none is due.
   */
  takeDueTimer(now: Instant): TimerKind | -1 {
    const k = this.earliestTimer();
    if (k < 0) return -1;
    const slots = this.#timerSlots!;
    if (slots[k]! > now) return -1;
    slots[k] = NEVER;
    return k;
  }

  /** @internal After a handler ran: the entry goes to the earliest deadline left. */
  rescheduleTimer(): void {
    this.moveTimerEntry();
  }

  // Private methods are TypeScript `private`, not `#`: `#` methods give every instance a
  // brand field, 8 bytes per connection (bench/idle.ts).
  private earliestTimer(): TimerKind | -1 {
    const at = this.#timerSlots;
    if (!at) return -1;
    let k: TimerKind | -1 = -1;
    let min = NEVER;
    for (let i = 0 as TimerKind; i < TIMER_KINDS; i++) {
      const d = at[i]!;
      if (d < min || (d === min && d !== NEVER && at[TIMER_KINDS + i]! < at[TIMER_KINDS + k]!)) {
        min = d;
        k = i;
      }
    }
    return k;
  }

  /** Moves the queue entry to the earliest deadline (none armed: no entry, and no storage). */
  private moveTimerEntry(): void {
    const k = this.earliestTimer();
    if (k < 0) {
      this.dropTimers();
      return;
    }
    const at = this.#timerSlots![k]!;
    const t = (this.#timer ??= this.layer.env.timers.timer(this));
    if (t.deadline !== at) t.set(at);
  }

  /** @internal Arms the retransmission timer for an RTO at `at` (replacing a pending PTO). */
  armRto(at: Instant): void {
    this.ptoArmed = false;
    this.setTimer(T_RTX, at);
  }
  /** @internal Arms the retransmission timer as a tail-loss-probe timeout (tlp.ts). */
  armPto(at: Instant, rtoAt: Instant): void {
    this.ptoArmed = true;
    this.setTimer(T_RTX, at);
    this.#timerSlots![PTO_RTO_AT] = rtoAt;
  }
  /** @internal Stops the retransmission timer (RTO or PTO). */
  cancelRtx(): void {
    this.ptoArmed = false;
    this.clearTimer(T_RTX);
  }
  /** @internal */ cancelTimers(): void {
    this.ptoArmed = false;
    this.dropTimers();
  }
  /**
   * No timer armed: the queue entry and the storage go (a later setTimer makes new ones), and
   * the connection is idle (trimIfIdle).
   */
  private dropTimers(): void {
    this.#timer?.dispose();
    this.#timer = undefined;
    this.#timerSlots = undefined;
    this.trimIfIdle();
  }

  /**
   * @internal When the connection is idle (no timer entry: nothing in flight, no ACK owed,
   * which the retransmission and delayed-ACK timers would say), its empty buffers and
   * queues let go of their storage: they grow again on use. Called as the last timer goes,
   * and after a read (the reader may empty the receive queue of an idle connection).
   */
  trimIfIdle(): void {
    if (this.#timer !== undefined) return;
    this.sndBuf.trim();
    this.rcvBuf.trim();
    if (this.#reasm?.isEmpty) this.#reasm = undefined;
    this.#txLog?.trim();
  }
  /** @internal */ get rtxArmed(): boolean {
    return this.timerAt(T_RTX) !== NEVER;
  }
  /** @internal */ get persistArmed(): boolean {
    return this.timerAt(T_PERSIST) !== NEVER;
  }
  /** @internal */ get delackArmed(): boolean {
    return this.timerAt(T_DELACK) !== NEVER;
  }

  // ---------------------------------------------------------------- derived

  /** @internal The FIN we queued has been sent. */
  get finSent(): boolean {
    return this.finQueued && seqGt(this.sndMax, this.finSeq);
  }

  /** @internal Our FIN is acknowledged. */
  get finAcked(): boolean {
    return this.finQueued && seqGt(this.snd.una, this.finSeq);
  }

  /** @internal Bytes written and not yet sent (Linux write_seq - snd_nxt, for TCP_NOTSENT_LOWAT). */
  get notSent(): number {
    return Math.max(0, this.sndBuf.length - Math.max(0, seqSub(this.sndMax, this.sndBufSeq)));
  }

  /** @internal The TCP_NOTSENT_LOWAT in force (Infinity: none). */
  get notSentLowat(): number {
    return this.opts.notSentLowat ?? this.layer.config.notSentLowat;
  }

  /** @internal Bytes in flight (sent, not yet acknowledged). */
  get flight(): number {
    return seqSub(this.sndMax, this.snd.una);
  }

  /** @internal Keepalives run: SO_KEEPALIVE, or config.alwaysKeepalive. */
  get keepAliveOn(): boolean {
    return this.opts.keepAlive || this.layer.config.alwaysKeepalive;
  }

  /** @internal Queued for the layer's next event delivery. */
  declare eventsQueued: boolean;
  /** @internal Queued for the layer's next output pass (input.ts, TcpLayer.runOutputPass). */
  declare outputQueued: boolean;

  /**
   * @internal Pending events go to the socket layer: at the layer's next delivery (once per
   * stack poll, TcpLayer.deliverEvents), or at once for a layer driven without a Stack.
   */
  flush(): void {
    if (this.pending === 0 || this.layer.deferEvents(this)) return;
    this.deliverEvents();
  }

  /** @internal Delivers pending events to the socket layer now. */
  deliverEvents(): void {
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
