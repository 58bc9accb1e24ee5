/**
 * Shared helpers for the Node-adapter tests: a two-host memory network run in real
 * time, and bounded waits on events (never fixed sleeps).
 */
import type { EventEmitter } from 'node:events';
import { type VirtualNetwork, virtualNetwork } from '../../src/node/runtime.ts';
import type { StackConfig } from '../../src/stack.ts';

export const SERVER = '10.0.0.1';
export const CLIENT = '10.0.0.2';

export interface TwoHostOptions {
  mtu?: number;
  config?: StackConfig;
}

/** server 10.0.0.1 and client 10.0.0.2 on one cable; names 'server' and 'client' resolve on both. */
export function twoHosts(options: TwoHostOptions = {}): VirtualNetwork {
  return virtualNetwork({
    hosts: { server: `${SERVER}/24`, client: `${CLIENT}/24` },
    mtu: options.mtu,
    config: options.config,
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
