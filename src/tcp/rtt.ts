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
}

/** RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4. */
const K = 4;

/** An estimator's bounds (RttOptions with the defaults filled in), shared by equal estimators. */
interface RttLimits {
  readonly initialRto: Duration;
  readonly minRto: Duration;
  readonly maxRto: Duration;
  readonly granularity: Duration;
}

/**
 * The limits last made: every connection of a layer has the same, so they share one object
 * (four fields fewer per connection; bench/idle.ts).
 */
let lastLimits: RttLimits | undefined;

function limitsFor(opts: RttOptions): RttLimits {
  const initialRto = opts.initialRto ?? 1_000_000;
  const minRto = opts.minRto ?? 200_000;
  const maxRto = opts.maxRto ?? 120_000_000;
  const granularity = opts.granularity ?? 1_000;
  const l = lastLimits;
  if (
    l !== undefined &&
    l.initialRto === initialRto &&
    l.minRto === minRto &&
    l.maxRto === maxRto &&
    l.granularity === granularity
  )
    return l;
  lastLimits = Object.freeze({ initialRto, minRto, maxRto, granularity });
  return lastLimits;
}

export class RttEstimator {
  readonly #limits: RttLimits;
  #srtt: Duration | undefined;
  #rttvar: Duration | undefined;
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

  /** Smoothed round-trip time, undefined before the first sample. */
  get srtt(): Duration | undefined {
    return this.#srtt;
  }
  /** Round-trip time variation, undefined before the first sample. */
  get rttvar(): Duration | undefined {
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

  /** Feeds one RTT measurement R (RFC 6298 §2.2/2.3) and clears the backoff. */
  sample(rtt: Duration): void {
    if (!(rtt >= 0) || !Number.isFinite(rtt)) return;
    const r = Math.round(rtt);
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
