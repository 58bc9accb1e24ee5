/**
 * Test helpers for real links: collect frames from a device and wait for them
 * with a bounded deadline (never a fixed sleep), and set up a TAP/TUN whose
 * kernel side lives in a namespace the test owns, cleaned up on success and
 * failure alike.
 */
import type { TestContext } from 'node:test';
import type { Device } from '../../src/link/device.ts';
import {
  kernelLinkUnavailable,
  openTapInNetns,
  type TapInNetns,
  type TapInNetnsOptions,
} from '../../src/node/netns.ts';

/** Records every frame a device receives; `waitFor` resolves when a condition holds. */
export class FrameCollector {
  readonly frames: Uint8Array[] = [];
  #waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  constructor(device: Device) {
    device.onReceive = (frame) => {
      this.frames.push(frame);
      this.#poke();
    };
  }

  #poke(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `count` frames arrived (or `pred(frames)` holds); rejects after `timeoutMs`. */
  waitFor(
    cond: number | ((frames: readonly Uint8Array[]) => boolean),
    timeoutMs = 5000,
    what = '',
  ): Promise<void> {
    const check = typeof cond === 'number' ? () => this.frames.length >= cond : () => cond(this.frames);
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.check !== check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what || (typeof cond === 'number' ? `${cond} frames` : 'frames')} (have ${this.frames.length})`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/** Resolves when `emitter` emits `event`, rejects after `timeoutMs`. */
export function onceWithin<T = unknown>(
  emitter: { once(event: string, fn: (...args: unknown[]) => void): unknown },
  event: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args[0] as T);
    });
  });
}

/**
 * Skips the test (with the reason printed) when TAP/TUN or namespaces are not
 * available; returns true when it skipped.
 */
export function skipWithoutKernelLinks(t: TestContext): boolean {
  const why = kernelLinkUnavailable();
  if (why === undefined) return false;
  t.skip(why);
  return true;
}

/** Opens a TAP/TUN in a fresh namespace and registers its cleanup with the test. */
export async function tapInNetns(t: TestContext, options: TapInNetnsOptions = {}): Promise<TapInNetns> {
  const h = await openTapInNetns({ disableIpv6: true, ...options });
  t.after(() => h.close());
  return h;
}
