/** RFC 5961 §7: challenge ACKs are rate-limited layer-wide. */
import type { Clock } from '../time/clock.ts';

export class ChallengeAckLimiter {
  #window = -1;
  #count = 0;

  /** At most `limit` challenge ACKs per second (config.challengeAckLimit). */
  allow(clock: Clock, limit: number): boolean {
    const sec = Math.floor(clock.now() / 1_000_000);
    if (sec !== this.#window) {
      this.#window = sec;
      this.#count = 0;
    }
    if (this.#count >= limit) return false;
    this.#count++;
    return true;
  }
}
