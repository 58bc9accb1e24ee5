/** The raw-IP device between a stack and the packetdrill runner (used by the stack target). */
import type { Device, LinkType } from '../link/device.ts';
import type { Instant } from '../time/instant.ts';

/** The raw-IP device between the stack and the runner: frames out are recorded, frames in are queued. */
export class ConformanceDevice implements Device {
  readonly name: string;
  readonly linkType: LinkType = 'ip';
  readonly mtu: number;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly #clock: { now(): Instant };
  #out: { time: Instant; packet: Uint8Array }[] = [];

  constructor(clock: { now(): Instant }, mtu: number, name = 'pd0') {
    this.#clock = clock;
    this.mtu = mtu;
    this.name = name;
  }

  transmit(frame: Uint8Array): void {
    this.#out.push({ time: this.#clock.now(), packet: frame });
  }

  /** What the stack sent since the last call, oldest first. */
  take(): { time: Instant; packet: Uint8Array }[] {
    const o = this.#out;
    this.#out = [];
    return o;
  }
}
