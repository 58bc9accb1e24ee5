import type { Rng } from '../rand/rng.ts';
import type { Clock, Pollable } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { LinkType, SimDevice } from './device.ts';
import { Channel, forkRng, type Impairments } from './impair.ts';

export interface CableOptions {
  clock: Clock;
  /** Each direction gets its own stream forked from this one. */
  rng: Rng;
  /** IP MTU of both ends; default 1500. */
  mtu?: number;
  /** Default 'ethernet'. */
  linkType?: LinkType;
  /** Impairments of frames sent by `a` (received by `b`). */
  aToB?: Impairments;
  /** Impairments of frames sent by `b` (received by `a`). */
  bToA?: Impairments;
  /** Device names; default 'a' and 'b'. */
  names?: readonly [string, string];
  /**
   * Checksum offload (Device.txChecksumOffload / rxChecksumValid) in each direction that
   * does not corrupt frames, as a veth pair offers it. Default true; false makes both ends
   * compute and verify every checksum, as a real wire needs (and turns super-segments off).
   */
  checksumOffload?: boolean;
  /**
   * Segmentation offload (Device.gsoMaxSize): TCP sends super-segments up to 64 KiB through
   * either end while checksums are offloaded. Default true.
   */
  gso?: boolean;
}

/** The largest super-segment a memory link takes: an IP datagram's limit (the kernel's GSO_MAX_SIZE). */
export const GSO_MAX_SIZE = 65535;

/**
 * One end of a cable. `transmit` queues into the outgoing channel; `poll`
 * delivers the frames arriving at this end (from the incoming channel).
 */
export class CableEnd implements SimDevice {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  /** Set by Cable right after construction. */
  out!: Channel;
  in!: Channel;
  readonly #offload: boolean;
  readonly #gso: boolean;
  constructor(name: string, linkType: LinkType, mtu: number, checksumOffload = true, gso = true) {
    this.name = name;
    this.linkType = linkType;
    this.mtu = mtu;
    this.#offload = checksumOffload;
    this.#gso = gso;
  }
  /**
   * Whether the outgoing direction may skip checksums now. Deviation: a frame sent
   * without one just before `corrupt` is configured on its channel arrives with its checksum
   * field empty and is dropped by the receiver, which then verifies (TCP resends it).
   */
  get txChecksumOffload(): boolean {
    return this.#offload && !this.out.corrupts;
  }
  get rxChecksumValid(): boolean {
    return this.#offload && !this.in.corrupts;
  }
  /**
   * Super-segments up to 64 KiB (the kernel's GSO_MAX_SIZE) whenever checksums are
   * offloaded: a clean direction carries them whole, an impaired one cuts them into wire
   * segments (Channel.send), so only corruption (which needs real checksums) turns it off.
   */
  get gsoMaxSize(): number {
    return this.#gso && this.txChecksumOffload ? GSO_MAX_SIZE : 0;
  }
  transmit(frame: Uint8Array, gsoSize?: number): void {
    this.out.send(frame, gsoSize);
  }
  nextDeadline(): Instant | undefined {
    return this.in.nextDeadline();
  }
  poll(now: Instant): void {
    this.in.poll(now);
  }
  /** Called by the incoming channel. Frames arriving while nobody listens are dropped. */
  receive(frame: Uint8Array): void {
    const cb = this.onReceive;
    if (cb !== null) cb(frame);
  }
}

/**
 * A point-to-point link between two SimDevices, `a` and `b`, each direction with
 * its own impairments and counters. Nothing is delivered synchronously: a frame
 * sent at t arrives in a poll at t + delay (t itself when delay is 0).
 *
 * Driver registration: register the cable (`sim.add(cable)`), which polls both
 * directions. Registering the ends instead also works (each end's poll delivers
 * the frames arriving at it); registering both is harmless.
 */
export class Cable implements Pollable {
  readonly a: CableEnd;
  readonly b: CableEnd;
  /** Direction a → b (`aToB.stats`, `aToB.configure(...)`). */
  readonly aToB: Channel;
  readonly bToA: Channel;

  constructor(options: CableOptions) {
    const linkType = options.linkType ?? 'ethernet';
    const mtu = options.mtu ?? 1500;
    const [na, nb] = options.names ?? ['a', 'b'];
    const offload = options.checksumOffload ?? true;
    const gso = options.gso ?? true;
    const a = new CableEnd(na, linkType, mtu, offload, gso);
    const b = new CableEnd(nb, linkType, mtu, offload, gso);
    const common = { clock: options.clock, mtu, linkType };
    this.aToB = new Channel({
      ...common,
      rng: forkRng(options.rng),
      impairments: options.aToB,
      deliver: (f) => b.receive(f),
    });
    this.bToA = new Channel({
      ...common,
      rng: forkRng(options.rng),
      impairments: options.bToA,
      deliver: (f) => a.receive(f),
    });
    a.out = this.aToB;
    a.in = this.bToA;
    b.out = this.bToA;
    b.in = this.aToB;
    this.a = a;
    this.b = b;
  }

  nextDeadline(): Instant | undefined {
    const x = this.aToB.nextDeadline();
    const y = this.bToA.nextDeadline();
    if (x === undefined) return y;
    if (y === undefined) return x;
    return Math.min(x, y);
  }

  poll(now: Instant): void {
    this.aToB.poll(now);
    this.bToA.poll(now);
  }
}
