/**
 * A link to a v86 emulator's network card (the `v86` package, in a page or in Node):
 * the guest's NIC (`net_device: { type: 'virtio' }` or the default ne2k) becomes a
 * Device, so a stack or a Gateway (src/gateway/gateway.ts) is the guest's Ethernet.
 *
 * v86 without a `relay_url` has no network backend of its own: the card sends each frame
 * the guest transmits as the bus event `net0-send`, and takes frames for the guest from
 * `bus.send('net0-receive', frame)`. This adapter is those two calls and a queue, with no
 * import of v86: the emulator is any object with a `bus` of that shape (`V86Emulator`).
 *
 *   const emulator = new V86({ ..., net_device: { type: 'virtio' } });
 *   const link = new V86Link(emulator);
 *   const gw = new Gateway({ device: link, clock, rng, dialer });
 *
 * The queue: v86's virtio card copies a frame into the guest's next posted receive buffer
 * and drops it ("No buffer to write into!") when the guest has none posted, which a burst
 * of a TCP window does to a guest that is slower than the host. So frames for the guest
 * wait here while the guest's receive ring is empty, and go in as the guest posts buffers
 * again: at once when the card has room, else after the guest's next transmitted frame
 * (it sends ACKs after reading) or the next `retryMs` tick, in order. The ring is read
 * through v86's internals (`v86.cpu.devices.virtio_net.virtio.queues[0]`), structurally:
 * where they are missing (the ne2k card, another v86 version), frames go straight in, as
 * v86's own network adapters do. A queue longer than `maxQueue` frames drops new ones, as
 * a full NIC queue does; TCP recovers them.
 */
import { type HostTimers, systemTimers } from '../time/system.ts';
import type { Device, LinkType } from './device.ts';
import { maxFrameLength, minFrameLength } from './message-port.ts';

/** v86's bus (its `BusConnector`): named events with one value each. */
export interface V86Bus {
  send(name: string, value?: unknown): void;
  register(name: string, fn: (value: unknown) => void, thisValue?: unknown): void;
  unregister(name: string, fn: (value: unknown) => void): void;
}

/** The guest's receive virtqueue as v86 keeps it: buffers the guest posted and v86 has not filled. */
export interface V86RxQueue {
  count_requests(): number;
}

/** What the link needs of a v86 emulator (`V86` from the `v86` package). */
export interface V86Emulator {
  readonly bus: V86Bus;
  /** v86's internals, read only to see the virtio card's free receive buffers (optional). */
  readonly v86?: {
    readonly cpu?: {
      readonly devices?: {
        readonly virtio_net?: {
          /** Its card number (the `N` of `netN-send`). */
          readonly id?: number;
          readonly virtio?: { readonly queues?: ArrayLike<V86RxQueue> };
        };
      };
    };
  };
}

export interface V86LinkOptions {
  /** Device name; default 'v86'. */
  name?: string;
  /**
   * IP MTU; default 1500. Give the virtio card the same (`net_device.mtu`): the guest then
   * takes it as its interface's largest MTU (VIRTIO_NET_F_MTU).
   */
  mtu?: number;
  /** The network card's number (`net0`, `net1`, ...); default 0. */
  card?: number;
  /** Frames waiting for the guest's receive buffers at most; default 4096. */
  maxQueue?: number;
  /** Milliseconds between retries while frames wait and the guest sends nothing; default 1. */
  retryMs?: number;
  /** Called after each received frame was handed to `onReceive` (the real-time driver's `kick`). */
  wake?: () => void;
  timers?: HostTimers;
}

export interface V86LinkStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames for the guest dropped: queue full, larger than the MTU, or the link closed. */
  txDropped: number;
  /** Frames that had to wait for the guest's receive buffers. */
  txQueued: number;
  /** Frames from the guest that were not plausible (shorter than a header, over the MTU). */
  rxErrors: number;
  /** Frames that arrived while `onReceive` was null. */
  rxNoHandler: number;
}

export class V86Link implements Device {
  readonly name: string;
  readonly linkType: LinkType = 'ethernet';
  readonly mtu: number;
  readonly emulator: V86Emulator;
  readonly stats: V86LinkStats = {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    txQueued: 0,
    rxErrors: 0,
    rxNoHandler: 0,
  };
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly #card: number;
  readonly #sendEvent: string;
  readonly #receiveEvent: string;
  readonly #maxQueue: number;
  readonly #retryMs: number;
  readonly #wake: (() => void) | undefined;
  readonly #timers: HostTimers;
  readonly #listener: (value: unknown) => void;
  /** Frames waiting for the guest, oldest first, from `#head`. */
  #queue: Uint8Array[] = [];
  #head = 0;
  #timer: unknown;
  #closed = false;

  constructor(emulator: V86Emulator, options: V86LinkOptions = {}) {
    const card = options.card ?? 0;
    if (!Number.isInteger(card) || card < 0)
      throw Object.assign(new Error(`EINVAL: v86 card number ${card}`), { code: 'EINVAL' });
    if (typeof emulator?.bus?.send !== 'function' || typeof emulator.bus.register !== 'function')
      throw Object.assign(new Error('EINVAL: not a v86 emulator (it has no bus)'), { code: 'EINVAL' });
    this.emulator = emulator;
    this.name = options.name ?? 'v86';
    this.mtu = options.mtu ?? 1500;
    this.#card = card;
    this.#sendEvent = `net${card}-send`;
    this.#receiveEvent = `net${card}-receive`;
    this.#maxQueue = options.maxQueue ?? 4096;
    this.#retryMs = options.retryMs ?? 1;
    this.#wake = options.wake;
    this.#timers = options.timers ?? systemTimers;
    this.#listener = (value) => this.#fromGuest(value);
    emulator.bus.register(this.#sendEvent, this.#listener);
  }

  /** Frames waiting for the guest's receive buffers. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** The guest's free receive buffers, or undefined when the card does not say (ne2k). */
  #freeBuffers(): number | undefined {
    const card = this.emulator.v86?.cpu?.devices?.virtio_net;
    if (card === undefined || (card.id ?? 0) !== this.#card) return undefined;
    const q = card.virtio?.queues?.[0];
    return typeof q?.count_requests === 'function' ? q.count_requests() : undefined;
  }

  transmit(frame: Uint8Array): void {
    const st = this.stats;
    if (this.#closed || frame.length > maxFrameLength('ethernet', this.mtu)) {
      st.txDropped++;
      return;
    }
    if (this.queued === 0) {
      const free = this.#freeBuffers();
      if (free === undefined || free > 0) {
        this.#deliver(frame);
        return;
      }
    }
    if (this.queued >= this.#maxQueue) {
      st.txDropped++;
      return;
    }
    st.txQueued++;
    this.#queue.push(frame);
    this.#arm();
  }

  #deliver(frame: Uint8Array): void {
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.emulator.bus.send(this.#receiveEvent, frame);
  }

  /** Moves waiting frames into the guest's free buffers, in order; true when some are left. */
  #drain(): boolean {
    let free = this.#freeBuffers() ?? Number.POSITIVE_INFINITY;
    while (this.#head < this.#queue.length && free > 0) {
      const f = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined as unknown as Uint8Array;
      this.#deliver(f);
      free--;
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      return false;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return true;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#timers.set(() => {
      this.#timer = undefined;
      if (this.#drain()) this.#arm();
    }, this.#retryMs);
  }

  #fromGuest(value: unknown): void {
    const st = this.stats;
    if (this.#closed) return;
    // The guest's transmissions follow its reading: a moment to fill the buffers it posted.
    if (this.queued > 0) this.#drain();
    if (
      !(value instanceof Uint8Array) ||
      value.length < minFrameLength('ethernet') ||
      value.length > maxFrameLength('ethernet', this.mtu)
    ) {
      st.rxErrors++;
      return;
    }
    st.rxFrames++;
    st.rxBytes += value.length;
    const rx = this.onReceive;
    if (rx === null) {
      st.rxNoHandler++;
      return;
    }
    rx(value);
    this.#wake?.();
  }

  /** Detaches from the emulator's bus; waiting frames are dropped. The emulator keeps running. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emulator.bus.unregister(this.#sendEvent, this.#listener);
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
    this.stats.txDropped += this.queued;
    this.#queue = [];
    this.#head = 0;
  }
}
