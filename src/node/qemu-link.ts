/**
 * Links that speak QEMU's socket network backends, so a stack can be the other
 * end of a VM's NIC (or of passt, which uses the same stream framing):
 *
 * - `-netdev stream` (and the legacy `-netdev socket,connect=|listen=`): a TCP or
 *   Unix stream carrying each Ethernet frame as a 4-byte big-endian length, then
 *   the frame, no FCS (QEMU net/stream_data.c; passt tap.c `struct tap_hdr`).
 *   We always write length + frame in ONE syscall (one buffer, or for a big frame two
 *   buffers of one corked writev): Debian 12's passt silently ignored a length written
 *   by a separate write().
 * - `-netdev dgram`: one Ethernet frame per UDP datagram, no header.
 *
 * QEMU examples (we are the server, QEMU connects):
 *   qemu ... -netdev stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/s.sock
 *   qemu ... -netdev dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=P+1,
 *                   remote.type=inet,remote.host=127.0.0.1,remote.port=P
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Device, LinkType } from '../link/device.ts';
import { releaseFrame } from '../link/frame-alloc.ts';

/** QEMU's NET_BUFSIZE (4096 + 65536): the largest frame QEMU itself accepts. */
export const STREAM_MAX_FRAME = 4096 + 65536;
/** The largest UDP payload over IPv4 (65535 - 20 - 8). */
export const UDP4_MAX_PAYLOAD = 65507;

export interface LinkStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames not sent: link closed, too big for the transport, or the send buffer over its limit. */
  txDropped: number;
  /** Received data that was not a valid frame (bad length, bad header, unknown peer). */
  rxErrors: number;
  /** Frames that arrived while `onReceive` was null. */
  rxNoHandler: number;
}

export function newLinkStats(): LinkStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDropped: 0, rxErrors: 0, rxNoHandler: 0 };
}

/** A Device over a host socket; `close()` resolves when the socket is closed. */
export interface SocketLink extends Device {
  readonly stats: LinkStats;
  /** Called once when the link ends: `err` is set for garbage from the peer or a socket error. */
  onClose: ((err?: Error) => void) | null;
  readonly closed: boolean;
  close(): Promise<void>;
}

export interface LinkOptions {
  /** Device name (for logs and captures). */
  name?: string;
  /** Default 'ethernet'; 'ip' carries bare IP packets (no QEMU peer does, but our own stacks may). */
  linkType?: LinkType;
  /** IP MTU the stack should use; default 1500. It does not limit what is received. */
  mtu?: number;
}

/**
 * Incremental de-framer for the stream framing: feed it whatever each read
 * returned; it calls `onFrame` for every complete frame (frames may be split
 * across reads, and one read may hold many). A length outside
 * [minFrame, maxFrame] means the stream is garbage (or out of sync); `onError`
 * is called once and everything after is ignored.
 *
 * Frames handed out are views into the chunks pushed (when a frame lies inside
 * one chunk) or into a fresh buffer (when it spans chunks): the receiver may keep
 * them, so callers must not reuse a chunk they pushed.
 */
export class StreamDeframer {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  onError: ((err: Error) => void) | null = null;
  readonly minFrame: number;
  readonly maxFrame: number;
  #hdr = new Uint8Array(4);
  #hdrHave = 0;
  /** Body being assembled across chunks, and how much of it we have. */
  #body: Uint8Array | null = null;
  #bodyHave = 0;
  #failed = false;

  constructor(minFrame = 14, maxFrame = STREAM_MAX_FRAME) {
    this.minFrame = minFrame;
    this.maxFrame = maxFrame;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** True when no partial frame is buffered (a clean place for the stream to end). */
  get idle(): boolean {
    return this.#hdrHave === 0 && this.#body === null;
  }

  push(chunk: Uint8Array): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && !this.#failed) {
      const body = this.#body;
      if (body !== null) {
        const take = Math.min(body.length - this.#bodyHave, n - off);
        body.set(chunk.subarray(off, off + take), this.#bodyHave);
        this.#bodyHave += take;
        off += take;
        if (this.#bodyHave === body.length) {
          this.#body = null;
          this.#bodyHave = 0;
          this.#deliver(body);
        }
        continue;
      }
      let len: number;
      if (this.#hdrHave === 0 && n - off >= 4) {
        // Fast path: the whole header is in this chunk.
        len = ((chunk[off] << 24) | (chunk[off + 1] << 16) | (chunk[off + 2] << 8) | chunk[off + 3]) >>> 0;
        off += 4;
      } else {
        const hdr = this.#hdr;
        while (this.#hdrHave < 4 && off < n) hdr[this.#hdrHave++] = chunk[off++];
        if (this.#hdrHave < 4) return;
        this.#hdrHave = 0;
        len = ((hdr[0] << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3]) >>> 0;
      }
      if (len < this.minFrame || len > this.maxFrame) {
        this.#failed = true;
        const h = this.onError;
        if (h) h(new Error(`stream link: frame length ${len} outside ${this.minFrame}..${this.maxFrame}`));
        return;
      }
      if (n - off >= len) {
        // Whole frame inside this chunk: hand out a view, no copy.
        const frame = new Uint8Array(chunk.buffer, chunk.byteOffset + off, len);
        off += len;
        this.#deliver(frame);
      } else {
        this.#body = new Uint8Array(len);
        this.#bodyHave = 0;
      }
    }
  }

  #deliver(frame: Uint8Array): void {
    const h = this.onFrame;
    if (h) h(frame);
  }
}

/** Frames shorter than this are copied behind their length (one small buffer); longer ones are not. */
const COPY_FRAME_MAX = 4096;

/** Encodes one frame with its 4-byte big-endian length, in one buffer. */
export function encodeStreamFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}

export interface StreamLinkOptions extends LinkOptions {
  /** Largest frame accepted from the peer; default QEMU's NET_BUFSIZE (69632). */
  maxFrame?: number;
  /** Smallest frame accepted; default 14 (an Ethernet header) for 'ethernet', 1 for 'ip'. */
  minFrame?: number;
  /** Bytes buffered in the socket beyond which transmit drops frames (a link, not a queue). Default 4 MiB. */
  maxBuffered?: number;
}

/** A `-netdev stream` link over a connected socket (TCP, Unix, or any net.Socket). */
export class StreamLink implements SocketLink {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly stats: LinkStats = newLinkStats();
  readonly socket: net.Socket;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  onClose: ((err?: Error) => void) | null = null;
  #deframer: StreamDeframer;
  #maxBuffered: number;
  #closed = false;
  #closedPromise: Promise<void>;
  #error: Error | undefined;

  constructor(socket: net.Socket, options: StreamLinkOptions = {}) {
    this.socket = socket;
    this.linkType = options.linkType ?? 'ethernet';
    this.mtu = options.mtu ?? 1500;
    this.name = options.name ?? 'stream0';
    this.#maxBuffered = options.maxBuffered ?? 4 << 20;
    const maxFrame = options.maxFrame ?? STREAM_MAX_FRAME;
    const minFrame = options.minFrame ?? (this.linkType === 'ethernet' ? 14 : 1);
    this.#deframer = new StreamDeframer(minFrame, maxFrame);
    this.#deframer.onFrame = (frame) => {
      const st = this.stats;
      st.rxFrames++;
      st.rxBytes += frame.length;
      const rx = this.onReceive;
      if (rx === null || this.#closed) st.rxNoHandler++;
      else rx(frame);
    };
    this.#deframer.onError = (err) => {
      this.stats.rxErrors++;
      this.#error = err;
      socket.destroy();
    };
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.#deframer.push(chunk));
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    socket.on('end', () => {
      // The peer stopped in the middle of a frame: that frame is lost.
      if (!this.#deframer.idle && !this.#deframer.failed) {
        this.stats.rxErrors++;
        this.#error ??= new Error('stream link: peer closed in the middle of a frame');
      }
    });
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        const first = !this.#closed;
        this.#closed = true;
        if (first) {
          const h = this.onClose;
          if (h) h(this.#error);
        }
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
    if (this.#closed || s.destroyed || !s.writable || s.writableLength > this.#maxBuffered) {
      st.txDropped++;
      return;
    }
    st.txFrames++;
    st.txBytes += frame.length;
    // The frames of one turn of the event loop (a poll's output) go out in one writev: a
    // write per frame cost more than the rest of the stack in a bulk transfer to a guest.
    if (!this.#corked) {
      this.#corked = true;
      s.cork();
      process.nextTick(this.#uncork);
    }
    if (frame.length < COPY_FRAME_MAX) {
      s.write(encodeStreamFrame(frame));
    } else {
      // A big frame is not copied behind its length: the two go out as two buffers of the
      // corked writev (one syscall, so a reader sees the same bytes as from one write()).
      // Copying 64 KiB frames cost a quarter of the gateway's time in a guest download.
      // Once written, the frame's buffer goes back to the allocator for the next segment.
      const hdr = Buffer.allocUnsafe(4);
      hdr.writeUInt32BE(frame.length, 0);
      s.write(hdr);
      s.write(frame, (err) => {
        if (!err) releaseFrame(frame);
      });
    }
  }

  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.socket.uncork();
  };

  /** Ends the stream after what was written has been sent; resolves when the socket closed. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const h = this.onClose;
      this.onClose = null;
      this.onReceive = null;
      if (h) h();
      const s = this.socket;
      s.end(() => s.destroy());
      // A peer that never reads could hold `end` forever; don't let it.
      const t = setTimeout(() => s.destroy(), 2000);
      t.unref();
    }
    return this.#closedPromise;
  }
}

export type StreamAddress = { path: string } | { host?: string; port: number };

function isPath(a: StreamAddress): a is { path: string } {
  return typeof (a as { path?: unknown }).path === 'string';
}

/** Connects to a stream server (QEMU `server=on`, passt's Unix socket, or listenStreamLink). */
export function connectStreamLink(
  address: StreamAddress,
  options: StreamLinkOptions = {},
): Promise<StreamLink> {
  return new Promise((resolve, reject) => {
    const socket = isPath(address)
      ? net.connect({ path: address.path })
      : net.connect({ host: address.host ?? '127.0.0.1', port: address.port });
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(new StreamLink(socket, options));
    });
  });
}

/** A listening stream server; each accepted connection is one link (QEMU `server=off` connects here). */
export interface StreamLinkServer {
  /** The bound address (TCP port filled in when 0 was asked for). */
  readonly address: { path: string } | { host: string; port: number };
  /** Resolves with the next accepted connection. */
  accept(): Promise<StreamLink>;
  /** Called for each connection when no `accept()` is waiting; if null, connections queue for accept(). */
  onConnection: ((link: StreamLink) => void) | null;
  /** Stops listening (removes a Unix socket file); accepted links stay open. */
  close(): Promise<void>;
}

export function listenStreamLink(
  address: StreamAddress,
  options: StreamLinkOptions = {},
): Promise<StreamLinkServer> {
  return new Promise((resolve, reject) => {
    const queue: StreamLink[] = [];
    const waiters: Array<{ resolve: (l: StreamLink) => void; reject: (e: Error) => void }> = [];
    let closed = false;
    const server = net.createServer((socket) => {
      const link = new StreamLink(socket, options);
      const w = waiters.shift();
      if (w) w.resolve(link);
      else if (api.onConnection) api.onConnection(link);
      else queue.push(link);
    });
    const api: StreamLinkServer = {
      address: { path: '' },
      onConnection: null,
      accept() {
        const l = queue.shift();
        if (l) return Promise.resolve(l);
        if (closed) return Promise.reject(new Error('stream link server is closed'));
        return new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
      },
      close() {
        closed = true;
        for (const w of waiters.splice(0)) w.reject(new Error('stream link server is closed'));
        return new Promise((res) => server.close(() => res()));
      },
    };
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      const a = server.address();
      (api as { address: StreamLinkServer['address'] }).address =
        typeof a === 'string' || a === null
          ? { path: (address as { path: string }).path }
          : { host: a.address, port: a.port };
      resolve(api);
    };
    if (isPath(address)) server.listen(address.path, onListening);
    else server.listen(address.port, address.host ?? '127.0.0.1', onListening);
  });
}

export interface DgramLinkOptions extends LinkOptions {
  /** Local UDP port (0: any); bound on `host`. */
  localPort: number;
  /** The peer's port; omitted: learnt from the first datagram received. */
  remotePort?: number;
  /** Local address; default 127.0.0.1. */
  host?: string;
  /** Peer address; default `host`. */
  remoteHost?: string;
}

/** A `-netdev dgram` link: one frame per UDP datagram, no header. */
export class DgramLink implements SocketLink {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly stats: LinkStats = newLinkStats();
  readonly socket: dgram.Socket;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  onClose: ((err?: Error) => void) | null = null;
  remoteHost: string | undefined;
  remotePort: number | undefined;
  #minFrame: number;
  #closed = false;
  #closedPromise: Promise<void>;

  constructor(socket: dgram.Socket, options: Omit<DgramLinkOptions, 'localPort'> = {}) {
    this.socket = socket;
    this.linkType = options.linkType ?? 'ethernet';
    this.mtu = options.mtu ?? 1500;
    this.name = options.name ?? 'dgram0';
    this.remotePort = options.remotePort;
    this.remoteHost = options.remoteHost ?? options.host ?? '127.0.0.1';
    this.#minFrame = this.linkType === 'ethernet' ? 14 : 1;
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      const st = this.stats;
      if (msg.length < this.#minFrame) {
        st.rxErrors++;
        return;
      }
      if (this.remotePort === undefined) {
        this.remotePort = rinfo.port;
        this.remoteHost = rinfo.address;
      }
      st.rxFrames++;
      st.rxBytes += msg.length;
      const rx = this.onReceive;
      if (rx === null || this.#closed) st.rxNoHandler++;
      else rx(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    });
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        const first = !this.#closed;
        this.#closed = true;
        if (first) this.onClose?.();
        resolve();
      });
    });
    // UDP errors (e.g. ICMP port unreachable surfaced on some systems) are not fatal for a link.
    socket.on('error', () => {
      this.stats.txDropped++;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  transmit(frame: Uint8Array): void {
    const st = this.stats;
    if (this.#closed || this.remotePort === undefined || frame.length > UDP4_MAX_PAYLOAD) {
      st.txDropped++;
      return;
    }
    st.txFrames++;
    st.txBytes += frame.length;
    this.socket.send(frame, this.remotePort, this.remoteHost, (err) => {
      if (err) {
        st.txFrames--;
        st.txBytes -= frame.length;
        st.txDropped++;
      }
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.onReceive = null;
      const h = this.onClose;
      this.onClose = null;
      if (h) h();
      this.socket.close();
    }
    return this.#closedPromise;
  }
}

/** Binds a UDP socket and returns a dgram link (QEMU `-netdev dgram` with inet addresses). */
export function dgramLink(options: DgramLinkOptions): Promise<DgramLink> {
  return new Promise((resolve, reject) => {
    const host = options.host ?? '127.0.0.1';
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    socket.once('error', reject);
    socket.bind(options.localPort, host, () => {
      socket.off('error', reject);
      resolve(new DgramLink(socket, options));
    });
  });
}
