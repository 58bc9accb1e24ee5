import type { Clock, Pollable } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import { type HostTimers, SystemClock, systemTimers } from '../time/system.ts';

/**
 * The real-time driver for Node and browsers: polls a set of Pollables against a
 * real clock and sleeps with one timer until the earliest deadline. The clock and
 * the timer come in as options (default: the host's, from src/time/system.ts).
 *
 * Call `kick()` after external input (a socket call; a frame from a TAP device,
 * through `Stack.onWake`) so new deadlines are noticed; kicks are coalesced into one
 * microtask, so a device callback never runs the stack synchronously.
 */
export interface RealtimeDriverOptions {
  /** Default: a new SystemClock. */
  clock?: Clock;
  /** The timer the driver sleeps on. Default: the host's setTimeout (systemTimers). */
  timers?: HostTimers;
  pollables?: Pollable[];
  /** Do not keep a Node process alive just for this driver's timer. Default false. */
  unref?: boolean;
  /** Called with errors thrown by a poll; default rethrows asynchronously. */
  onError?: (error: unknown) => void;
  /** Start immediately. Default true. */
  start?: boolean;
}

/** setTimeout's delay is a signed 32-bit number of ms. */
const MAX_TIMER_MS = 0x7fffffff;
const MAX_PASSES = 10_000;

export class RealtimeDriver {
  readonly clock: Clock;
  readonly #timers: HostTimers;
  #items: readonly Pollable[] = [];
  #timer: unknown;
  #timerAt: Instant | undefined;
  #kicked = false;
  #running = false;
  #unref: boolean;
  readonly #onError: (error: unknown) => void;
  /** Number of times the driver ran (for tests and stats). */
  wakeups = 0;

  constructor(options: RealtimeDriverOptions = {}) {
    this.clock = options.clock ?? new SystemClock();
    this.#timers = options.timers ?? systemTimers;
    this.#unref = options.unref ?? false;
    this.#onError =
      options.onError ??
      ((e) => {
        queueMicrotask(() => {
          throw e;
        });
      });
    for (const p of options.pollables ?? []) this.add(p);
    if (options.start ?? true) this.start();
  }

  /** The host timers the driver sleeps on (also used by Node-style socket timeouts). */
  get timers(): HostTimers {
    return this.#timers;
  }

  get running(): boolean {
    return this.#running;
  }

  add<T extends Pollable>(p: T): T {
    if (!this.#items.includes(p)) this.#items = [...this.#items, p];
    this.kick();
    return p;
  }

  remove(p: Pollable): boolean {
    const before = this.#items.length;
    this.#items = this.#items.filter((x) => x !== p);
    return this.#items.length !== before;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.kick();
  }

  /** Cancels the timer; no more polls until `start()`. */
  stop(): void {
    this.#running = false;
    this.#clearTimer();
  }

  /** Lets a Node process exit while only this driver's timer is pending. */
  unref(): void {
    this.#unref = true;
    if (this.#timer !== undefined) this.#timers.unref?.(this.#timer);
  }

  ref(): void {
    this.#unref = false;
    if (this.#timer !== undefined) this.#timers.ref?.(this.#timer);
  }

  /** Re-evaluates deadlines soon (in a microtask); cheap to call often. */
  kick(): void {
    if (!this.#running || this.#kicked) return;
    this.#kicked = true;
    queueMicrotask(() => {
      this.#kicked = false;
      this.#run();
    });
  }

  /** Polls everything due now and rearms the timer. Exposed for callers that want a synchronous turn. */
  runNow(): void {
    this.#run();
  }

  #run(): void {
    if (!this.#running) return;
    this.wakeups++;
    try {
      for (let pass = 0; pass < MAX_PASSES; pass++) {
        const now = this.clock.now();
        let did = 0;
        const items = this.#items;
        for (let i = 0; i < items.length; i++) {
          const d = items[i].nextDeadline();
          if (d !== undefined && d <= now) {
            items[i].poll(now);
            did++;
          }
        }
        if (did === 0) break;
      }
    } catch (e) {
      this.#onError(e);
    }
    this.#arm();
  }

  #arm(): void {
    if (!this.#running) return;
    let next: Instant | undefined;
    for (const p of this.#items) {
      const d = p.nextDeadline();
      if (d !== undefined && (next === undefined || d < next)) next = d;
    }
    if (next === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined && this.#timerAt === next) return;
    this.#clearTimer();
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((next - this.clock.now()) / 1000)));
    this.#timerAt = next;
    this.#timer = this.#timers.set(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.#run();
    }, delayMs);
    if (this.#unref) this.#timers.unref?.(this.#timer);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }
}
