/**
 * The congestion-control interface, chosen per connection. The connection owns
 * loss recovery itself (RFC 6675 SACK recovery / RFC 6582 NewReno, using pipe);
 * the algorithm only owns cwnd and ssthresh.
 */
import type { Duration, Instant } from '../../time/instant.ts';

/** The controllers a connection can choose (TCP_CONGESTION; Linux's "reno" is 'newreno'). */
export type CongestionName = 'newreno' | 'cubic' | 'bbr';

/**
 * NewReno's ssthresh on a congestion event. 'rfc5681-flight-size': max(FlightSize/2, 2·SMSS)
 * (RFC 5681 §3.1 equation 4). 'linux-cwnd-half': max(cwnd/2, 2) in whole segments (Linux
 * tcp_reno_ssthresh). 'freebsd-cwnd-half': the same (newreno_cong_signal), but after a
 * timeout half of min(SND.WND, cwnd) (CC_RTO).
 */
export type RenoSsthresh = 'rfc5681-flight-size' | 'linux-cwnd-half' | 'freebsd-cwnd-half';

export interface CongestionContext {
  now: Instant;
  /** Sender MSS (SMSS), bytes. */
  mss: number;
  /**
   * The data a full segment carries: SMSS less the timestamp option when it is on (the unit
   * in which Linux counts its window, packets). Undefined: `mss`.
   */
  segBytes?: number;
  /** Bytes outstanding (RFC 5681 FlightSize), measured before the event. */
  flightSize: number;
  /** The peer's send window (SND.WND), bytes; undefined: unknown (no limit). */
  sndWnd?: number;
  /** Latest RTT sample. */
  rtt?: Duration;
  /** Smallest RTT seen. */
  minRtt?: Duration;
  /**
   * Leaving a recovery whose window PRR ran (RFC 6937): the flight is already down to
   * ssthresh, so cwnd = ssthresh (Linux tcp_end_cwnd_reduction).
   */
  prrExit?: boolean;
  /**
   * Data in the network now (Linux tcp_packets_in_flight, in bytes): outstanding minus SACKed
   * and lost, plus retransmitted. Undefined: flightSize.
   */
  inFlight?: number;
  /** This ACK's RTT sample (the newest segment it delivered), µs; undefined: none. */
  ackRtt?: Duration;
  /** SND.UNA after the ACK and the highest sequence sent (SND.MAX), as 32-bit sequence numbers. */
  una?: number;
  sndNxt?: number;
  /** When data was last sent (Linux lsndtime), µs. */
  lastSend?: Instant;
  /** Linux's congestion-control state (icsk_ca_state) as the controller sees it. */
  caState?: 'open' | 'recovery' | 'loss';
  /**
   * Segments one ACK may stand for: the connection sends super-segments of this many
   * segments (TSO), which the peer receives whole and ACKs once each (the kernel's GRO).
   * Slow start's per-ACK limit counts them, as Linux's tcp_slow_start counts acked segments.
   */
  ackSegs?: number;
}

/**
 * A delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation; Linux struct
 * rate_sample), taken on each ACK that delivers data: bytes, microseconds.
 */
export interface RateSample {
  /** Bytes delivered over the interval (-1: no sample on this ACK). */
  delivered: number;
  /** The interval, µs: max(send phase, ACK phase) (-1: no valid sample). */
  intervalUs: number;
  /** The bytes delivered by the segments sent before the one this sample ends with. */
  priorDelivered: number;
  /** Whether the sample's window was limited by the application rather than the network. */
  isAppLimited: boolean;
  /** Bytes newly acknowledged or SACKed by this ACK. */
  ackedSacked: number;
  /** Bytes newly marked lost on this ACK. */
  losses: number;
  /** RTT of the most recently sent segment this ACK delivered that was never retransmitted, µs (-1: none). */
  rttUs: number;
  /** Data in flight before this ACK, bytes. */
  priorInFlight: number;
  /** The connection's delivered counter after this ACK (Linux tp->delivered), bytes. */
  deliveredTotal: number;
  /** When the ACK was processed (Linux tp->delivered_mstamp when it delivered data). */
  deliveredTs: Instant;
}

export interface CongestionControl {
  readonly name: string;
  /** Congestion window, bytes (an integer). */
  readonly cwnd: number;
  /** Slow-start threshold, bytes; starts "infinite" (INITIAL_SSTHRESH). */
  readonly ssthresh: number;
  /** Cumulative ACK of `acked` new bytes outside recovery: slow start / congestion avoidance (RFC 5681 §3.1, ABC RFC 3465 L=2). */
  onAck(acked: number, ctx: CongestionContext): void;
  /** Fast retransmit / loss detected by dupacks or SACK: RFC 5681 §3.2 step 2 ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh. */
  onEnterRecovery(ctx: CongestionContext): void;
  /** Full ACK ends recovery (RFC 6582 §3.2 step 3). */
  onExitRecovery(ctx: CongestionContext): void;
  /** RTO: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1*SMSS (RFC 5681 §3.1 (4)). */
  onRto(ctx: CongestionContext): void;
  /**
   * The last reduction was spurious (D-SACKs, undo.ts): cwnd = max(cwnd, priorCwnd), ssthresh
   * = priorSsthresh when larger (Linux tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd).
   */
  onUndo?(priorCwnd: number, priorSsthresh: number): void;
  /**
   * The handshake negotiated `mss`, for a controller made before (an active open's): the
   * initial window (RFC 5681 §3.1, RFC 6928) becomes that of a controller made for it.
   */
  setInitialMss(mss: number): void;
  /** The connection is established (Linux tcp_init_congestion_control): the handshake's RTT is known. */
  init?(ctx: CongestionContext): void;
  /**
   * Takes over a live connection's window (TCP_CONGESTION changed after the handshake; Linux
   * tcp_reinit_congestion_control leaves snd_cwnd and snd_ssthresh as they are).
   */
  adopt?(cwnd: number, ssthresh: number): void;
  /**
   * Idle restart (RFC 5681 §4.1): call when nothing was sent for more than one RTO.
   * `halveEvery`: Linux's tcp_cwnd_restart halves cwnd once per this long (the RTO) of the idle
   * time, down to the restart window; undefined: straight to the restart window (RFC 5681,
   * FreeBSD newreno_after_idle).
   */
  onIdle?(ctx: CongestionContext, idleFor: Duration, halveEvery?: Duration): void;
  /** Pacing rate in bytes/s, or undefined (no pacing). */
  readonly pacingRate?: number;
  /** Segments a paced burst may hold (Linux's TSO autosizing goal); undefined: the socket's pacingBurst. */
  readonly pacingBurst?: number;
  /**
   * The controller sets the window on every ACK, in recovery too, from delivery-rate samples
   * (Linux's cong_control hook, BBR): PRR does not run the recovery window.
   */
  readonly ownsWindow?: boolean;
  /** The controller holds the sender below the bandwidth on purpose (BBR's PROBE_RTT): its samples are application-limited. */
  readonly holdsRate?: boolean;
  /** A delivery-rate sample from an ACK that delivered data (called after onAck / recovery processing). */
  onRateSample?(rs: RateSample, ctx: CongestionContext): void;
  /**
   * Transmission resumes with nothing in flight (Linux CA_EVENT_TX_START); `appLimited`:
   * the sender was application-limited.
   */
  onTxStart?(ctx: CongestionContext, appLimited: boolean): void;
}

/** "Infinity-like" initial ssthresh (RFC 5681 §3.1: "arbitrarily high"). */
export const INITIAL_SSTHRESH = 0x7fffffff;

/** RFC 6928 §2: IW = min (10*MSS, max (2*MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** RFC 3465 §2.3: during slow start cwnd grows by at most L*SMSS per ACK; L = 2. */
export const ABC_L = 2;
