import type { Clock } from './clock.ts';
import type { Instant } from './instant.ts';

/*
 * The host's time and event loop, in one place: the core never touches them directly
 * (DESIGN.md: time comes in through an injected Clock and timers). SystemClock, the
 * host timers and the event-loop yield below are what drivers inject by default.
 */

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

/**
 * Yields to the JS event loop so every pending promise continuation runs. A
 * macrotask drains the whole microtask queue, however deep the chain of awaits.
 * This yields; it does not sleep.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  if (typeof g.setImmediate === 'function') {
    const si = g.setImmediate;
    return new Promise<void>((resolve) => {
      si(resolve);
    });
  }
  if (typeof MessageChannel === 'function') {
    return new Promise<void>((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise<void>((resolve) => {
    globalThis.setTimeout(resolve, 0);
  });
}

/** Host timers for the real-time driver (RealtimeDriverOptions.timers). */
export interface HostTimers {
  /** Calls `fn` after `ms` milliseconds of real time; returns a handle for `clear`. */
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
  /** Lets the process exit while only this timer is pending (Node), where supported. */
  unref?(handle: unknown): void;
  /** Undoes `unref`. */
  ref?(handle: unknown): void;
}

/** The host's setTimeout / clearTimeout. */
export const systemTimers: HostTimers = {
  set: (fn, ms) => globalThis.setTimeout(fn, ms),
  clear: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
  unref: (h) => (h as { unref?: () => void }).unref?.(),
  ref: (h) => (h as { ref?: () => void }).ref?.(),
};
