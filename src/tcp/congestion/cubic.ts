/**
 * CUBIC congestion control, RFC 9438. Windows in the formulas are in segments
 * (cwnd / SMSS) and time in seconds, as in the RFC; cwnd is kept in bytes.
 *
 * Slow start, recovery exit and idle restart are NewReno's (RFC 9438 §4.10:
 * "CUBIC MUST employ a slow-start algorithm"; we use RFC 5681 slow start with ABC).
 */
import type { Duration, Instant } from '../../time/instant.ts';
import { HystartPlusPlus, LinuxHystart, type SlowStartAck, type SlowStartExit } from './hystart.ts';
import { NewReno } from './newreno.ts';
import type { CongestionContext } from './types.ts';

/** RFC 9438 §4.6: β_cubic SHOULD be set to 0.7. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §5: C SHOULD be set to 0.4. */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.3: α_cubic = 3 * (1 - β_cubic) / (1 + β_cubic). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 eq. 2: K = cubic_root((W_max - cwnd_epoch) / C), in seconds. */
export function cubicK(wMax: number, cwndEpoch: number, c = CUBIC_C): number {
  return Math.cbrt(Math.max(0, wMax - cwndEpoch) / c);
}

/** RFC 9438 eq. 1: W_cubic(t) = C * (t - K)^3 + W_max (segments, t in seconds). */
export function wCubic(t: number, k: number, wMax: number, c = CUBIC_C): number {
  const d = t - k;
  return c * d * d * d + wMax;
}

export class Cubic extends NewReno {
  override readonly name: string = 'cubic';
  readonly fastConvergence: boolean;
  /**
   * Linux's growth floor (tcp_cubic.c bictcp_update: "if (ca->last_max_cwnd == 0 && ca->cnt >
   * 20) ca->cnt = 20"): with no W_max yet (no loss so far, or an RTO cleared it) cwnd grows by
   * at least 1/20 of itself per RTT. On with Linux's HyStart (the Linux profile).
   */
  readonly growthFloor: boolean;
  /** W_max in segments; undefined until the first congestion event (or after an RTO, RFC 9438 §4.8). */
  #wMax: number | undefined;
  /** cwnd_prior (segments): cwnd just before the last reduction. */
  #cwndPrior = 0;
  /** Start of the current congestion-avoidance stage, undefined outside one. */
  #tEpoch: Instant | undefined;
  #k = 0;
  #epochWMax = 0;
  /** W_est (segments), RFC 9438 §4.3. */
  #wEst = 0;

  /** The early slow-start exit in use (hystart.ts): Linux's HyStart by default. */
  readonly slowStartExit: SlowStartExit;
  /**
   * Linux's HyStart state, made at the first slow-start ACK it looks at (a connection that
   * never sends holds none; bench/idle.ts). Until then it is as new: nothing to restart.
   */
  hystart: LinuxHystart | undefined = undefined;
  readonly hystartPP: HystartPlusPlus | undefined;
  /**
   * FreeBSD cc_cubic (cubic_ssthresh_update): the first congestion event halves, ssthresh =
   * cwnd / 2 with W_max = β_cubic·cwnd, "to align the cubic concave region"; later ones use β.
   */
  readonly firstHalves: boolean;
  /** A congestion event has happened (FreeBSD's CUBICFLAG_CONG_EVENT); #halving: this one halves. */
  #congested = false;
  #halving = false;

  constructor(
    mss: number,
    opts: {
      fastConvergence?: boolean;
      slowStartExit?: SlowStartExit;
      abcLimit?: number;
      cubicFirstHalves?: boolean;
      growthFloor?: boolean;
    } = {},
  ) {
    super(mss, opts);
    this.fastConvergence = opts.fastConvergence ?? true;
    this.firstHalves = opts.cubicFirstHalves ?? false;
    this.slowStartExit = opts.slowStartExit ?? 'linux-hystart';
    this.growthFloor = opts.growthFloor ?? this.slowStartExit === 'linux-hystart';
    this.hystartPP = this.slowStartExit === 'rfc9406-hystart++' ? new HystartPlusPlus() : undefined;
  }

  /**
   * Slow start looks for its end before a loss shows it (Linux bictcp_acked → hystart_update,
   * RFC 9406 §4.2): when the detector fires, ssthresh = cwnd and congestion avoidance begins.
   */
  override onAck(acked: number, ctx: CongestionContext): void {
    const exitRule = this.slowStartExit;
    if (acked > 0 && this._cwnd < this._ssthresh && exitRule !== 'none') {
      const a: SlowStartAck = {
        now: ctx.now,
        rtt: ctx.ackRtt,
        una: ctx.una ?? 0,
        sndNxt: ctx.sndNxt ?? 0,
        cwndSegs: this._cwnd / ctx.mss,
        pacingRate: pacingRate(this._cwnd, this._ssthresh, ctx),
      };
      const exit =
        exitRule === 'linux-hystart'
          ? (this.hystart ??= new LinuxHystart()).onAck(a, false)
          : this.hystartPP!.onAck(a);
      if (exit) this._ssthresh = Math.max(Math.floor(this._cwnd), 2 * ctx.mss);
    }
    super.onAck(acked, ctx);
  }

  /** RFC 9406 §4.2 Conservative Slow Start: the growth is divided by CSS_GROWTH_DIVISOR. */
  protected override slowStart(acked: number, mss: number, ackSegs = 0): number {
    const div = this.hystartPP?.growthDivisor ?? 1;
    if (div === 1) return super.slowStart(acked, mss, ackSegs);
    const limit = Math.max(this.abcLimit, ackSegs) * mss;
    this._cwnd = Math.min(this._ssthresh, this._cwnd + Math.min(acked, limit) / div);
    return 0;
  }

  /** Diagnostics for tests and TcpInfo: the current epoch's K (s) and W_max (segments). */
  get state(): { k: number; wMax: number | undefined; epochStart: Instant | undefined; wEst: number } {
    return { k: this.#k, wMax: this.#wMax, epochStart: this.#tEpoch, wEst: this.#wEst };
  }

  protected override congestionAvoidance(acked: number, ctx: CongestionContext): void {
    const mss = ctx.mss;
    const segs = acked / mss;
    let cwnd = this._cwnd / mss;
    if (this.#tEpoch === undefined) {
      // RFC 9438 §4.2: a new congestion-avoidance stage begins.
      this.#tEpoch = ctx.now;
      if (this.#wMax === undefined || this.#wMax < cwnd) {
        // §4.8/§4.10: no congestion event yet (or after an RTO): K = 0, W_max = cwnd at the
        // beginning of this congestion-avoidance stage.
        this.#epochWMax = cwnd;
        this.#k = 0;
      } else {
        this.#epochWMax = this.#wMax;
        this.#k = cubicK(this.#wMax, cwnd);
      }
      // §4.3: "W_est ... set equal to cwnd_epoch at the start of the congestion avoidance stage".
      this.#wEst = cwnd;
      if (this.#cwndPrior === 0) this.#cwndPrior = cwnd;
    }
    const t = (ctx.now - this.#tEpoch) / 1e6;
    const rtt = (ctx.rtt ?? ctx.minRtt ?? 0) / 1e6;

    // §4.3 Reno-friendly region: W_est += α * segments_acked / cwnd, α = 1 once W_est >= cwnd_prior.
    const alpha = this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA;
    this.#wEst += (alpha * segs) / cwnd;

    const wNow = wCubic(t, this.#k, this.#epochWMax);
    // Deviation (Linux, growthFloor): before any W_max, at least cwnd / 20 per RTT.
    const floor = this.growthFloor && this.#wMax === undefined ? cwnd + segs / 20 : 0;
    let target = wCubic(t + rtt, this.#k, this.#epochWMax);
    if (this.slowStartExit === 'linux-hystart') {
      // Deviation (Linux bictcp_update, the Linux profile): whole packets. The offset from the
      // origin, C·(t - K)³, is truncated (bic_target = origin_point ∓ delta): below W_max the
      // target is the curve rounded up. cwnd grows by one per cnt = cwnd / (target - cwnd)
      // packets ACKed (integer division, at least 2); the Reno-friendly estimate can only
      // speed that up (tcp_friendliness), where RFC 9438 §4.3 follows W_est alone below it.
      // (W_est keeps RFC 9438's α = 1 from cwnd_prior on, which tcp_cubic does not have.)
      const w = Math.floor(cwnd) || 1;
      target = this.#epochWMax + Math.trunc(target - this.#epochWMax);
      cwnd = Math.max(
        cwnd + segs / (target > w ? Math.max(2, Math.floor(w / (target - w))) : 100 * w),
        this.#wEst,
      );
    } else if (wNow < this.#wEst) {
      // "If W_cubic(t) is less than W_est, then ... cwnd SHOULD be set to W_est at each reception of a new ACK."
      cwnd = Math.max(cwnd, this.#wEst);
    } else {
      // §4.4/§4.5 concave and convex regions: target = W_cubic(t + RTT), clamped to [cwnd, 1.5*cwnd];
      // cwnd grows by (target - cwnd) / cwnd for each SMSS acknowledged.
      if (target < cwnd) target = cwnd;
      else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
      cwnd += ((target - cwnd) / cwnd) * segs;
    }
    this._cwnd = Math.max(cwnd, floor) * mss;
  }

  /** RFC 9438 §4.6 multiplicative decrease with §4.7 fast convergence. */
  #reduce(ctx: CongestionContext): void {
    const cwnd = this._cwnd / ctx.mss;
    this.#congestionEvent();
    // §4.7: "if (cwnd < W_max and fast convergence enabled) W_max = cwnd * (1 + β_cubic) / 2 else W_max = cwnd".
    if (this.#halving) this.#wMax = cwnd * CUBIC_BETA;
    else if (this.fastConvergence && this.#wMax !== undefined && cwnd < this.#wMax)
      this.#wMax = (cwnd * (1 + CUBIC_BETA)) / 2;
    else this.#wMax = cwnd;
    this.#cwndPrior = cwnd;
    this.#tEpoch = undefined;
  }

  #congestionEvent(): void {
    this.#halving = this.firstHalves && !this.#congested;
    this.#congested = true;
  }

  /**
   * §4.6 multiplicative decrease, at least 2*SMSS (FreeBSD's first event: half). The RFC's
   * `ssthresh = flight_size * β_cubic` allows cwnd "instead of flight_size" where cwnd cannot
   * grow beyond what is in flight; Linux (bictcp_recalc_ssthresh) and FreeBSD
   * (cubic_ssthresh_update) take cwnd, and the connection grows it only while it is used
   * (sender.ts, Linux tcp_is_cwnd_limited). The flight at the moment a loss is found is often
   * well below the window the loss happened in: the ACK that shows it may cover many
   * segments (a retransmission filling a hole), or the previous recovery's PRR left it short.
   * Linux counts packets ((snd_cwnd * beta) / BICTCP_BETA_SCALE): whole segments with its
   * HyStart (the Linux profile); FreeBSD counts bytes.
   */
  protected override lossThreshold(ctx: CongestionContext): number {
    const b = this.#halving ? 0.5 : CUBIC_BETA;
    if (this.slowStartExit !== 'linux-hystart') return Math.max(Math.floor(this._cwnd * b), 2 * ctx.mss);
    const seg = ctx.segBytes ?? ctx.mss;
    return Math.max(Math.floor((this._cwnd / seg) * b) * seg, 2 * ctx.mss);
  }

  override onEnterRecovery(ctx: CongestionContext): void {
    // RFC 9406 §4.2: a loss or ECN mark ends HyStart++ (only the first slow start uses it).
    this.hystartPP?.stop();
    this.#reduce(ctx);
    super.onEnterRecovery(ctx);
  }

  /** An undone reduction: the window comes back and a new epoch starts from it. */
  override onUndo(priorCwnd: number, priorSsthresh: number): void {
    super.onUndo(priorCwnd, priorSsthresh);
    this.#tEpoch = undefined;
  }

  override onExitRecovery(ctx: CongestionContext): void {
    super.onExitRecovery(ctx);
    this.#tEpoch = undefined;
  }

  /**
   * §4.8: on an RTO CUBIC "follows Reno to reduce cwnd but sets ssthresh using
   * β_cubic"; in the next congestion-avoidance stage K = 0 and W_max = cwnd at its start.
   */
  override onRto(ctx: CongestionContext): void {
    if (!this.rtoPending) {
      this.#cwndPrior = this._cwnd / ctx.mss;
      this.#congestionEvent();
    }
    this.#wMax = undefined;
    this.#tEpoch = undefined;
    // Linux cubictcp_state(TCP_CA_Loss): HyStart runs again in the slow start that follows.
    // RFC 9406 §4.3: HyStart++ only in the initial slow start.
    this.hystart?.restart();
    this.hystartPP?.stop();
    super.onRto(ctx);
  }

  /**
   * Sending resumes after the flight drained (Linux cubictcp_cwnd_event CA_EVENT_TX_START):
   * the epoch moves forward by the idle time, so W_cubic(t) does not count the time the
   * application sent nothing (RFC 9438 §5.8: cwnd must not grow from an idle period).
   */
  onTxStart(ctx: CongestionContext, _appLimited: boolean): void {
    if (this.#tEpoch === undefined || ctx.lastSend === undefined) return;
    const delta = ctx.now - ctx.lastSend;
    if (delta > 0) this.#tEpoch = Math.min(ctx.now, this.#tEpoch + delta);
  }

  override onIdle(ctx: CongestionContext, idleFor: Duration, halveEvery?: Duration): void {
    super.onIdle(ctx, idleFor, halveEvery);
    // Start a fresh epoch so the cubic function does not jump by the idle time
    // (like Linux, which moves epoch_start forward after idle).
    this.#tEpoch = undefined;
  }
}

/**
 * The rate Linux computes for the flow whether or not it paces (tcp_update_pacing_rate):
 * max(cwnd, flight) per smoothed RTT, times 2 in slow start below half of ssthresh, else 1.2
 * (tcp_pacing_ss_ratio, tcp_pacing_ca_ratio); bytes per second, 0 without an RTT.
 */
function pacingRate(cwnd: number, ssthresh: number, ctx: CongestionContext): number {
  const srtt = ctx.rtt;
  if (srtt === undefined || srtt <= 0) return 0;
  const ratio = cwnd < ssthresh / 2 ? 2 : 1.2;
  return (ratio * Math.max(cwnd, ctx.inFlight ?? ctx.flightSize) * 1e6) / srtt;
}
