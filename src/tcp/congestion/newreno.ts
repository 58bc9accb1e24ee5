/**
 * Reno/NewReno window arithmetic (RFC 5681, RFC 6582) with Appropriate Byte
 * Counting (RFC 3465). Recovery itself (which segment to resend, pipe) is the
 * connection's job; this object only moves cwnd and ssthresh.
 */
import type { Duration } from '../../time/instant.ts';
import {
  ABC_L,
  type CongestionContext,
  type CongestionControl,
  INITIAL_SSTHRESH,
  initialWindow,
  type RenoSsthresh,
} from './types.ts';

export class NewReno implements CongestionControl {
  readonly name: string = 'newreno';
  /** Bytes; may be fractional inside (CUBIC), `cwnd` rounds down. */
  protected _cwnd: number;
  protected _ssthresh = INITIAL_SSTHRESH;
  /** RFC 3465 §2.1 bytes_acked counter for congestion avoidance. */
  protected bytesAcked = 0;
  /** True after an RTO until new data is acknowledged (repeated RTOs keep ssthresh). */
  protected rtoPending = false;

  /**
   * Slow start's growth limit per ACK, in segments (RFC 3465 L): 2 as the RFC and FreeBSD
   * (net.inet.tcp.abc_l_var) have it; Infinity for Linux, whose tcp_slow_start grows by all
   * that was acknowledged (a stretch ACK of ten segments opens ten).
   */
  readonly abcLimit: number;
  /** How a congestion event sets ssthresh (profile renoSsthresh); RFC 5681's rule by default. */
  readonly #rule: RenoSsthresh;

  constructor(mss: number, opts: { abcLimit?: number; renoSsthresh?: RenoSsthresh } = {}) {
    if (!(mss > 0)) throw new RangeError(`congestion control: bad mss ${mss}`);
    this._cwnd = initialWindow(mss);
    // Infinity held as 2^30 segments (no fewer than any ACK acknowledges): a small integer
    // stays in the field, where Infinity is a boxed number per connection (bench/idle.ts).
    this.abcLimit = Math.min(opts.abcLimit ?? ABC_L, 2 ** 30);
    this.#rule = opts.renoSsthresh ?? 'rfc5681-flight-size';
  }

  setInitialMss(mss: number): void {
    this._cwnd = initialWindow(mss);
  }
  get cwnd(): number {
    return Math.floor(this._cwnd);
  }
  get ssthresh(): number {
    return this._ssthresh;
  }

  onAck(acked: number, ctx: CongestionContext): void {
    if (!(acked > 0)) return;
    this.rtoPending = false;
    if (this._cwnd < this._ssthresh) {
      acked = this.slowStart(acked, ctx.mss, ctx.ackSegs);
      if (acked === 0) return;
    }
    this.congestionAvoidance(acked, ctx);
  }

  /**
   * RFC 5681 §3.1 slow start with RFC 3465 §2.2: "cwnd += min (N, L*SMSS)".
   * Like Linux we stop at ssthresh and hand the rest of the ACK to congestion
   * avoidance. Returns the bytes left over.
   */
  protected slowStart(acked: number, mss: number, ackSegs = 0): number {
    // An ACK of a whole super-segment is the ACK of each of its segments' pairs (ctx.ackSegs).
    const grow = Math.min(acked, Math.max(this.abcLimit, ackSegs) * mss);
    const room = this._ssthresh - this._cwnd;
    if (grow <= room) {
      this._cwnd += grow;
      return 0;
    }
    this._cwnd = this._ssthresh;
    return acked - room;
  }

  /**
   * RFC 3465 §2.1: "When bytes_acked becomes greater than or equal to the value
   * of the congestion window, bytes_acked is reduced by the value of cwnd. Next,
   * cwnd is incremented by a full-sized segment (SMSS)."
   */
  protected congestionAvoidance(acked: number, ctx: CongestionContext): void {
    this.bytesAcked += acked;
    if (this.bytesAcked >= this._cwnd) {
      this.bytesAcked -= this._cwnd;
      this._cwnd += ctx.mss;
    }
  }

  /**
   * ssthresh on a congestion event (`rto`: a timeout), by the rule chosen: RFC 5681 §3.2 step 2,
   * ssthresh = max (FlightSize / 2, 2*SMSS) (equation 4); or half the window in whole segments,
   * at least two: Linux tcp_reno_ssthresh "max(tcp_snd_cwnd(tp) >> 1U, 2U)", FreeBSD
   * newreno_cong_signal "max(cwnd / 2 / mss, 2) * mss", whose CC_RTO halves min(snd_wnd, cwnd).
   */
  protected lossThreshold(ctx: CongestionContext, rto = false): number {
    const rule = this.#rule;
    if (rule === 'rfc5681-flight-size') return Math.max(Math.floor(ctx.flightSize / 2), 2 * ctx.mss);
    // Both count the window in segments of the payload MSS (Linux mss_cache, FreeBSD tcp_maxseg).
    const seg = ctx.segBytes ?? ctx.mss;
    const w =
      rto && rule === 'freebsd-cwnd-half' ? Math.min(this._cwnd, ctx.sndWnd ?? this._cwnd) : this._cwnd;
    return Math.max(Math.floor(w / seg / 2), 2) * seg;
  }

  onEnterRecovery(ctx: CongestionContext): void {
    this._ssthresh = this.lossThreshold(ctx);
    // The connection runs RFC 6675 recovery with pipe, so cwnd = ssthresh (no +3*SMSS inflation).
    this._cwnd = this._ssthresh;
    this.bytesAcked = 0;
  }

  /**
   * RFC 6582 §3.2 step 3 (full acknowledgment): "Set cwnd to either (1) min
   * (ssthresh, max(FlightSize, SMSS) + SMSS) or (2) ssthresh." We take (1), which
   * avoids a burst when little data is outstanding; `flightSize` here is what
   * remains outstanding after the full ACK.
   */
  onExitRecovery(ctx: CongestionContext): void {
    // After PRR (RFC 6937) the window simply becomes ssthresh, as Linux's tcp_end_cwnd_reduction.
    if (ctx.prrExit) this._cwnd = this._ssthresh;
    else this._cwnd = Math.min(this._ssthresh, Math.max(ctx.flightSize, ctx.mss) + ctx.mss);
    this.bytesAcked = 0;
  }

  adopt(cwnd: number, ssthresh: number): void {
    this._cwnd = cwnd;
    this._ssthresh = ssthresh;
  }

  onUndo(priorCwnd: number, priorSsthresh: number): void {
    this._cwnd = Math.max(this._cwnd, priorCwnd);
    if (priorSsthresh > this._ssthresh) this._ssthresh = priorSsthresh;
    this.bytesAcked = 0;
    this.rtoPending = false;
  }

  /**
   * RFC 5681 §3.1 (4) and, on repeated timeouts: "when a TCP sender detects
   * segment loss using the retransmission timer and the given segment has already
   * been retransmitted by way of the retransmission timer at least once, the value
   * of ssthresh is held constant." An RTO with no new ACK since the previous RTO
   * counts as such a repeat.
   */
  onRto(ctx: CongestionContext): void {
    if (!this.rtoPending) this._ssthresh = this.lossThreshold(ctx, true);
    this.rtoPending = true;
    this._cwnd = ctx.mss;
    this.bytesAcked = 0;
  }

  /**
   * RFC 5681 §4.1: "if the TCP has not sent data in an interval exceeding the
   * retransmission timeout ... cwnd is reduced to no more than RW before
   * transmission begins", RW = min(IW, cwnd). The caller checks idleFor > RTO.
   * Linux (tcp_cwnd_restart) and FreeBSD (newreno_after_idle) first remember the window in
   * ssthresh, max(ssthresh, 3/4 cwnd) (RFC 2861 §3), so slow start climbs back to it. With
   * `halveEvery` (Linux), cwnd is halved for every RTO of idle time begun beyond the first,
   * never below RW: "while ((delta -= icsk_rto) > 0 && cwnd > restart_cwnd) cwnd >>= 1".
   */
  onIdle(ctx: CongestionContext, idleFor: Duration, halveEvery?: Duration): void {
    const rw = Math.min(initialWindow(ctx.mss), this._cwnd);
    if (ctx.caState === undefined || ctx.caState === 'open')
      this._ssthresh = Math.max(this._ssthresh, Math.floor((this._cwnd * 3) / 4));
    let cwnd = this._cwnd;
    if (halveEvery !== undefined && halveEvery > 0) {
      // Bounded: a window halves to the restart window within 32 steps.
      for (let d = idleFor - halveEvery, i = 0; d > 0 && cwnd > rw && i < 32; d -= halveEvery, i++) cwnd /= 2;
    } else cwnd = rw;
    this._cwnd = Math.max(Math.floor(cwnd), rw);
    this.bytesAcked = 0;
  }
}
