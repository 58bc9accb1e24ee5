/**
 * Shared helpers for the Node-adapter tests: a two-host memory network run in real
 * time, and bounded waits on events (never fixed sleeps).
 */
import type { EventEmitter } from 'node:events';
import { type VirtualNetwork, virtualNetwork } from '../../src/node/runtime.ts';
import type { StackConfig } from '../../src/stack.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { ManualHostTimers } from '../../src/time/manual-host.ts';

export const SERVER = '10.0.0.1';
export const CLIENT = '10.0.0.2';

export interface TwoHostOptions {
  mtu?: number;
  config?: StackConfig;
  /** Run the network on virtual time (see `virtualTime`). */
  time?: VirtualTime;
}

/** server 10.0.0.1 and client 10.0.0.2 on one cable; names 'server' and 'client' resolve on both. */
export function twoHosts(options: TwoHostOptions = {}): VirtualNetwork {
  return virtualNetwork({
    hosts: { server: `${SERVER}/24`, client: `${CLIENT}/24` },
    mtu: options.mtu,
    config: options.config,
    clock: options.time?.clock,
    timers: options.time?.timers,
  });
}

/** Runs `fn` with a fresh two-host network, always tearing it down. */
export async function withTwoHosts<T>(
  fn: (vn: VirtualNetwork) => Promise<T>,
  options: TwoHostOptions = {},
): Promise<T> {
  const vn = twoHosts(options);
  try {
    return await fn(vn);
  } finally {
    await vn.close();
  }
}

/**
 * Resolves with the event's arguments; rejects after `ms` (a bound, not a sleep).
 * Unlike events.once it does not reject on 'error' (wait for 'error' explicitly).
 */
export function waitEvent<T extends unknown[] = unknown[]>(
  em: EventEmitter,
  event: string,
  ms = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const on = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      em.removeListener(event, on);
      reject(new Error(`no '${event}' within ${ms} ms`));
    }, ms);
    em.once(event, on);
  });
}

/** Races a promise against a deadline. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Virtual time for a network and its sockets' timeouts: a ManualClock and the host
 * timers the runtime sleeps on. Nothing moves until the test advances it, so
 * timeouts are asserted exactly, whatever the machine's load.
 */
export interface VirtualTime {
  readonly clock: ManualClock;
  readonly timers: ManualHostTimers;
  /** Virtual milliseconds since the start. */
  nowMs(): number;
  /**
   * Advances virtual time `stepMs` at a time, letting Node's event loop run the
   * application between steps, until `done()` holds; returns the virtual ms it took.
   * Throws after `maxMs` of virtual time.
   */
  runUntil(done: () => boolean, what: string, maxMs?: number, stepMs?: number): Promise<number>;
  /** Advances exactly `ms` virtual milliseconds, one step at a time, with the event loop between steps. */
  advance(ms: number, stepMs?: number): Promise<void>;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export function virtualTime(): VirtualTime {
  const clock = new ManualClock();
  const timers = new ManualHostTimers(clock);
  const nowMs = (): number => clock.now() / 1000;
  return {
    clock,
    timers,
    nowMs,
    async runUntil(done, what, maxMs = 10_000, stepMs = 1) {
      const start = nowMs();
      // Let pending I/O settle before the first step.
      for (let i = 0; i < 3; i++) await turn();
      while (!done()) {
        if (nowMs() - start >= maxMs) throw new Error(`not within ${maxMs} virtual ms: ${what}`);
        timers.advance(stepMs);
        for (let i = 0; i < 3; i++) await turn();
      }
      return nowMs() - start;
    },
    async advance(ms, stepMs = 1) {
      const end = nowMs() + ms;
      while (nowMs() < end) {
        timers.advance(Math.min(stepMs, end - nowMs()));
        for (let i = 0; i < 3; i++) await turn();
      }
    },
  };
}
