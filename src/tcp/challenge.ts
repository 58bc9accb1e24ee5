/**
 * RFC 5961 §7: the host-wide challenge-ACK limit, randomised per one-second window so that
 * an off-path attacker cannot use it as a side channel (CVE-2016-5696, "Off-Path TCP
 * Exploits: Global Rate Limit Considered Dangerous"). Like Linux since 4.7
 * (tcp_send_challenge_ack): each window allows a random count in [limit/2, limit*3/2),
 * limit on average. The per-connection limit comes first (input.ts, oowRateLimited).
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';

export class ChallengeAckLimiter {
  readonly #rng: Rng;
  #window = -1;
  #left = 0;

  constructor(rng: Rng) {
    this.#rng = rng;
  }

  /**
   * May a challenge ACK go out now? About `limit` per second (config.challengeAckLimit), the
   * exact count drawn afresh each second; 0 allows none.
   */
  allow(clock: Clock, limit: number): boolean {
    const n = Math.min(Math.floor(limit), 0x7fffffff);
    if (!(n > 0)) return false;
    const sec = Math.floor(clock.now() / 1_000_000);
    if (sec !== this.#window) {
      this.#window = sec;
      // Linux: half + prandom_u32_max(limit), half = (limit + 1) / 2.
      this.#left = ((n + 1) >>> 1) + this.#rng.below(n);
    }
    if (this.#left <= 0) return false;
    this.#left--;
    return true;
  }
}
