import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { Device, LinkType, SimDevice } from './device.ts';
import { Channel, type ChannelStats, forkRng, type Impairments } from './impair.ts';

/**
 * A Device that puts netem-like impairment channels (src/link/impair.ts) between a
 * stack and a real device: frames the stack transmits go through the `tx`
 * channel before reaching `inner`, frames `inner` receives go through the `rx`
 * channel before reaching the stack. Used to impair *our* side of a TAP when the
 * kernel has no netem (loss 1 % + delay 10 ms on the sockstack side).
 *
 * It is a Pollable: whoever drives the stack must poll it too (a RealtimeDriver
 * or a Simulation). Real devices deliver frames from their own I/O callbacks, so
 * the owner passes `wake` to learn that a channel has new work (call the
 * driver's `kick()` there); it is called after each accepted frame.
 */
export interface ImpairedDeviceOptions {
  clock: Clock;
  rng: Rng;
  /** Impairments on frames we send (towards `inner`). Default: none. */
  tx?: Impairments;
  /** Impairments on frames we receive (from `inner`). Default: none. */
  rx?: Impairments;
  /** Called after a frame entered a channel (its deadline may be new). */
  wake?: () => void;
}

export class ImpairedDevice implements SimDevice {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly inner: Device;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly #tx: Channel | null;
  readonly #rx: Channel | null;
  readonly #wake: (() => void) | undefined;

  constructor(inner: Device, options: ImpairedDeviceOptions) {
    this.inner = inner;
    this.name = inner.name;
    this.linkType = inner.linkType;
    this.mtu = inner.mtu;
    this.#wake = options.wake;
    const common = { clock: options.clock, mtu: inner.mtu, linkType: inner.linkType };
    // A channel with no impairments still defers frames to the next poll; skip it
    // entirely for an unimpaired direction so that direction costs nothing.
    this.#tx =
      options.tx === undefined
        ? null
        : new Channel({
            ...common,
            rng: forkRng(options.rng),
            impairments: options.tx,
            deliver: (f) => inner.transmit(f),
          });
    this.#rx =
      options.rx === undefined
        ? null
        : new Channel({
            ...common,
            rng: forkRng(options.rng),
            impairments: options.rx,
            deliver: (f) => this.onReceive?.(f),
          });
    const rx = this.#rx;
    inner.onReceive =
      rx === null
        ? (f) => this.onReceive?.(f)
        : (f) => {
            rx.send(f);
            this.#wake?.();
          };
  }

  /** Counters of the channel towards `inner` (undefined when that direction is unimpaired). */
  get txStats(): ChannelStats | undefined {
    return this.#tx?.stats;
  }

  /** Counters of the channel from `inner` (undefined when that direction is unimpaired). */
  get rxStats(): ChannelStats | undefined {
    return this.#rx?.stats;
  }

  /** Replaces the impairments of one direction (it must have been impaired at construction). */
  configure(direction: 'tx' | 'rx', impairments: Impairments): void {
    const ch = direction === 'tx' ? this.#tx : this.#rx;
    if (ch === null) throw new Error(`the ${direction} direction was built without impairments`);
    ch.configure(impairments);
  }

  transmit(frame: Uint8Array): void {
    const tx = this.#tx;
    if (tx === null) {
      this.inner.transmit(frame);
      return;
    }
    tx.send(frame);
    this.#wake?.();
  }

  nextDeadline(): Instant | undefined {
    const a = this.#tx?.nextDeadline();
    const b = this.#rx?.nextDeadline();
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  poll(now: Instant): void {
    this.#tx?.poll(now);
    this.#rx?.poll(now);
  }
}
