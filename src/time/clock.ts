import type { Duration, Instant } from './instant.ts';

/** Where the stack learns the time. The stack never reads real time itself. */
export interface Clock {
  now(): Instant;
}

/** A clock that moves only when told to: simulations and tests. */
export class ManualClock implements Clock {
  #now: Instant;
  constructor(start: Instant = 0) {
    this.#now = start;
  }
  now(): Instant {
    return this.#now;
  }
  /** Moves to `t`; time never runs backwards. */
  set(t: Instant): void {
    if (t < this.#now) throw new RangeError(`ManualClock cannot go back from ${this.#now} to ${t}`);
    this.#now = Math.floor(t);
  }
  advance(d: Duration): void {
    this.set(this.#now + d);
  }
}

/**
 * Anything that has work to do at certain times: a stack, a simulated link.
 * A driver (real-time or simulated) calls `poll(now)` at or after `nextDeadline()`.
 */
export interface Pollable {
  /** The earliest instant at which `poll` has work, or undefined when idle. */
  nextDeadline(): Instant | undefined;
  /** Does all work due at or before `now`. */
  poll(now: Instant): void;
}
