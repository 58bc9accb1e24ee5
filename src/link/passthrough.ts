import type { Pollable } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { Device, LinkType, SimDevice } from './device.ts';

/**
 * A Device in front of another that forwards everything: name, link type, MTU, the offload
 * capabilities, transmit, received frames, and poll/nextDeadline when the inner device has
 * them (so it is a SimDevice when `inner` is). Wrappers (a capture, a test's verifier)
 * extend it and override only what they change. It takes over `inner.onReceive`: frames
 * from `inner` go to `receive`, which hands them to this device's `onReceive`.
 */
export class PassThroughDevice<D extends Device = Device> implements SimDevice {
  readonly inner: D;
  onReceive: ((frame: Uint8Array) => void) | null = null;

  constructor(inner: D) {
    this.inner = inner;
    inner.onReceive = (frame) => this.receive(frame);
  }
  /** A frame `inner` received; passed on to `onReceive`. */
  protected receive(frame: Uint8Array): void {
    const cb = this.onReceive;
    if (cb !== null) cb(frame);
  }
  get name(): string {
    return this.inner.name;
  }
  get linkType(): LinkType {
    return this.inner.linkType;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get txChecksumOffload(): boolean {
    return this.inner.txChecksumOffload === true;
  }
  get rxChecksumValid(): boolean {
    return this.inner.rxChecksumValid === true;
  }
  get gsoMaxSize(): number {
    return this.inner.gsoMaxSize ?? 0;
  }
  transmit(frame: Uint8Array, gsoSize?: number): void {
    if (gsoSize === undefined) this.inner.transmit(frame);
    else this.inner.transmit(frame, gsoSize);
  }
  nextDeadline(): Instant | undefined {
    const p = this.inner as Partial<Pollable>;
    return typeof p.nextDeadline === 'function' ? p.nextDeadline() : undefined;
  }
  poll(now: Instant): void {
    const p = this.inner as Partial<Pollable>;
    if (typeof p.poll === 'function') p.poll(now);
  }
}
