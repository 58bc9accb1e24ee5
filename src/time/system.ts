import type { Clock } from './clock.ts';
import type { Instant } from './instant.ts';

/**
 * Real time for Node and browsers, from `performance.now()` (monotonic),
 * in integer microseconds since the clock was made.
 */
export class SystemClock implements Clock {
  readonly #origin = performance.now();
  now(): Instant {
    return Math.floor((performance.now() - this.#origin) * 1000);
  }
}
