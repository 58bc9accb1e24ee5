/**
 * Leaving slow start before the first loss: the two detectors CUBIC stacks use.
 *
 * - 'linux-hystart': Linux tcp_cubic.c's HyStart (Ha and Rhee), on by default (hystart = 1,
 *   hystart_detect = 3): once cwnd reaches 16 segments, slow start ends (ssthresh = cwnd) when
 *   a train of closely spaced ACKs (each within 2 ms of the previous) has lasted half the
 *   minimum RTT since the round began, or when the smallest RTT of the round (once it has
 *   eight samples) exceeds the minimum RTT by clamp(min_rtt / 8, 4 ms, 16 ms).
 * - 'rfc9406-hystart++': RFC 9406 HyStart++: the per-round minimum RTT rising by
 *   clamp(lastRoundMinRTT / 8, 4 ms, 16 ms) moves slow start into Conservative Slow Start
 *   (growth divided by CSS_GROWTH_DIVISOR); CSS_ROUNDS rounds of CSS end slow start
 *   (ssthresh = cwnd), and an RTT falling back below the CSS baseline resumes slow start.
 *
 * Times in µs; sequence positions as 32-bit numbers. Each ACK supplies its RTT sample (the
 * newest segment it acknowledged), SND.UNA and SND.NXT.
 */
import type { Instant } from '../../time/instant.ts';

export type SlowStartExit = 'linux-hystart' | 'rfc9406-hystart++' | 'none';

/** What a detector needs of one ACK in slow start. */
export interface SlowStartAck {
  now: Instant;
  /** This ACK's RTT sample, µs (undefined: none). */
  rtt: number | undefined;
  una: number;
  sndNxt: number;
  /** cwnd in segments. */
  cwndSegs: number;
  /** The rate Linux would pace at (sk_pacing_rate), bytes per second; 0: none yet. */
  pacingRate?: number;
}

/** a - b in sequence space (RFC 9293 modular arithmetic). */
function seqAfter(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** tcp_cubic.c constants. */
export const HYSTART_LOW_WINDOW = 16;
export const HYSTART_ACK_DELTA_US = 2000;
export const HYSTART_MIN_SAMPLES = 8;
export const HYSTART_DELAY_MIN_US = 4000;
export const HYSTART_DELAY_MAX_US = 16000;

const clampDelay = (x: number) => Math.min(Math.max(x, HYSTART_DELAY_MIN_US), HYSTART_DELAY_MAX_US);

/** Linux's sk_gso_max_size on a route that can segment (GSO_LEGACY_MAX_SIZE). */
const GSO_MAX_SIZE = 65536;

/**
 * Linux hystart_ack_delay (tcp_cubic.c, since 5.7): slack for the delay TSO and GRO add to an
 * ACK train, four 64 KiB bursts at the pacing rate, at most 1 ms. Without it a flow with a
 * short RTT leaves slow start with too small a window once its bursts grow.
 */
export function hystartAckDelay(pacingRate: number | undefined): number {
  if (!pacingRate) return 0;
  return Math.min(1000, (GSO_MAX_SIZE * 4 * 1e6) / pacingRate);
}

/** Linux's HyStart. `onAck` returns true when slow start should end now (the caller sets ssthresh = cwnd). */
export class LinuxHystart {
  found = false;
  /** ca->delay_min: the smallest RTT seen, µs (0: none). */
  delayMin = 0;
  #roundStart = 0;
  #lastAck = 0;
  #endSeq = 0;
  #currRtt = Number.POSITIVE_INFINITY;
  #sampleCnt = 0;
  #armed = false;
  /** Which rule fired, for tests and TCP_INFO-style diagnostics. */
  reason: 'ack-train' | 'delay' | undefined;

  /** bictcp_hystart_reset: a new round starts at `now`, ending when SND.NXT is acknowledged. */
  reset(now: Instant, sndNxt: number): void {
    this.#roundStart = now;
    this.#lastAck = now;
    this.#endSeq = sndNxt;
    this.#currRtt = Number.POSITIVE_INFINITY;
    this.#sampleCnt = 0;
    this.#armed = true;
  }

  /** bictcp_reset on an RTO (Linux cubictcp_state TCP_CA_Loss): HyStart runs again. */
  restart(): void {
    this.found = false;
    this.reason = undefined;
    this.#armed = false;
  }

  /** bictcp_acked with hystart_update. `quiet`: within 1 s after a recovery (samples discarded). */
  onAck(a: SlowStartAck, quiet: boolean): boolean {
    if (a.rtt === undefined || quiet) return false;
    const delay = Math.max(1, a.rtt);
    if (this.delayMin === 0 || this.delayMin > delay) this.delayMin = delay;
    if (this.found || a.cwndSegs < HYSTART_LOW_WINDOW) return false;
    if (!this.#armed || seqAfter(a.una, this.#endSeq)) this.reset(a.now, a.sndNxt);
    // ACK train: ACKs arriving back to back for (delay_min + hystart_ack_delay) / 2 mean the
    // pipe is full (Linux halves the threshold when the flow is not paced; ours is not, in
    // slow start).
    if (a.now - this.#lastAck <= HYSTART_ACK_DELTA_US) {
      this.#lastAck = a.now;
      if (a.now - this.#roundStart > (this.delayMin + hystartAckDelay(a.pacingRate)) / 2) {
        this.found = true;
        this.reason = 'ack-train';
        return true;
      }
    }
    // Delay increase: the smallest RTT of the round so far, once it holds eight samples, against
    // delay_min. Every sample lowers it (Linux since 5.8, "tcp_cubic: fix spurious HYSTART_DELAY
    // exit upon drop in min RTT"), so a burst of late ACKs at a round's start is not enough.
    if (this.#currRtt > delay) this.#currRtt = delay;
    if (this.#sampleCnt < HYSTART_MIN_SAMPLES) this.#sampleCnt++;
    else if (this.#currRtt > this.delayMin + clampDelay(this.delayMin / 8)) {
      this.found = true;
      this.reason = 'delay';
      return true;
    }
    return false;
  }
}

/** RFC 9406 §4.3 constants. */
export const HSPP_MIN_RTT_THRESH_US = 4000;
export const HSPP_MAX_RTT_THRESH_US = 16000;
export const HSPP_MIN_RTT_DIVISOR = 8;
export const HSPP_N_RTT_SAMPLE = 8;
export const HSPP_CSS_GROWTH_DIVISOR = 4;
export const HSPP_CSS_ROUNDS = 5;

/** RFC 9406 HyStart++. */
export class HystartPlusPlus {
  /** 'ss': standard slow start; 'css': conservative slow start; 'done': left for congestion avoidance (or a loss). */
  phase: 'ss' | 'css' | 'done' = 'ss';
  #windowEnd: number | undefined;
  #lastRoundMinRtt = Number.POSITIVE_INFINITY;
  #currentRoundMinRtt = Number.POSITIVE_INFINITY;
  #rttSampleCount = 0;
  #cssBaselineMinRtt = Number.POSITIVE_INFINITY;
  #cssRounds = 0;

  /** The growth divisor for this phase (§4.2: cwnd += min(N, L × SMSS) / CSS_GROWTH_DIVISOR in CSS). */
  get growthDivisor(): number {
    return this.phase === 'css' ? HSPP_CSS_GROWTH_DIVISOR : 1;
  }

  /** §4.2: "If loss or ECN-marking is observed anytime during standard slow start or CSS ... enters congestion avoidance". */
  stop(): void {
    this.phase = 'done';
  }

  /** Returns true when slow start should end now (ssthresh = cwnd, §4.2 after CSS_ROUNDS rounds). */
  onAck(a: SlowStartAck): boolean {
    if (this.phase === 'done') return false;
    // "At the start of each round during standard slow start and CSS": the round ends when
    // the ACK passes windowEnd.
    let roundStart = false;
    if (this.#windowEnd === undefined || !seqAfter(this.#windowEnd, a.una)) {
      roundStart = this.#windowEnd !== undefined;
      this.#lastRoundMinRtt = this.#currentRoundMinRtt;
      this.#currentRoundMinRtt = Number.POSITIVE_INFINITY;
      this.#rttSampleCount = 0;
      this.#windowEnd = a.sndNxt;
    }
    if (a.rtt !== undefined) {
      this.#currentRoundMinRtt = Math.min(this.#currentRoundMinRtt, a.rtt);
      this.#rttSampleCount++;
    }
    if (this.phase === 'ss') {
      if (
        this.#rttSampleCount >= HSPP_N_RTT_SAMPLE &&
        this.#currentRoundMinRtt !== Number.POSITIVE_INFINITY &&
        this.#lastRoundMinRtt !== Number.POSITIVE_INFINITY
      ) {
        const thresh = Math.max(
          HSPP_MIN_RTT_THRESH_US,
          Math.min(this.#lastRoundMinRtt / HSPP_MIN_RTT_DIVISOR, HSPP_MAX_RTT_THRESH_US),
        );
        if (this.#currentRoundMinRtt >= this.#lastRoundMinRtt + thresh) {
          this.#cssBaselineMinRtt = this.#currentRoundMinRtt;
          this.phase = 'css';
          this.#cssRounds = 0;
        }
      }
      return false;
    }
    // CSS: a round ended counts; a lower RTT than the baseline means the rise was spurious.
    if (roundStart) this.#cssRounds++;
    if (this.#rttSampleCount >= HSPP_N_RTT_SAMPLE && this.#currentRoundMinRtt < this.#cssBaselineMinRtt) {
      this.#cssBaselineMinRtt = Number.POSITIVE_INFINITY;
      this.phase = 'ss';
      return false;
    }
    if (this.#cssRounds >= HSPP_CSS_ROUNDS) {
      this.phase = 'done';
      return true;
    }
    return false;
  }
}
