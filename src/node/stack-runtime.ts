/**
 * The real-time runtime of sockstack hosts in Node: a `StackRuntime` owns a
 * RealtimeDriver, kicks it whenever something may have changed a deadline (a timer
 * armed on a stack, a frame queued on an interface, an application call on a
 * StackSocket), and keeps the Node process alive only while some socket or server is
 * ref'd (Node's ref/unref semantics, counted). `StackRuntime.for(driver)` wraps any
 * RealtimeDriver (for example tapStack's) so StackSockets can drive it.
 * virtualNetwork() in runtime.ts builds whole networks on it.
 */
import { RealtimeDriver } from '../link/realtime.ts';
import type { Stack } from '../stack.ts';
import type { Clock, Pollable } from '../time/clock.ts';
import { type HostTimers, SystemClock } from '../time/system.ts';

/** What a StackSocket needs from whatever drives its stack. */
export interface SocketDriver {
  /** Something changed (app I/O): let the driver poll soon. Cheap; coalesced. */
  kick(): void;
  /** One more handle wants the process kept alive (counted). */
  ref(): void;
  /** The driver's clock and host timers, for socket idle timeouts (default: real time). */
  readonly clock?: Clock;
  readonly timers?: HostTimers;
  /** One handle fewer wants the process kept alive. */
  unref(): void;
}

const byDriver = new WeakMap<RealtimeDriver, StackRuntime>();

export interface StackRuntimeOptions {
  /** Default: a new SystemClock (or the driver's clock when `driver` is given). */
  clock?: Clock;
  /** The timers the driver sleeps on. Default: the host's (systemTimers). */
  timers?: HostTimers;
  /** Reuse an existing driver (e.g. tapStack's) instead of making one. */
  driver?: RealtimeDriver;
}

export class StackRuntime implements SocketDriver {
  readonly driver: RealtimeDriver;
  readonly clock: Clock;
  #refs = 0;
  #closed = false;
  readonly #watched = new WeakSet<Stack>();

  constructor(options: StackRuntimeOptions = {}) {
    this.driver =
      options.driver ??
      new RealtimeDriver({ clock: options.clock ?? new SystemClock(), timers: options.timers, unref: true });
    this.clock = this.driver.clock;
    if (!options.driver) {
      byDriver.set(this.driver, this);
      this.#apply();
    }
  }

  /** The runtime for an existing driver (one per driver; made on first use). */
  static for(driver: RealtimeDriver | StackRuntime): StackRuntime {
    if (driver instanceof StackRuntime) return driver;
    let rt = byDriver.get(driver);
    if (!rt) {
      rt = new StackRuntime({ driver });
      byDriver.set(driver, rt);
    }
    return rt;
  }

  get timers(): HostTimers {
    return this.driver.timers;
  }

  /** Number of ref'd handles (sockets, listening servers). */
  get refs(): number {
    return this.#refs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds a stack: it is polled by the driver, and a timer armed earlier than any other
   * on it (`TimerQueue.onEarliestChanged`), or a frame queued on it while idle
   * (`Stack.onWake`), kicks the driver.
   */
  addStack(stack: Stack): Stack {
    if (!this.#watched.has(stack)) {
      this.#watched.add(stack);
      // A timer armed earlier than what the driver sleeps until must wake it.
      const timers = stack.timers;
      const prev = timers.onEarliestChanged;
      timers.onEarliestChanged = prev
        ? (d) => {
            prev(d);
            this.kick();
          }
        : () => this.kick();
      const wake = stack.onWake;
      stack.onWake = wake
        ? () => {
            wake();
            this.kick();
          }
        : () => this.kick();
    }
    // The stack's Python-style sockets hold this runtime while a call blocks (issue #18).
    stack.backend.keepAlive = this;
    this.driver.add(stack);
    return stack;
  }

  /** Adds any other Pollable (a cable, a switch, an impaired device). */
  add<T extends Pollable>(p: T): T {
    return this.driver.add(p);
  }

  kick(): void {
    this.driver.kick();
  }

  ref(): void {
    this.#refs++;
    this.#apply();
  }

  unref(): void {
    if (this.#refs > 0) this.#refs--;
    this.#apply();
  }

  /** Stops the driver: nothing moves any more (sockets still open simply stall). */
  stop(): void {
    this.#closed = true;
    this.driver.stop();
  }

  #apply(): void {
    if (this.#refs > 0) this.driver.ref();
    else this.driver.unref();
  }
}
