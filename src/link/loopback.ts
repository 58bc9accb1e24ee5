import type { Instant } from '../time/instant.ts';
import type { LinkType, SimDevice } from './device.ts';

/**
 * A loopback device: every transmitted frame comes back to the same device's
 * `onReceive` in the next `poll` (never synchronously). Register it with the
 * driver like any SimDevice. Default link type 'ip' (bare IP packets, like Linux
 * `lo`), MTU 65536.
 */
export class Loopback implements SimDevice {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly #clock: { now(): Instant };
  #queue: Uint8Array[] = [];
  /** Frames looped back so far. */
  delivered = 0;
  /** Frames dropped for exceeding the MTU. */
  droppedMtu = 0;

  constructor(options: { clock: { now(): Instant }; name?: string; linkType?: LinkType; mtu?: number }) {
    this.#clock = options.clock;
    this.name = options.name ?? 'lo';
    this.linkType = options.linkType ?? 'ip';
    this.mtu = options.mtu ?? 65536;
  }

  transmit(frame: Uint8Array): void {
    if (frame.length > this.mtu + (this.linkType === 'ethernet' ? 14 : 0)) {
      this.droppedMtu++;
      return;
    }
    this.#queue.push(frame);
  }

  nextDeadline(): Instant | undefined {
    return this.#queue.length ? this.#clock.now() : undefined;
  }

  poll(_now: Instant): void {
    // Frames transmitted by receivers during this poll wait for the next one.
    const q = this.#queue;
    this.#queue = [];
    for (const f of q) {
      this.delivered++;
      const cb = this.onReceive;
      if (cb !== null) cb(f);
    }
  }
}
