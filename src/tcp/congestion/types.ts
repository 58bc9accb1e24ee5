/**
 * The congestion-control interface, chosen per connection. The connection owns
 * loss recovery itself (RFC 6675 SACK recovery / RFC 6582 NewReno, using pipe);
 * the algorithm only owns cwnd and ssthresh.
 */
import type { Duration, Instant } from '../../time/instant.ts';

export interface CongestionContext {
  now: Instant;
  /** Sender MSS (SMSS), bytes. */
  mss: number;
  /** Bytes outstanding (RFC 5681 FlightSize), measured before the event. */
  flightSize: number;
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
   * Segments one ACK may stand for: the connection sends super-segments of this many
   * segments (TSO), which the peer receives whole and ACKs once each (the kernel's GRO).
   * Slow start's per-ACK limit counts them, as Linux's tcp_slow_start counts acked segments.
   */
  ackSegs?: number;
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
  /** Idle restart (RFC 5681 §4.1): call when nothing was sent for more than one RTO. */
  onIdle?(ctx: CongestionContext, idleFor: Duration): void;
  /** Pacing rate in bytes/s, or undefined (no pacing). */
  readonly pacingRate?: number;
}

/** "Infinity-like" initial ssthresh (RFC 5681 §3.1: "arbitrarily high"). */
export const INITIAL_SSTHRESH = 0x7fffffff;

/** RFC 6928 §2: IW = min (10*MSS, max (2*MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** RFC 3465 §2.3: during slow start cwnd grows by at most L*SMSS per ACK; L = 2. */
export const ABC_L = 2;
