/**
 * BBR congestion control, version 1, as Linux ships it (net/ipv4/tcp_bbr.c; the model in
 * draft-cardwell-iccrg-bbr-congestion-control-00). BBR does not read loss as congestion: it
 * measures the bottleneck bandwidth (the windowed maximum of the delivery-rate samples over 10
 * round trips, rate.ts) and the round-trip propagation delay (the minimum RTT over 10 s), paces
 * at gain × bandwidth and caps the data in flight at cwnd_gain × BDP.
 *
 * Modes: STARTUP (gain 2/ln 2 until the bandwidth stops growing by 25 % for three rounds), DRAIN
 * (the inverse gain until the queue STARTUP built is gone), PROBE_BW (the eight-phase pacing
 * gain cycle 5/4, 3/4, 1 × 6, entered at a random phase other than 3/4), PROBE_RTT (every 10 s
 * without a new minimum: cwnd 4 segments for max(200 ms, one round) to measure the bare RTT).
 *
 * Windows and bandwidth are in bytes here (Linux counts packets: its constants in packets are
 * multiplied by the MSS). The connection calls onRateSample on every ACK that delivers data
 * (Linux's cong_control hook); the other hooks only record the state changes Linux's
 * bbr_set_state, bbr_ssthresh and bbr_undo_cwnd see.
 *
 * Deviation: Linux's long-term bandwidth sampling for token-bucket policers (lt_bw, off by
 * default in effect until losses look like a policer) and the ACK-aggregation allowance
 * (extra_acked) are not modelled; cwnd is 2 × BDP plus the TSO quantum as without them.
 */
import { WindowedMax } from './minmax.ts';
import {
  type CongestionContext,
  type CongestionControl,
  INITIAL_SSTHRESH,
  initialWindow,
  type RateSample,
} from './types.ts';

export type BbrMode = 'startup' | 'drain' | 'probe_bw' | 'probe_rtt';

/** bbr_high_gain: 2/ln(2), the smallest gain that doubles the delivery rate each round. */
export const BBR_HIGH_GAIN = 2885 / 1000;
/** bbr_drain_gain: the inverse, to drain the queue STARTUP built in about one round. */
export const BBR_DRAIN_GAIN = 1000 / 2885;
/** bbr_cwnd_gain: cwnd = 2 × BDP in PROBE_BW (room for delayed and stretched ACKs). */
export const BBR_CWND_GAIN = 2;
/** bbr_pacing_gain: the PROBE_BW cycle: probe up, drain the probe's queue, cruise six phases. */
export const BBR_PACING_GAIN: readonly number[] = [5 / 4, 3 / 4, 1, 1, 1, 1, 1, 1];
const CYCLE_LEN = BBR_PACING_GAIN.length;
/** bbr_bw_rtts: the bandwidth filter's window, in round trips. */
export const BBR_BW_RTTS = CYCLE_LEN + 2;
/** bbr_min_rtt_win_sec: the min RTT filter's window. */
export const BBR_MIN_RTT_WIN_US = 10_000_000;
/** bbr_probe_rtt_mode_ms: how long PROBE_RTT holds the small window. */
export const BBR_PROBE_RTT_MODE_US = 200_000;
/** bbr_cwnd_min_target: 4 segments, enough for delayed ACKs to keep flowing. */
export const BBR_CWND_MIN_SEGS = 4;
/** bbr_full_bw_thresh / bbr_full_bw_cnt: the pipe is full after 3 rounds without 25 % growth. */
const FULL_BW_THRESH = 5 / 4;
const FULL_BW_CNT = 3;
/** bbr_pacing_margin_percent: pace 1 % below the estimate so the bottleneck queue stays empty. */
const PACING_MARGIN = 0.99;
/** TCP_INIT_CWND in segments. */
const INIT_CWND_SEGS = 10;
/** bbr_min_tso_rate: below 1.2 Mbit/s one segment per burst, else at least two. */
const MIN_TSO_RATE = 1_200_000 / 8;

/** A random integer in [0, n) (the stack's seeded Rng). */
export type RandomBelow = (n: number) => number;

export class Bbr implements CongestionControl {
  readonly name: string = 'bbr';
  readonly ownsWindow = true;
  #cwnd: number;
  #ssthresh = INITIAL_SSTHRESH;
  #mss: number;
  #rand: RandomBelow;

  #mode: BbrMode = 'startup';
  /** Max filter of delivery rate, bytes/µs, over BBR_BW_RTTS rounds. */
  #bw = new WindowedMax();
  /** Round trips counted (rtt_cnt) and the delivered count that ends the current one. */
  #rttCnt = 0;
  #nextRttDelivered = 0;
  #roundStart = false;
  #minRttUs = Number.POSITIVE_INFINITY;
  #minRttStamp = 0;
  #probeRttDoneStamp = -1;
  #probeRttRoundDone = false;
  #packetConservation = false;
  #prevCaState: 'open' | 'recovery' | 'loss' = 'open';
  #idleRestart = false;
  #priorCwnd = 0;
  #fullBw = 0;
  #fullBwCnt = 0;
  #fullBwReached = false;
  #cycleIdx = 0;
  #cycleStamp = 0;
  #pacingGain = BBR_HIGH_GAIN;
  #cwndGain = BBR_HIGH_GAIN;
  #pacingRate = 0;
  #hasSeenRtt = false;
  #started = false;

  constructor(mss: number, opts: { random?: RandomBelow } = {}) {
    if (!(mss > 0)) throw new RangeError(`congestion control: bad mss ${mss}`);
    this.#mss = mss;
    this.#cwnd = initialWindow(mss);
    this.#rand = opts.random ?? ((n) => n - 1);
  }

  setInitialMss(mss: number): void {
    this.#mss = mss;
    this.#cwnd = initialWindow(mss);
  }
  get cwnd(): number {
    return Math.floor(this.#cwnd);
  }
  get ssthresh(): number {
    return this.#ssthresh;
  }
  get pacingRate(): number {
    return this.#pacingRate;
  }
  /**
   * Segments per paced burst (Linux bbr_tso_segs_goal: about 1 ms of data at the pacing rate,
   * sk_pacing_shift 10; at least two segments above 1.2 Mbit/s; at most 127).
   */
  get pacingBurst(): number {
    const min = this.#pacingRate < MIN_TSO_RATE ? 1 : 2;
    return Math.min(127, Math.max(min, Math.floor(this.#pacingRate / 1024 / this.#mss)));
  }
  /** PROBE_RTT holds the sender below the bandwidth on purpose: its samples are application-limited. */
  get holdsRate(): boolean {
    return this.#mode === 'probe_rtt';
  }

  /** Diagnostics for tests and benches. */
  get state(): {
    mode: BbrMode;
    bw: number;
    minRttUs: number;
    rounds: number;
    fullBwReached: boolean;
    cycleIdx: number;
    pacingGain: number;
    cwndGain: number;
  } {
    return {
      mode: this.#mode,
      bw: this.#bw.value,
      minRttUs: this.#minRttUs,
      rounds: this.#rttCnt,
      fullBwReached: this.#fullBwReached,
      cycleIdx: this.#cycleIdx,
      pacingGain: this.#pacingGain,
      cwndGain: this.#cwndGain,
    };
  }

  /** bbr_init: the first pacing rate from the handshake's RTT. */
  init(ctx: CongestionContext): void {
    this.#start(ctx);
  }

  /** BBR grows the window from rate samples only (Linux never calls cong_avoid with cong_control). */
  onAck(_acked: number, ctx: CongestionContext): void {
    this.#start(ctx);
  }

  /** Linux bbr_ssthresh: remember the window (for the restore after recovery); ssthresh stays. */
  onEnterRecovery(ctx: CongestionContext): void {
    this.#start(ctx);
    this.#saveCwnd();
  }

  /** The window comes back on the next sample (bbr_set_cwnd_to_recover_or_restore). */
  onExitRecovery(_ctx: CongestionContext): void {}

  /**
   * Linux tcp_enter_loss with bbr_ssthresh and bbr_set_state(TCP_CA_Loss): the window is saved,
   * cwnd becomes one segment (all in flight is presumed lost), the full-bandwidth estimator
   * restarts, and the RTO counts as the end of a round.
   */
  onRto(ctx: CongestionContext): void {
    this.#start(ctx);
    this.#saveCwnd();
    this.#cwnd = ctx.mss;
    this.#prevCaState = 'loss';
    this.#fullBw = 0;
    this.#roundStart = true;
  }

  /**
   * Linux bbr_undo_cwnd: the pipe may not be full after all (the full-bandwidth estimator
   * restarts); the window itself stays, and the next sample in the open state restores the
   * saved one.
   */
  onUndo(_priorCwnd: number, _priorSsthresh: number): void {
    this.#fullBw = 0;
    this.#fullBwCnt = 0;
  }

  /** A live connection switched to BBR: its window carries over (STARTUP grows it from there). */
  adopt(cwnd: number, ssthresh: number): void {
    this.#cwnd = Math.max(cwnd, BBR_CWND_MIN_SEGS * this.#mss);
    this.#ssthresh = ssthresh;
  }

  // No onIdle: Linux's tcp_slow_start_after_idle_check skips tcp_cwnd_restart for a
  // controller with its own cong_control (BBR); onTxStart below handles the restart.

  /** Linux bbr_cwnd_event(CA_EVENT_TX_START) after an application-limited idle. */
  onTxStart(ctx: CongestionContext, appLimited: boolean): void {
    this.#start(ctx);
    if (!appLimited) return;
    this.#idleRestart = true;
    // Avoid pacing below the bandwidth after idle: resume at the estimate.
    if (this.#mode === 'probe_bw') this.#setPacingRate(this.#bwEst(), 1, ctx);
    else if (this.#mode === 'probe_rtt') this.#checkProbeRttDone(ctx);
  }

  /** Linux bbr_main: update the model from the sample, then pace and set cwnd from it. */
  onRateSample(rs: RateSample, ctx: CongestionContext): void {
    this.#start(ctx);
    this.#mss = ctx.mss;
    this.#updateBw(rs);
    this.#updateCyclePhase(rs, ctx);
    this.#checkFullBwReached(rs);
    this.#checkDrain(ctx);
    this.#updateMinRtt(rs, ctx);
    this.#updateGains();
    const bw = this.#bwEst();
    this.#setPacingRate(bw, this.#pacingGain, ctx);
    this.#setCwnd(rs, ctx, bw);
  }

  // ---- the model ----------------------------------------------------------

  /** bbr_init, on the first event: the min RTT filter starts now and the first pacing rate from the handshake RTT. */
  #start(ctx: CongestionContext): void {
    if (this.#started) return;
    this.#started = true;
    this.#minRttStamp = ctx.now;
    if (ctx.minRtt !== undefined && ctx.minRtt > 0) this.#minRttUs = ctx.minRtt;
    this.#initPacingRate(ctx);
  }

  /** The bandwidth estimate, bytes/µs. */
  #bwEst(): number {
    return this.#bw.value;
  }

  /** bbr_update_bw: rounds, then the max filter takes the sample (unless app-limited and lower). */
  #updateBw(rs: RateSample): void {
    this.#roundStart = false;
    if (rs.delivered < 0 || rs.intervalUs <= 0) return;
    // A round ends when a segment sent after the previous round's end is delivered.
    if (rs.priorDelivered >= this.#nextRttDelivered) {
      this.#nextRttDelivered = rs.deliveredTotal;
      this.#rttCnt++;
      this.#roundStart = true;
      this.#packetConservation = false;
    }
    const bw = rs.delivered / rs.intervalUs;
    // An application-limited sample says little about the bottleneck unless it is higher.
    if (!rs.isAppLimited || bw >= this.#bwEst()) this.#bw.update(BBR_BW_RTTS, this.#rttCnt, bw);
  }

  /** bbr_update_cycle_phase / bbr_is_next_cycle_phase. */
  #updateCyclePhase(rs: RateSample, ctx: CongestionContext): void {
    if (this.#mode !== 'probe_bw') return;
    const fullLength = rs.deliveredTs - this.#cycleStamp > this.#minRttUs;
    let next: boolean;
    const gain = this.#pacingGain;
    if (gain === 1) next = fullLength;
    else {
      const inflight = rs.priorInFlight;
      const bw = this.#bwEst();
      // Probing up: until the probe put gain × BDP in flight (or saw loss), at least one min RTT.
      if (gain > 1) next = fullLength && (rs.losses > 0 || inflight >= this.#inflight(bw, gain, ctx));
      // Draining: until the queue is gone, or one min RTT passed.
      else next = fullLength || inflight <= this.#inflight(bw, 1, ctx);
    }
    if (next) this.#advanceCycle(rs.deliveredTs);
  }

  #advanceCycle(now: number): void {
    this.#cycleIdx = (this.#cycleIdx + 1) % CYCLE_LEN;
    this.#cycleStamp = now;
  }

  /** bbr_check_full_bw_reached: three rounds without 25 % growth mean the pipe is full. */
  #checkFullBwReached(rs: RateSample): void {
    if (this.#fullBwReached || !this.#roundStart || rs.isAppLimited) return;
    const bw = this.#bwEst();
    if (bw >= this.#fullBw * FULL_BW_THRESH) {
      this.#fullBw = bw;
      this.#fullBwCnt = 0;
      return;
    }
    this.#fullBwReached = ++this.#fullBwCnt >= FULL_BW_CNT;
  }

  /** bbr_check_drain: STARTUP → DRAIN when full; DRAIN → PROBE_BW when inflight ≤ BDP. */
  #checkDrain(ctx: CongestionContext): void {
    const bw = this.#bwEst();
    if (this.#mode === 'startup' && this.#fullBwReached) {
      this.#mode = 'drain';
      // Linux reports the BDP as ssthresh from here on (tcpi_snd_ssthresh).
      this.#ssthresh = this.#inflight(bw, 1, ctx);
    }
    if (this.#mode === 'drain' && (ctx.inFlight ?? ctx.flightSize) <= this.#inflight(bw, 1, ctx))
      this.#resetProbeBw(ctx.now);
  }

  /** bbr_reset_probe_bw_mode: a random phase other than the 3/4 drain phase. */
  #resetProbeBw(now: number): void {
    this.#mode = 'probe_bw';
    this.#cycleIdx = CYCLE_LEN - 1 - this.#rand(CYCLE_LEN - 1);
    this.#advanceCycle(now);
  }

  #resetMode(now: number): void {
    if (!this.#fullBwReached) this.#mode = 'startup';
    else this.#resetProbeBw(now);
  }

  /** bbr_update_min_rtt: the 10 s min filter, and PROBE_RTT when it expires. */
  #updateMinRtt(rs: RateSample, ctx: CongestionContext): void {
    const now = ctx.now;
    const expired = now - this.#minRttStamp > BBR_MIN_RTT_WIN_US;
    if (rs.rttUs >= 0 && (rs.rttUs < this.#minRttUs || expired)) {
      this.#minRttUs = rs.rttUs;
      this.#minRttStamp = now;
    }
    if (expired && !this.#idleRestart && this.#mode !== 'probe_rtt') {
      this.#mode = 'probe_rtt';
      this.#saveCwnd();
      this.#probeRttDoneStamp = -1;
    }
    if (this.#mode === 'probe_rtt') {
      // Hold the flight at 4 segments for max(200 ms, one round).
      const inFlight = ctx.inFlight ?? ctx.flightSize;
      if (this.#probeRttDoneStamp < 0 && inFlight <= BBR_CWND_MIN_SEGS * ctx.mss) {
        this.#probeRttDoneStamp = now + BBR_PROBE_RTT_MODE_US;
        this.#probeRttRoundDone = false;
        this.#nextRttDelivered = rs.deliveredTotal;
      } else if (this.#probeRttDoneStamp >= 0) {
        if (this.#roundStart) this.#probeRttRoundDone = true;
        if (this.#probeRttRoundDone) this.#checkProbeRttDone(ctx);
      }
    }
    // Restart after idle ends once new data is delivered.
    if (rs.delivered > 0) this.#idleRestart = false;
  }

  /** bbr_check_probe_rtt_done: back to the saved window and the previous mode. */
  #checkProbeRttDone(ctx: CongestionContext): void {
    if (!(this.#probeRttDoneStamp >= 0 && ctx.now > this.#probeRttDoneStamp)) return;
    this.#minRttStamp = ctx.now; // wait a while until the next PROBE_RTT
    this.#cwnd = Math.max(this.#cwnd, this.#priorCwnd);
    this.#resetMode(ctx.now);
  }

  /** bbr_update_gains. */
  #updateGains(): void {
    switch (this.#mode) {
      case 'startup':
        this.#pacingGain = BBR_HIGH_GAIN;
        this.#cwndGain = BBR_HIGH_GAIN;
        break;
      case 'drain':
        this.#pacingGain = BBR_DRAIN_GAIN;
        this.#cwndGain = BBR_HIGH_GAIN;
        break;
      case 'probe_bw':
        this.#pacingGain = BBR_PACING_GAIN[this.#cycleIdx]!;
        this.#cwndGain = BBR_CWND_GAIN;
        break;
      case 'probe_rtt':
        this.#pacingGain = 1;
        this.#cwndGain = 1;
        break;
    }
  }

  // ---- pacing and cwnd ------------------------------------------------------

  /** bbr_bw_to_pacing_rate: bytes/s, 1 % below gain × bw. */
  #rateFor(bw: number, gain: number): number {
    return bw * gain * 1e6 * PACING_MARGIN;
  }

  /** bbr_init_pacing_rate_from_rtt: high_gain × cwnd / SRTT (1 ms before any RTT). */
  #initPacingRate(ctx: CongestionContext): void {
    let rttUs = 1000;
    if (ctx.rtt !== undefined && ctx.rtt > 0) {
      rttUs = ctx.rtt;
      this.#hasSeenRtt = true;
    }
    this.#pacingRate = this.#rateFor(this.#cwnd / rttUs, BBR_HIGH_GAIN);
  }

  /** bbr_set_pacing_rate: only ever lowered once the pipe is full. */
  #setPacingRate(bw: number, gain: number, ctx: CongestionContext): void {
    const rate = this.#rateFor(bw, gain);
    if (!this.#hasSeenRtt && ctx.rtt !== undefined && ctx.rtt > 0) this.#initPacingRate(ctx);
    if (this.#fullBwReached || rate > this.#pacingRate) this.#pacingRate = rate;
  }

  /** bbr_bdp in segments: gain × bw × min_rtt, rounded up (the initial window before any RTT). */
  #bdpSegs(bw: number, gain: number, mss: number): number {
    if (this.#minRttUs === Number.POSITIVE_INFINITY) return INIT_CWND_SEGS;
    return Math.ceil((bw * this.#minRttUs * gain) / mss);
  }

  /** bbr_quantization_budget: room for three TSO bursts, an even count, +2 in the probing phase. */
  #quantize(segs: number): number {
    segs += 3 * this.pacingBurst;
    segs = (segs + 1) & ~1;
    if (this.#mode === 'probe_bw' && this.#cycleIdx === 0) segs += 2;
    return segs;
  }

  /** bbr_inflight: the target flight for `gain`, bytes. */
  #inflight(bw: number, gain: number, ctx: CongestionContext): number {
    return this.#quantize(this.#bdpSegs(bw, gain, ctx.mss)) * ctx.mss;
  }

  #saveCwnd(): void {
    if (this.#prevCaState === 'open' && this.#mode !== 'probe_rtt') this.#priorCwnd = this.#cwnd;
    else this.#priorCwnd = Math.max(this.#priorCwnd, this.#cwnd);
  }

  /** bbr_set_cwnd with bbr_set_cwnd_to_recover_or_restore. */
  #setCwnd(rs: RateSample, ctx: CongestionContext, bw: number): void {
    const mss = ctx.mss;
    const acked = rs.ackedSacked;
    const inFlight = ctx.inFlight ?? ctx.flightSize;
    let cwnd = this.#cwnd;
    if (acked > 0) {
      let done = false;
      // Losses shrink the window at once; recovery starts with packet conservation for a round.
      if (rs.losses > 0) cwnd = Math.max(cwnd - rs.losses, mss);
      const state = ctx.caState ?? 'open';
      const prev = this.#prevCaState;
      if (state === 'recovery' && prev !== 'recovery') {
        this.#packetConservation = true;
        this.#nextRttDelivered = rs.deliveredTotal; // start a round now
        cwnd = inFlight + acked;
      } else if (prev !== 'open' && state === 'open') {
        cwnd = Math.max(cwnd, this.#priorCwnd);
        this.#packetConservation = false;
      }
      this.#prevCaState = state;
      if (this.#packetConservation) {
        cwnd = Math.max(cwnd, inFlight + acked);
        done = true;
      }
      if (!done) {
        const target = this.#quantize(this.#bdpSegs(bw, this.#cwndGain, mss)) * mss;
        if (this.#fullBwReached) cwnd = Math.min(cwnd + acked, target);
        else if (cwnd < target || rs.deliveredTotal < INIT_CWND_SEGS * mss) cwnd += acked;
        cwnd = Math.max(cwnd, BBR_CWND_MIN_SEGS * mss);
      }
    }
    this.#cwnd = cwnd;
    if (this.#mode === 'probe_rtt') this.#cwnd = Math.min(this.#cwnd, BBR_CWND_MIN_SEGS * mss);
  }
}
