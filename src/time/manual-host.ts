/**
 * Host timers on a virtual clock: the `HostTimers` a RealtimeDriver (and a Node-style
 * StackSocket's idle timer) sleep on, driven by the caller instead of the host. With a
 * ManualClock they make the "real-time" runtime run on virtual time, so an application
 * that uses socket timeouts can be tested without waiting and without depending on
 * the machine's load.
 */
import type { ManualClock } from './clock.ts';
import type { HostTimers } from './system.ts';

interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Bound on timers run by one `advance` (a timer that re-arms itself at 0 ms). */
const MAX_FIRES = 1_000_000;

export class ManualHostTimers implements HostTimers {
  readonly clock: ManualClock;
  #entries: Entry[] = [];
  #seq = 0;

  constructor(clock: ManualClock) {
    this.clock = clock;
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.#entries.length;
  }

  set(fn: () => void, ms: number): unknown {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const e: Entry = { at: this.clock.now() + Math.round(delay * 1000), seq: this.#seq++, fn };
    this.#entries.push(e);
    return e;
  }

  clear(handle: unknown): void {
    const i = this.#entries.indexOf(handle as Entry);
    if (i >= 0) this.#entries.splice(i, 1);
  }

  /**
   * Moves the clock forward by `ms` milliseconds, running each timer that falls due
   * at its own instant, earliest first (ties in the order they were set), as the
   * host's event loop would.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance: bad duration ${ms} ms`);
    const end = this.clock.now() + Math.round(ms * 1000);
    for (let fired = 0; fired < MAX_FIRES; fired++) {
      const next = this.#earliest();
      if (next === undefined || next.at > end) break;
      this.#entries.splice(this.#entries.indexOf(next), 1);
      if (next.at > this.clock.now()) this.clock.set(next.at);
      next.fn();
    }
    if (end > this.clock.now()) this.clock.set(end);
  }

  #earliest(): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.#entries) {
      if (best === undefined || e.at < best.at || (e.at === best.at && e.seq < best.seq)) best = e;
    }
    return best;
  }
}
