/**
 * The Wisp v1 client multiplexer: many TCP and UDP streams over one WebSocket (the
 * browser's WebSocket or the `ws` package's; anything shaped like `FrameSocket`).
 *
 * What the specification asks of a client, and where each is done here:
 * - "The client must wait for this CONTINUE packet [stream 0, sent by the server
 *   immediately after the WebSocket opens] to be received before beginning any
 *   communications": `ready` resolves on it, and `WispClient.connect` waits for it.
 *   Its buffer size is every new TCP stream's starting credit.
 * - Stream ids are chosen by the client, never 0 (reserved for that first CONTINUE).
 * - Flow control ("CONTINUE"): each DATA packet sent on a TCP stream takes one unit of
 *   the stream's credit; at zero the client sends no more DATA until a CONTINUE sets a
 *   new value ("resets this value"). Bytes the application writes meanwhile wait in the
 *   stream's bounded send queue, and `write` accepts nothing when that queue is full:
 *   that is what blocks a socket's `send`. UDP streams have no credit.
 * - CLOSE from the server ends the stream at once; its reason decides the socket error
 *   (reasons.ts). A CLOSE from the client is sent after the stream's queued bytes.
 *
 * Knowing when a TCP stream is established: v1 has no "connected" packet, so a stream
 * counts as established at the first CONTINUE or DATA on it (our server sends a
 * CONTINUE once the destination accepted the connection; a refusal is a CLOSE).
 * `confirmConnect: false` treats a stream as established as soon as it is opened, for
 * servers that send nothing until the destination speaks.
 *
 * Receiving: v1 gives a client no way to slow the server down per stream. Received
 * bytes wait in the stream's queue until the application reads them; when a stream
 * holds more than `receiveBufferBytes` and the transport can pause (the `ws` package
 * can; a browser WebSocket cannot), the whole WebSocket is paused until the queues
 * drain, and the server, seeing its WebSocket back up, stops reading the destination.
 */
import type { FrameSocket } from '../link/websocket.ts';
import { type HostTimers, systemTimers } from '../time/system.ts';
import { isWireError } from '../wire/error.ts';
import {
  emitWispPacket,
  parseWispPacket,
  WISP_CLOSE,
  WISP_CONNECT,
  WISP_CONTINUE,
  WISP_DATA,
  WISP_STREAM_TCP,
  WISP_STREAM_UDP,
  type WispPacket,
} from './packet.ts';
import { WispCloseReason } from './reasons.ts';

/** WebSocket.OPEN / CLOSING (the same numbers in the DOM and in `ws`). */
const OPEN = 1;
const CLOSING = 2;

/** A WebSocket the client can use; `pause`/`resume` where the implementation has them (`ws`). */
export interface WispTransport extends FrameSocket {
  pause?(): void;
  resume?(): void;
}

export interface WispClientOptions {
  /** Largest DATA payload sent on a TCP stream, in bytes. Default 32 KiB. */
  maxDataPayload?: number;
  /** Bytes a TCP stream queues for sending before `write` accepts no more. Default 256 KiB. */
  sendBufferBytes?: number;
  /** Bytes a stream holds unread before the transport is paused (where it can be). Default 1 MiB. */
  receiveBufferBytes?: number;
  /** Whether a TCP stream waits for the server's first CONTINUE or DATA to count as established. Default true. */
  confirmConnect?: boolean;
}

export interface WispClientStats {
  packetsIn: number;
  packetsOut: number;
  /** Messages that were not a Wisp packet (text, truncated, malformed, unknown type): dropped. */
  badPackets: number;
  /** Packets a client never expects (CONNECT from the server, CONTINUE on a UDP stream): dropped. */
  unexpectedPackets: number;
  /** Packets for a stream that is not open (late DATA after our CLOSE): dropped. */
  unknownStream: number;
  bytesIn: number;
  bytesOut: number;
  /** Times the transport was paused because a stream's receive queue was full. */
  pauses: number;
  /** The most bytes any stream has held unread. */
  maxStreamBytes: number;
}

export type WispStreamState = 'connecting' | 'open' | 'closed';

/** One Wisp stream: a TCP connection or a UDP flow the server holds for us. */
export class WispStream {
  readonly id: number;
  readonly type: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
  /** DATA packets the server can still buffer for us (TCP). */
  credit: number;
  /** Called after anything a reader or writer waits for changed: data, credit, state. */
  onChange: (() => void) | null = null;
  #state: WispStreamState;
  #closeReason: number | undefined;
  #closedByUs = false;
  /** Close after the send queue empties (our close with bytes still queued). */
  #closing: number | undefined;
  readonly #rx: Uint8Array[] = [];
  #rxHead = 0;
  #rxBytes = 0;
  readonly #tx: Uint8Array[] = [];
  #txBytes = 0;
  readonly #client: WispClient;

  /** @internal: made by `WispClient.open`. */
  constructor(
    client: WispClient,
    id: number,
    type: 'tcp' | 'udp',
    host: string,
    port: number,
    credit: number,
  ) {
    this.#client = client;
    this.id = id;
    this.type = type;
    this.host = host;
    this.port = port;
    this.credit = credit;
    this.#state = type === 'udp' || !client.confirmConnect ? 'open' : 'connecting';
  }

  get state(): WispStreamState {
    return this.#state;
  }
  /** The reason of the CLOSE that ended the stream (undefined while open). */
  get closeReason(): number | undefined {
    return this.#closeReason;
  }
  /** Whether the stream was closed by this side (close()), not by the server. */
  get closedByUs(): boolean {
    return this.#closedByUs;
  }
  /** Bytes (TCP) or datagrams' bytes (UDP) received and not yet read. */
  get receivedBytes(): number {
    return this.#rxBytes;
  }
  /** Bytes queued for sending that the server's credit has not let out yet. */
  get queuedBytes(): number {
    return this.#txBytes;
  }

  /**
   * Queues bytes for sending and returns how many were taken (0: the queue is full).
   * TCP: up to the send queue's free space. UDP: the whole array is one datagram, sent
   * at once (returns its length), or 0 when the stream is not open.
   */
  write(data: Uint8Array): number {
    if (this.#state === 'closed' || this.#closing !== undefined) return 0;
    if (this.type === 'udp') {
      if (!this.#client.sendPacket({ type: WISP_DATA, streamId: this.id, payload: data })) return 0;
      return data.length;
    }
    const room = this.#client.sendBufferBytes - this.#txBytes;
    const n = Math.min(room, data.length);
    if (n <= 0) return 0;
    const max = this.#client.maxDataPayload;
    for (let off = 0; off < n; off += max) this.#tx.push(data.slice(off, Math.min(n, off + max)));
    this.#txBytes += n;
    this.pump();
    return n;
  }

  /** TCP: the next bytes, at most `max`, or undefined when none are queued. UDP: the next datagram, whole. */
  read(max: number, peek = false): Uint8Array | undefined {
    if (this.#rxHead >= this.#rx.length) return undefined;
    const first = this.#rx[this.#rxHead]!;
    if (this.type === 'udp') {
      if (!peek) this.#consume(1, first.length);
      return first;
    }
    if (first.length > max) {
      const out = first.slice(0, max);
      if (!peek) {
        this.#rx[this.#rxHead] = first.subarray(max);
        this.#consume(0, max);
      }
      return out;
    }
    // Gather whole chunks up to `max`.
    let len = 0;
    let k = this.#rxHead;
    while (k < this.#rx.length && len + this.#rx[k]!.length <= max) len += this.#rx[k++]!.length;
    const out = new Uint8Array(len);
    let o = 0;
    for (let i = this.#rxHead; i < k; i++) {
      out.set(this.#rx[i]!, o);
      o += this.#rx[i]!.length;
    }
    if (!peek) this.#consume(k - this.#rxHead, len);
    return out;
  }

  #consume(chunks: number, bytes: number): void {
    this.#rxHead += chunks;
    this.#rxBytes -= bytes;
    if (this.#rxHead > 64 && this.#rxHead * 2 > this.#rx.length) {
      this.#rx.splice(0, this.#rxHead);
      this.#rxHead = 0;
    }
    this.#client.readProgress();
  }

  /** Whether no more bytes will be read beyond those queued (the stream is closed). */
  get ended(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Closes the stream: a CLOSE with `reason` goes after the bytes already queued
   * (VOLUNTARY, the default, is the normal end). Received bytes stay readable.
   */
  close(reason: number = WispCloseReason.VOLUNTARY): void {
    if (this.#state === 'closed' || this.#closing !== undefined) return;
    this.#closedByUs = true;
    this.#closing = reason;
    this.pump();
  }

  /** Sends queued DATA while credit lasts; sends our CLOSE once the queue is empty. @internal */
  pump(): void {
    if (this.#state === 'connecting' && this.#closing === undefined) return;
    while (this.#tx.length > 0 && this.#state === 'open' && this.credit > 0) {
      const chunk = this.#tx[0]!;
      if (!this.#client.sendPacket({ type: WISP_DATA, streamId: this.id, payload: chunk })) break;
      this.#tx.shift();
      this.#txBytes -= chunk.length;
      // Spec "CONTINUE": "When sending a DATA packet, this value should be decremented by 1".
      this.credit--;
    }
    if (this.#closing !== undefined && (this.#tx.length === 0 || this.#state === 'connecting')) {
      const reason = this.#closing;
      this.#client.sendPacket({ type: WISP_CLOSE, streamId: this.id, reason });
      this.ended_(reason);
    } else this.#changed();
  }

  #changed(): void {
    this.onChange?.();
  }

  /** The server's CONTINUE: the new credit ("resets this value"). @internal */
  continue_(remaining: number): void {
    this.credit = remaining;
    if (this.#state === 'connecting') this.#state = 'open';
    this.pump();
  }

  /** The server's DATA. Returns whether this stream's queue is now over its limit. @internal */
  data_(payload: Uint8Array): boolean {
    if (this.#state === 'connecting') this.#state = 'open';
    if (this.#closing !== undefined || this.#state === 'closed') return false;
    // An empty DATA carries nothing on a TCP stream (and must not read as end of stream);
    // on a UDP stream it is an empty datagram.
    if (payload.length === 0 && this.type === 'tcp') return false;
    // The message's buffer belongs to us (a fresh ArrayBuffer per WebSocket message): keep a view.
    this.#rx.push(payload);
    this.#rxBytes += payload.length;
    const st = this.#client.stats;
    if (this.#rxBytes > st.maxStreamBytes) st.maxStreamBytes = this.#rxBytes;
    this.#changed();
    return this.#rxBytes > this.#client.receiveBufferBytes;
  }

  /** The stream is over (the server's CLOSE, our CLOSE sent, or the transport gone). @internal */
  ended_(reason: number): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeReason = reason;
    this.#tx.length = 0;
    this.#txBytes = 0;
    this.#client.forget(this);
    this.#changed();
  }
}

/** The multiplexer over one WebSocket. */
export class WispClient {
  readonly transport: WispTransport;
  readonly stats: WispClientStats = {
    packetsIn: 0,
    packetsOut: 0,
    badPackets: 0,
    unexpectedPackets: 0,
    unknownStream: 0,
    bytesIn: 0,
    bytesOut: 0,
    pauses: 0,
    maxStreamBytes: 0,
  };
  readonly maxDataPayload: number;
  readonly sendBufferBytes: number;
  readonly receiveBufferBytes: number;
  readonly confirmConnect: boolean;
  /** Resolves once the server's first CONTINUE (stream 0) arrived; rejects if the transport closes first. */
  readonly ready: Promise<void>;
  /** Called once when the transport closes (every stream has been ended). */
  onClose: (() => void) | null = null;
  #initialCredit: number | undefined;
  readonly #streams = new Map<number, WispStream>();
  #nextId = 1;
  #closed = false;
  #paused = false;
  #resolveReady: () => void = () => {};

  /** Wraps a WebSocket that is open or still connecting. */
  constructor(transport: WispTransport, options: WispClientOptions = {}) {
    this.transport = transport;
    this.maxDataPayload = positive(options.maxDataPayload, 32 * 1024, 'maxDataPayload');
    this.sendBufferBytes = positive(options.sendBufferBytes, 256 * 1024, 'sendBufferBytes');
    this.receiveBufferBytes = positive(options.receiveBufferBytes, 1 << 20, 'receiveBufferBytes');
    this.confirmConnect = options.confirmConnect ?? true;
    let rejectReady: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => {});
    transport.binaryType = 'arraybuffer';
    transport.addEventListener('message', (e) => this.#onMessage(e.data));
    // An 'error' always comes with a 'close'; keep its message for the rejection.
    let failure = '';
    transport.addEventListener('error', (e) => {
      failure ||= e.message ?? '';
    });
    transport.addEventListener('close', (e) => {
      this.#closed = true;
      const why = failure ? `, ${failure}` : '';
      rejectReady(
        Object.assign(
          new Error(
            `wisp: the WebSocket closed (code ${e.code ?? '?'}${why}) before the server's first CONTINUE`,
          ),
          { code: 'ECONNREFUSED' },
        ),
      );
      for (const s of [...this.#streams.values()]) s.ended_(WispCloseReason.NETWORK_ERROR);
      const h = this.onClose;
      this.onClose = null;
      h?.();
    });
  }

  /** Opens a WebSocket to `url` and resolves once the server's first CONTINUE arrived. */
  static async connect(url: string, options: ConnectWispOptions = {}): Promise<WispClient> {
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WispTransportConstructor }).WebSocket;
    if (Ctor === undefined)
      throw Object.assign(new TypeError('WispClient.connect: no WebSocket here; pass options.WebSocket'), {
        code: 'ERR_MISSING_OPTION',
      });
    const client = new WispClient(new Ctor(url), options);
    const timers = options.timers ?? systemTimers;
    const ms = options.timeoutMs ?? 10_000;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = timers.set(
        () =>
          reject(
            Object.assign(new Error(`wisp: ${url} sent no CONTINUE in ${ms} ms`), { code: 'ETIMEDOUT' }),
          ),
        ms,
      );
    });
    try {
      await Promise.race([client.ready, timeout]);
    } catch (e) {
      client.close();
      throw e;
    } finally {
      timers.clear(timer);
    }
    return client;
  }

  /** Whether the transport has closed. */
  get closed(): boolean {
    return this.#closed;
  }
  /** The buffer size of the server's first CONTINUE (undefined before it came). */
  get initialCredit(): number | undefined {
    return this.#initialCredit;
  }
  /** Streams currently open. */
  get streamCount(): number {
    return this.#streams.size;
  }
  /** The open streams. */
  get streams(): IterableIterator<WispStream> {
    return this.#streams.values();
  }

  /**
   * Opens a stream to `host`:`port` (the server resolves names). Throws a Node-style
   * error when the client is not ready (ENOTCONN) or the transport is gone (ECONNRESET).
   */
  open(type: 'tcp' | 'udp', host: string, port: number): WispStream {
    if (this.#closed || this.transport.readyState >= CLOSING)
      throw Object.assign(new Error('wisp: the WebSocket to the server is closed'), { code: 'ECONNRESET' });
    if (this.#initialCredit === undefined)
      throw Object.assign(
        new Error("wisp: the server's first CONTINUE has not arrived (await client.ready)"),
        {
          code: 'ENOTCONN',
        },
      );
    let id = this.#nextId;
    for (let i = 0; this.#streams.has(id) || id === 0; i++) {
      if (i > this.#streams.size)
        throw Object.assign(new Error('wisp: no free stream id'), { code: 'EMFILE' });
      id = (id + 1) >>> 0;
    }
    this.#nextId = (id + 1) >>> 0 || 1;
    const s = new WispStream(this, id, type, host, port, this.#initialCredit);
    this.#streams.set(id, s);
    this.sendPacket({
      type: WISP_CONNECT,
      streamId: id,
      streamType: type === 'tcp' ? WISP_STREAM_TCP : WISP_STREAM_UDP,
      port,
      hostname: host,
    });
    return s;
  }

  /** Closes the WebSocket (every stream ends). */
  close(): void {
    if (this.transport.readyState <= OPEN) this.transport.close(1000, 'wisp client closed');
  }

  /** Sends one packet; false when the transport is not open. @internal */
  sendPacket(p: WispPacket): boolean {
    if (this.#closed || this.transport.readyState !== OPEN) return false;
    const bytes = emitWispPacket(p);
    this.stats.packetsOut++;
    this.stats.bytesOut += bytes.length;
    this.transport.send(bytes);
    return true;
  }

  /** A stream ended: drop it from the table. @internal */
  forget(s: WispStream): void {
    if (this.#streams.get(s.id) === s) this.#streams.delete(s.id);
    this.readProgress();
  }

  /** A reader took bytes: resume the transport once no stream is over its limit. @internal */
  readProgress(): void {
    if (!this.#paused) return;
    for (const s of this.#streams.values()) if (s.receivedBytes > this.receiveBufferBytes / 2) return;
    this.#paused = false;
    this.transport.resume?.();
  }

  #onMessage(data: unknown): void {
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
      this.stats.badPackets++;
      return;
    }
    const bytes =
      data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const p = parseWispPacket(bytes);
    if (isWireError(p)) {
      this.stats.badPackets++;
      return;
    }
    this.stats.packetsIn++;
    this.stats.bytesIn += bytes.length;
    if (p.streamId === 0) {
      if (p.type === WISP_CONTINUE) {
        // Spec "Establishing a Websocket Connection": the initial buffer size for each stream.
        if (this.#initialCredit === undefined) {
          this.#initialCredit = p.bufferRemaining;
          this.#resolveReady();
        }
      } else if (p.type === WISP_CLOSE) {
        for (const s of [...this.#streams.values()]) s.ended_(p.reason);
      } else this.stats.unexpectedPackets++;
      return;
    }
    if (p.type === WISP_CONNECT) {
      this.stats.unexpectedPackets++; // only clients open streams
      return;
    }
    const s = this.#streams.get(p.streamId);
    if (s === undefined) {
      this.stats.unknownStream++;
      return;
    }
    switch (p.type) {
      case WISP_DATA:
        if (s.data_(p.payload) && !this.#paused && this.transport.pause) {
          this.#paused = true;
          this.stats.pauses++;
          this.transport.pause();
        }
        break;
      case WISP_CONTINUE:
        // "If the associated stream is a UDP socket, then CONTINUE packets must not be sent".
        if (s.type === 'udp') this.stats.unexpectedPackets++;
        else s.continue_(p.bufferRemaining);
        break;
      case WISP_CLOSE:
        s.ended_(p.reason);
        break;
      default:
        this.stats.unexpectedPackets++;
    }
  }
}

/** A WebSocket constructor: the browser's, or `ws`'s WebSocket class in Node. */
export type WispTransportConstructor = new (url: string) => WispTransport;

export interface ConnectWispOptions extends WispClientOptions {
  /** Default: `globalThis.WebSocket` (browsers, Node 22+). In Node 20 pass `WebSocket` from 'ws'. */
  WebSocket?: WispTransportConstructor;
  /** Give up when no CONTINUE arrived after this long. Default 10000 ms. */
  timeoutMs?: number;
  /** The timer the timeout runs on. Default: the host's. */
  timers?: HostTimers;
}

function positive(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1)
    throw Object.assign(new RangeError(`wisp: ${what} must be a positive integer, got ${v}`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  return v;
}
