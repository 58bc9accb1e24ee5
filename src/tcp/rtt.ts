/**
 * Retransmission timer computation, RFC 6298.
 *
 * Karn's rule (RFC 6298 §3) is the caller's job: "RTT samples MUST NOT be made
 * using segments that were retransmitted (and thus for which it is ambiguous
 * whether the reply was for the first instance of the packet or a later
 * instance)." With timestamps (RFC 7323 §4) every ACK that advances snd.una may
 * give a sample. Likewise RFC 6298 §5.7 (RTO back to 3 s after a lost SYN when
 * data starts) belongs to the connection: call `reset(seconds(3))` there.
 *
 * All values are integer microseconds (`Duration`).
 */
import type { Duration } from '../time/instant.ts';

export interface RttOptions {
  /** RTO before any sample. RFC 6298 §2.1: 1 second. */
  initialRto?: Duration;
  /**
   * Lower bound on the RTO. Deviation: RFC 6298 §2.4 says "Whenever RTO is
   * computed, if it is less than 1 second, then the RTO SHOULD be rounded up to
   * 1 second"; we default to 200 ms like Linux (TCP_RTO_MIN), since a 1 s floor
   * makes loss recovery on fast paths (and in simulations) needlessly slow.
   */
  minRto?: Duration;
  /** Upper bound. RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds." */
  maxRto?: Duration;
  /** Clock granularity G (RFC 6298 §2.2/2.3). */
  granularity?: Duration;
  /**
   * Linux's estimator (tcp_rtt_estimator, __tcp_set_rto) instead of RFC 6298's: RTO = SRTT +
   * rttvar, where rttvar is the largest mean deviation (×4) seen over the last round trip
   * but never below minRto, decaying towards it round by round; so the RTO is SRTT + 200 ms
   * or more, where RFC 6298 floors SRTT + 4·RTTVAR at 200 ms.
   */
  linux?: boolean;
}

/** RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4. */
const K = 4;

/** An estimator's bounds (RttOptions with the defaults filled in), shared by equal estimators. */
interface RttLimits {
  readonly initialRto: Duration;
  readonly minRto: Duration;
  readonly maxRto: Duration;
  readonly granularity: Duration;
  readonly linux: boolean;
}

/**
 * The limits last made: every connection of a layer has the same, so they share one object
 * (five fields fewer per connection; bench/idle.ts).
 */
let lastLimits: RttLimits | undefined;

function limitsFor(opts: RttOptions): RttLimits {
  const initialRto = opts.initialRto ?? 1_000_000;
  const minRto = opts.minRto ?? 200_000;
  const maxRto = opts.maxRto ?? 120_000_000;
  const granularity = opts.granularity ?? 1_000;
  const linux = opts.linux ?? false;
  const l = lastLimits;
  if (
    l !== undefined &&
    l.initialRto === initialRto &&
    l.minRto === minRto &&
    l.maxRto === maxRto &&
    l.granularity === granularity &&
    l.linux === linux
  )
    return l;
  lastLimits = Object.freeze({ initialRto, minRto, maxRto, granularity, linux });
  return lastLimits;
}

export class RttEstimator {
  readonly #limits: RttLimits;
  #srtt: Duration | undefined;
  #rttvar: Duration | undefined;
  /** Linux's mdev_us (4 × the mean deviation), mdev_max_us, rttvar_us and rtt_seq. */
  #mdev = 0;
  #mdevMax = 0;
  #linuxRttvar = 0;
  #rttSeq = 0;
  /** RTO without backoff, already clamped. */
  #baseRto: Duration;
  #backoff = 0;

  constructor(opts: RttOptions = {}) {
    const l = limitsFor(opts);
    if (!(l.minRto >= 0 && l.minRto <= l.maxRto))
      throw new RangeError('RttEstimator: need 0 <= minRto <= maxRto');
    this.#limits = l;
    this.#baseRto = clamp(l, l.initialRto);
  }

  get initialRto(): Duration {
    return this.#limits.initialRto;
  }
  get minRto(): Duration {
    return this.#limits.minRto;
  }
  get maxRto(): Duration {
    return this.#limits.maxRto;
  }
  get granularity(): Duration {
    return this.#limits.granularity;
  }
  get linux(): boolean {
    return this.#limits.linux;
  }

  /** Smoothed round-trip time, undefined before the first sample. */
  get srtt(): Duration | undefined {
    return this.#srtt;
  }
  /** Round-trip time variation, undefined before the first sample (Linux: the mean deviation, tcpi_rttvar). */
  get rttvar(): Duration | undefined {
    if (this.linux && this.#srtt !== undefined) return this.#mdev >> 2;
    return this.#rttvar;
  }
  /** The current RTO, including exponential backoff, within [minRto, maxRto]. */
  get rto(): Duration {
    // Doubling a bounded value: stop once past maxRto so it never overflows.
    const max = this.#limits.maxRto;
    let r = this.#baseRto;
    for (let i = 0; i < this.#backoff && r < max; i++) r *= 2;
    return Math.min(r, max);
  }
  /** How many times `backoff()` has been called since the last sample. */
  get backoffCount(): number {
    return this.#backoff;
  }

  /**
   * Feeds one RTT measurement R (RFC 6298 §2.2/2.3) and clears the backoff. `una` (SND.UNA
   * after the ACK) and `nxt` (the highest sequence sent) delimit Linux's per-round-trip
   * window (rtt_seq); without them every sample is a round of its own.
   */
  sample(rtt: Duration, una?: number, nxt?: number): void {
    if (!(rtt >= 0) || !Number.isFinite(rtt)) return;
    const r = Math.round(rtt);
    if (this.linux) {
      this.#sampleLinux(r, una, nxt);
      return;
    }
    if (this.#srtt === undefined || this.#rttvar === undefined) {
      // §2.2: SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR)
      this.#srtt = r;
      this.#rttvar = Math.round(r / 2);
    } else {
      // §2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
      //       SRTT <- (1 - alpha) * SRTT + alpha * R'   (RTTVAR first, with the old SRTT)
      this.#rttvar = Math.round((3 * this.#rttvar + Math.abs(this.#srtt - r)) / 4);
      this.#srtt = Math.round((7 * this.#srtt + r) / 8);
    }
    this.#baseRto = clamp(this.#limits, this.#srtt + Math.max(this.granularity, K * this.#rttvar));
    // §5.7 note: the backed-off RTO is kept until a new sample recomputes it.
    this.#backoff = 0;
  }

  /**
   * Linux tcp_rtt_estimator (in µs, mdev kept ×4 as there) and __tcp_set_rto: RTO = SRTT +
   * rttvar. A falling RTT moves mdev with a gain of 1/32 rather than 1/4 ("similar to one of
   * Eifel findings"); rttvar follows the largest mdev of each round trip, at least minRto.
   */
  #sampleLinux(m: number, una: number | undefined, nxt: number | undefined): void {
    const min = this.minRto;
    let srtt = this.#srtt;
    // A new round once SND.UNA passes the SND.NXT of the round's first sample ("after(snd_una, rtt_seq)").
    const newRound = una === undefined || nxt === undefined || ((una - this.#rttSeq) | 0) > 0;
    if (srtt === undefined) {
      // "make sure rto = 3*rtt": mdev = 2m (×4 scaled: half the RTT).
      srtt = m;
      this.#mdev = 2 * m;
      this.#linuxRttvar = Math.max(this.#mdev, min);
      this.#mdevMax = this.#linuxRttvar;
      this.#rttSeq = nxt ?? 0;
    } else {
      let err = m - srtt;
      srtt = srtt + err / 8;
      if (err < 0) {
        err = -err - this.#mdev / 4;
        if (err > 0) err /= 8;
      } else err -= this.#mdev / 4;
      this.#mdev += err;
      if (this.#mdev > this.#mdevMax) {
        this.#mdevMax = this.#mdev;
        if (this.#mdevMax > this.#linuxRttvar) this.#linuxRttvar = this.#mdevMax;
      }
      if (newRound) {
        if (this.#mdevMax < this.#linuxRttvar) this.#linuxRttvar -= (this.#linuxRttvar - this.#mdevMax) / 4;
        this.#rttSeq = nxt ?? 0;
        this.#mdevMax = min;
      }
    }
    this.#srtt = Math.max(1, Math.round(srtt));
    this.#rttvar = Math.round(this.#linuxRttvar / 4);
    // tcp_set_rto + tcp_bound_rto: no floor beyond what rttvar holds, at most maxRto.
    this.#baseRto = Math.min(this.maxRto, Math.round(this.#srtt + this.#linuxRttvar));
    this.#backoff = 0;
  }

  /** RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")", capped at maxRto. */
  backoff(): void {
    // Keeps counting past the cap (TcpInfo shows it); `rto` stays at maxRto.
    this.#backoff++;
  }

  /** Clears the backoff without a sample (e.g. when a new connection phase starts). */
  resetBackoff(): void {
    this.#backoff = 0;
  }

  /** Forgets all samples and sets the base RTO (RFC 6298 §5.7: 3 s after a lost SYN). */
  reset(rto: Duration = this.initialRto): void {
    this.#srtt = undefined;
    this.#rttvar = undefined;
    this.#backoff = 0;
    this.#baseRto = clamp(this.#limits, rto);
  }
}

function clamp(l: RttLimits, rto: Duration): Duration {
  return Math.min(l.maxRto, Math.max(l.minRto, Math.round(rto)));
}
