/**
 * A gateway dialer over Wisp (src/wisp/client.ts): the guest's TCP connections and UDP
 * flows become streams of one Wisp connection, so a gateway runs where no OS sockets
 * exist (a web page, with the page's WebSocket to a Wisp server).
 *
 *   const client = await WispClient.connect('wss://relay.example/', { WebSocket });
 *   const gw = new Gateway({ ..., dialer: new WispDialer(client) });
 *
 * - connect: a TCP stream; it resolves at the server's first CONTINUE (the destination
 *   accepted) and rejects with the CLOSE's reason as a Node-style code (reasons.ts:
 *   REFUSED → ECONNREFUSED, UNREACHABLE → EHOSTUNREACH, ...), so the gateway refuses the
 *   guest's SYN with a RST as it does for the OS dialer.
 * - Back-pressure: writes beyond the stream's send queue wait here and `write` returns
 *   false until the queue has room (`onDrain`). Reading: `pause` stops taking bytes from
 *   the stream; they wait in its receive queue, and past the client's limit the client
 *   pauses the whole WebSocket where it can (Wisp v1 has no per-stream receive window).
 * - A CLOSE with reason VOLUNTARY is the host's orderly end (onEnd, then onClose); any
 *   other reason is an error (onClose with its code).
 * - UDP: one Wisp UDP stream per destination (host, port) a datagram socket sends to, at
 *   most `maxUdpPeers` of them (the least recently used is closed to make room).
 */
import type { WispClient, WispStream } from '../wisp/client.ts';
import { closeReasonError, WispCloseReason } from '../wisp/reasons.ts';
import type { Dialer, HostDatagram, HostStream } from './dialer.ts';

export interface WispDialerOptions {
  /** Destinations one datagram socket may talk to at once (default 64). */
  maxUdpPeers?: number;
}

/** Bytes taken from a stream's receive queue per `onData` call. */
const READ_CHUNK = 256 * 1024;
/** Reads per change notification (bounded; the rest waits for the next one). */
const MAX_READS = 1024;

type CodedError = Error & { code?: string };

function streamError(s: WispStream, connecting: boolean): CodedError | undefined {
  if (s.closedByUs) return undefined;
  const e = closeReasonError(s.closeReason ?? WispCloseReason.UNKNOWN, connecting);
  return e && Object.assign(new Error(`${e.code}: ${e.detail}`), { code: e.code });
}

export class WispDialer implements Dialer {
  readonly client: WispClient;
  readonly #maxUdpPeers: number;

  constructor(client: WispClient, options: WispDialerOptions = {}) {
    this.client = client;
    this.#maxUdpPeers = Math.max(1, options.maxUdpPeers ?? 64);
  }

  connect(host: string, port: number): Promise<HostStream> {
    let s: WispStream;
    try {
      s = this.client.open('tcp', host, port);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (s.state === 'open') {
          s.onChange = null;
          resolve(wispStream(s));
        } else if (s.state === 'closed') {
          s.onChange = null;
          reject(
            streamError(s, true) ??
              Object.assign(new Error(`ECONNREFUSED: wisp stream to ${host}:${port} closed`), {
                code: 'ECONNREFUSED',
              }),
          );
        }
      };
      s.onChange = check;
      check();
    });
  }

  openDatagram(): HostDatagram {
    const client = this.client;
    const max = this.#maxUdpPeers;
    /** host:port → stream; Map order is least recently used first. */
    const peers = new Map<string, WispStream>();
    let closed = false;
    const hd: HostDatagram = {
      send: (data, host, port) => {
        if (closed) return;
        const key = `${host}|${port}`;
        let s = peers.get(key);
        if (s !== undefined && s.state === 'closed') {
          peers.delete(key);
          s = undefined;
        }
        if (s === undefined) {
          if (peers.size >= max) {
            const [oldKey, old] = peers.entries().next().value as [string, WispStream];
            peers.delete(oldKey);
            old.onChange = null;
            old.close();
          }
          try {
            s = client.open('udp', host, port);
          } catch {
            return; // the transport is gone: a datagram is lost, as on a down link
          }
          const stream = s;
          stream.onChange = () => {
            for (let i = 0; i < MAX_READS; i++) {
              const d = stream.read(65535);
              if (d === undefined) break;
              hd.onMessage?.(d, host, port);
            }
            if (stream.state === 'closed' && peers.get(key) === stream) peers.delete(key);
          };
        } else {
          peers.delete(key); // most recently used: to the end
        }
        peers.set(key, s);
        s.write(data);
      },
      onMessage: undefined,
      close: () => {
        closed = true;
        for (const s of peers.values()) {
          s.onChange = null;
          s.close();
        }
        peers.clear();
      },
    };
    return hd;
  }
}

/** A HostStream over an open Wisp TCP stream. @internal Exported for its unit test. */
export function wispStream(s: WispStream): HostStream {
  /** Bytes the stream's send queue had no room for, in order. */
  const waiting: Uint8Array[] = [];
  let blocked = false; // write returned false: onDrain owed
  let paused = false;
  let finished = false;

  /**
   * A write calls back into `changed` (the stream's pump reports the change at once), which
   * must not flush again: the inner call would write the head a second time before the
   * outer one drops it (bytes sent twice, and a recursion as deep as the queue).
   */
  let flushing = false;
  const flushWaiting = (): void => {
    if (flushing) return;
    flushing = true;
    try {
      while (waiting.length > 0) {
        const head = waiting[0]!;
        const n = s.write(head);
        if (n === head.length) waiting.shift();
        else {
          if (n > 0) waiting[0] = head.subarray(n);
          return;
        }
      }
    } finally {
      flushing = false;
    }
  };

  const changed = (): void => {
    if (finished) return;
    if (waiting.length > 0) flushWaiting();
    if (blocked && waiting.length === 0 && s.state !== 'closed') {
      blocked = false;
      hs.onDrain?.();
    }
    // Bytes wait in the stream until someone takes them (the gateway sets onData late).
    for (let i = 0; i < MAX_READS && !paused && !finished && hs.onData; i++) {
      const d = s.read(READ_CHUNK);
      if (d === undefined) break;
      hs.onData?.(d);
    }
    if (s.state === 'closed' && s.receivedBytes === 0 && !finished) {
      finished = true;
      s.onChange = null;
      const err = streamError(s, false);
      if (err === undefined) hs.onEnd?.();
      hs.onClose?.(err);
    }
  };

  const hs: HostStream = {
    write: (data) => {
      if (finished || s.state === 'closed') return false;
      if (waiting.length === 0) {
        const n = s.write(data);
        if (n === data.length) return true;
        data = data.subarray(n);
      }
      waiting.push(data.slice()); // the caller may reuse its buffer
      blocked = true;
      return false;
    },
    end: () => {
      // Deviation: Wisp v1 has no half-close (a CLOSE ends both directions), so the
      // guest's FIN is not passed on: the stream stays open for the host's reply and is
      // closed when the host ends it or the guest's connection closes (destroy()).
    },
    destroy: () => {
      if (finished) return;
      finished = true;
      s.onChange = null;
      waiting.length = 0;
      s.close(WispCloseReason.VOLUNTARY);
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      queueMicrotask(changed); // not from inside the caller's own callback
    },
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
  };
  s.onChange = changed;
  return hs;
}
