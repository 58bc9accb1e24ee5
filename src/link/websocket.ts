/**
 * A link over a WebSocket: one Ethernet frame (no FCS) per binary message, nothing
 * else in the message. This is the framing v86's network relays (websockproxy,
 * go-websockproxy) use, and what `sockstack relay` speaks, so a page's stack can join
 * an Ethernet shared with Node stacks and emulated machines.
 *
 * It works with the browser's WebSocket and with the `ws` package in Node (both are
 * a FrameSocket). Text messages, frames shorter than an Ethernet header and frames
 * larger than the MTU allows are dropped and counted. When the socket's send buffer
 * holds more than `maxBufferedAmount` bytes, frames are dropped like a full NIC
 * queue; TCP recovers them.
 *
 *   const link = await connectWebSocketLink('ws://127.0.0.1:8080/', { wake: () => driver.kick() });
 *   stack.addInterface({ name: 'eth0', device: link, addresses: ['10.0.0.2/24'] });
 */
import { type HostTimers, systemTimers } from '../time/system.ts';
import type { Device, LinkType } from './device.ts';
import {
  type MessageLinkOptions,
  type MessageLinkStats,
  maxFrameLength,
  newMessageLinkStats,
  receiveMessage,
} from './message-port.ts';

/** WebSocket.OPEN (the same number in the DOM and in `ws`). */
const OPEN = 1;

interface SocketEvent {
  readonly type: string;
  data?: unknown;
  code?: number;
  reason?: string;
  message?: string;
}

/** What the link needs of a WebSocket: the DOM's and `ws`'s both fit. */
export interface FrameSocket {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: SocketEvent) => void,
  ): void;
  removeEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: SocketEvent) => void,
  ): void;
}

export interface WebSocketLinkOptions extends MessageLinkOptions {
  /** Drop frames while the socket buffers more than this many bytes. Default 1 MiB. */
  maxBufferedAmount?: number;
}

export class WebSocketLink implements Device {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly stats: MessageLinkStats = newMessageLinkStats();
  readonly socket: FrameSocket;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  /** Called once when the socket closes (`err` set when it failed). */
  onClose: ((err?: Error) => void) | null = null;
  readonly #wake: (() => void) | undefined;
  readonly #maxBuffered: number;
  #closed = false;
  readonly #closedPromise: Promise<void>;

  /** Wraps a socket that is open (or still connecting: frames sent before it opens are dropped). */
  constructor(socket: FrameSocket, options: WebSocketLinkOptions = {}) {
    this.socket = socket;
    this.name = options.name ?? 'ws0';
    this.linkType = options.linkType ?? 'ethernet';
    this.mtu = options.mtu ?? 1500;
    this.#wake = options.wake;
    this.#maxBuffered = options.maxBufferedAmount ?? 1 << 20;
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (e) => this.#onMessage(e.data));
    let failure: Error | undefined;
    socket.addEventListener('error', (e) => {
      failure ??= new Error(`WebSocket link ${this.name}: ${e.message ?? 'socket error'}`);
    });
    this.#closedPromise = new Promise((resolve) => {
      socket.addEventListener('close', () => {
        this.#closed = true;
        this.onReceive = null;
        const h = this.onClose;
        this.onClose = null;
        h?.(failure);
        resolve();
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  transmit(frame: Uint8Array): void {
    const st = this.stats;
    const s = this.socket;
    if (
      this.#closed ||
      s.readyState !== OPEN ||
      frame.length > maxFrameLength(this.linkType, this.mtu) ||
      s.bufferedAmount > this.#maxBuffered
    ) {
      st.txDropped++;
      return;
    }
    st.txFrames++;
    st.txBytes += frame.length;
    s.send(frame as Uint8Array<ArrayBuffer>);
  }

  #onMessage(data: unknown): void {
    if (!this.#closed) receiveMessage(this, data, this.#wake);
  }

  /** Closes the socket; resolves once it is closed. */
  close(): Promise<void> {
    if (!this.#closed && this.socket.readyState <= OPEN) this.socket.close(1000, 'link closed');
    return this.#closedPromise;
  }
}

/** A WebSocket constructor: the browser's, or `ws`'s WebSocket class in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => FrameSocket;

export interface ConnectWebSocketLinkOptions extends WebSocketLinkOptions {
  /** Default: `globalThis.WebSocket` (browsers, Node 22+). In Node 20 pass `WebSocket` from 'ws'. */
  WebSocket?: WebSocketConstructor;
  protocols?: string | string[];
  /** Give up when the socket has not opened after this long. Default 10000 ms. */
  timeoutMs?: number;
  /** The timer the connect timeout runs on. Default: the host's (src/time/system.ts). */
  timers?: HostTimers;
}

/** Opens a WebSocket to `url` and resolves with the link once the socket is open. */
export function connectWebSocketLink(
  url: string,
  options: ConnectWebSocketLinkOptions = {},
): Promise<WebSocketLink> {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Ctor === undefined) {
    throw Object.assign(new TypeError('connectWebSocketLink: no WebSocket here; pass options.WebSocket'), {
      code: 'ERR_MISSING_OPTION',
    });
  }
  const socket = new Ctor(url, options.protocols);
  const link = new WebSocketLink(socket, options);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const timers = options.timers ?? systemTimers;
  return new Promise((resolve, reject) => {
    let timer: unknown;
    const settle = (err?: Error): void => {
      if (timer !== undefined) timers.clear(timer);
      socket.removeEventListener('open', onOpen);
      socket.removeEventListener('close', onClose);
      if (err === undefined) resolve(link);
      else reject(err);
    };
    const onOpen = (): void => settle();
    const onClose = (e: SocketEvent): void =>
      settle(
        Object.assign(
          new Error(`connectWebSocketLink: ${url} closed before opening (code ${e.code ?? '?'})`),
          {
            code: 'ECONNREFUSED',
          },
        ),
      );
    socket.addEventListener('open', onOpen);
    socket.addEventListener('close', onClose);
    timer = timers.set(() => {
      settle(
        Object.assign(new Error(`connectWebSocketLink: ${url} did not open in ${timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
      socket.close();
    }, timeoutMs);
  });
}
