/**
 * A link over a `MessagePort`: two stacks in different Workers (or a page and a
 * Worker) share one Ethernet, one frame per message. Make a `MessageChannel`, give
 * `port1` to one side and `port2` to the other (transfer them with postMessage),
 * and wrap each in a MessagePortLink.
 *
 * Each frame travels as an ArrayBuffer that is transferred, not copied, when the
 * frame owns its whole buffer (`transmit` takes ownership, so it may). Delivery is
 * asynchronous (the port's message event), so `onReceive` never runs inside
 * `transmit`. Messages that are not a frame are dropped and counted.
 */
import type { Device, LinkType } from './device.ts';

/** Counters of a link that carries frames as messages (MessagePort, WebSocket). */
export interface MessageLinkStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames not sent: link closed, larger than the MTU allows, or the send buffer full. */
  txDropped: number;
  /** Messages that were not a frame (text, too short, too long). */
  rxErrors: number;
  /** Frames that arrived while `onReceive` was null. */
  rxNoHandler: number;
}

export function newMessageLinkStats(): MessageLinkStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDropped: 0, rxErrors: 0, rxNoHandler: 0 };
}

/** Options shared by the message links. */
export interface MessageLinkOptions {
  /** Device name; default 'mp0' (MessagePort) or 'ws0' (WebSocket). */
  name?: string;
  /** Default 'ethernet'. */
  linkType?: LinkType;
  /** IP MTU; default 1500. Larger frames are dropped on send and on receipt. */
  mtu?: number;
  /**
   * Called after each received frame was handed to `onReceive`: pass the real-time
   * driver's `kick` so the stack's new deadlines are noticed.
   */
  wake?: () => void;
}

/** The part of a message event the links read (DOM events, Node's and `ws`'s all have it). */
export interface MessageEventLike {
  readonly type: string;
  readonly data?: unknown;
}

/** What a MessagePortLink needs of a port: the DOM's MessagePort and Node's worker_threads one both fit. */
export interface FramePort {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
  start?(): void;
  close(): void;
}

/** Largest frame a link of this type and MTU accepts (Ethernet adds its 14-byte header). */
export function maxFrameLength(linkType: LinkType, mtu: number): number {
  return mtu + (linkType === 'ethernet' ? 14 : 0);
}

/** Smallest frame worth delivering: an Ethernet header, or one byte of IP. */
export function minFrameLength(linkType: LinkType): number {
  return linkType === 'ethernet' ? 14 : 1;
}

/** The received message as bytes, or undefined when it is not binary. */
export function messageBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** What receiveMessage needs of a message link. */
export interface MessageLinkReceiver {
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly stats: MessageLinkStats;
  onReceive: ((frame: Uint8Array) => void) | null;
}

/**
 * One message arrived on a message link (MessagePort, WebSocket): a frame of a plausible
 * length goes to `onReceive` (the stack's receive queue), then `wake` tells the driver;
 * anything else is counted and dropped.
 */
export function receiveMessage(
  link: MessageLinkReceiver,
  data: unknown,
  wake: (() => void) | undefined,
): void {
  const st = link.stats;
  const frame = messageBytes(data);
  if (
    frame === undefined ||
    frame.length < minFrameLength(link.linkType) ||
    frame.length > maxFrameLength(link.linkType, link.mtu)
  ) {
    st.rxErrors++;
    return;
  }
  st.rxFrames++;
  st.rxBytes += frame.length;
  const rx = link.onReceive;
  if (rx === null) {
    st.rxNoHandler++;
    return;
  }
  rx(frame);
  wake?.();
}

export class MessagePortLink implements Device {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly stats: MessageLinkStats = newMessageLinkStats();
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly port: FramePort;
  readonly #wake: (() => void) | undefined;
  readonly #listener: (event: MessageEventLike) => void;
  #closed = false;

  constructor(port: FramePort, options: MessageLinkOptions = {}) {
    this.port = port;
    this.name = options.name ?? 'mp0';
    this.linkType = options.linkType ?? 'ethernet';
    this.mtu = options.mtu ?? 1500;
    this.#wake = options.wake;
    this.#listener = (event) => this.#onMessage(event.data);
    port.addEventListener('message', this.#listener);
    port.start?.(); // A DOM MessagePort delivers nothing to addEventListener until started.
  }

  get closed(): boolean {
    return this.#closed;
  }

  transmit(frame: Uint8Array): void {
    const st = this.stats;
    if (this.#closed || frame.length > maxFrameLength(this.linkType, this.mtu)) {
      st.txDropped++;
      return;
    }
    // Transfer the buffer when the frame is all of it; otherwise copy the frame out.
    const own = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
    const buf = (own ? frame.buffer : frame.slice().buffer) as ArrayBuffer;
    st.txFrames++;
    st.txBytes += frame.length;
    this.port.postMessage(buf, [buf]);
  }

  #onMessage(data: unknown): void {
    if (!this.#closed) receiveMessage(this, data, this.#wake);
  }

  /** Stops sending and receiving and closes the port. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onReceive = null;
    this.port.removeEventListener('message', this.#listener);
    this.port.close();
  }
}
