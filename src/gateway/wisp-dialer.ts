/**
 * A gateway's way out from a page: host streams and datagram sockets as Wisp streams
 * (src/wisp/client.ts) through a Wisp server (`sockstack wisp`, or any Wisp v1 server),
 * which opens the real sockets. With it, a guest in a page (v86, on a V86Link) reaches
 * the world the way a QEMU guest does through the OS dialer.
 *
 *   const client = await WispClient.connect('wss://relay.example/');
 *   const gw = new Gateway({ clock, rng, device: new V86Link(emulator), dialer: new WispDialer(client) });
 */
import type { WispClient, WispStream } from '../wisp/client.ts';
import { closeReasonError, WispCloseReason } from '../wisp/reasons.ts';
import type { Dialer, HostDatagram, HostStream } from './dialer.ts';

/** Bytes read from a stream per `onData` call. */
const READ_CHUNK = 64 * 1024;

function streamError(s: WispStream, connecting: boolean): (Error & { code?: string }) | undefined {
  const reason = s.closeReason ?? WispCloseReason.UNKNOWN;
  if (reason === WispCloseReason.VOLUNTARY) return undefined;
  const e = closeReasonError(reason, connecting);
  if (e === undefined) return undefined;
  return Object.assign(new Error(`${e.code}: ${s.host}:${s.port}: ${e.detail}`), { code: e.code });
}

/**
 * A HostStream over an open Wisp TCP stream. Bytes (and the end) that arrive before the
 * splice set `onData` wait in the stream; setting it delivers them, in a microtask.
 */
function hostStream(s: WispStream): HostStream {
  /** Bytes the stream's send queue did not take yet, in order. */
  const pending: Uint8Array[] = [];
  let blocked = false;
  let paused = false;
  let done = false;
  let onData: ((data: Uint8Array) => void) | undefined;
  let flushing = false;
  const flush = (): void => {
    // The stream calls onChange from inside its own write (it sends at once while it has
    // credit): not again from there, or a chunk would go twice.
    if (flushing) return;
    flushing = true;
    try {
      while (pending.length > 0) {
        const chunk = pending[0];
        const n = s.write(chunk);
        if (n === chunk.length) pending.shift();
        else {
          if (n > 0) pending[0] = chunk.subarray(n);
          return;
        }
      }
    } finally {
      flushing = false;
    }
    if (blocked) {
      blocked = false;
      hs.onDrain?.();
    }
  };
  let delivering = false;
  const deliver = (): void => {
    if (delivering) return;
    delivering = true;
    try {
      // Bounded: each pass reads at most what is queued.
      for (let i = 0; i < 4096 && !paused && !done && onData !== undefined; i++) {
        const d = s.read(READ_CHUNK);
        if (d === undefined) break;
        onData(d);
      }
    } finally {
      delivering = false;
    }
    if (!done && s.ended && s.receivedBytes === 0 && onData !== undefined) {
      done = true;
      const err = streamError(s, false);
      if (err === undefined) hs.onEnd?.();
      hs.onClose?.(err);
    }
  };
  const hs: HostStream = {
    write(data) {
      if (done || s.state === 'closed') return false;
      pending.push(data);
      flush();
      if (pending.length > 0) blocked = true;
      return pending.length === 0;
    },
    end() {
      // Deviation: Wisp v1 has no half-close (a CLOSE ends both directions), so the guest's
      // FIN is not passed on: the stream stays open for the reply, and ends when the server
      // closes it or the splice destroys it.
    },
    destroy() {
      if (done) return;
      done = true;
      pending.length = 0;
      s.onChange = null;
      s.close(WispCloseReason.VOLUNTARY);
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      deliver();
    },
    get onData() {
      return onData;
    },
    set onData(fn) {
      onData = fn;
      // After the caller's other handlers (onEnd, onClose) are set too.
      if (fn !== undefined) queueMicrotask(deliver);
    },
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
  };
  s.onChange = () => {
    flush();
    deliver();
  };
  return hs;
}

/** A HostDatagram over Wisp UDP streams: one stream per destination (host, port). */
function hostDatagram(client: WispClient): HostDatagram {
  const streams = new Map<string, WispStream>();
  let closed = false;
  const hd: HostDatagram = {
    send(data, host, port) {
      if (closed) return;
      const key = `${host}:${port}`;
      let s = streams.get(key);
      if (s === undefined || s.state === 'closed') {
        try {
          s = client.open('udp', host, port);
        } catch {
          return; // the Wisp connection is gone: the datagram is lost, as UDP allows
        }
        const stream = s;
        streams.set(key, stream);
        stream.onChange = () => {
          for (let i = 0; i < 1024; i++) {
            const d = stream.read(Number.MAX_SAFE_INTEGER);
            if (d === undefined) break;
            hd.onMessage?.(d, host, port);
          }
          if (stream.state === 'closed' && streams.get(key) === stream) streams.delete(key);
        };
      }
      s.write(data);
    },
    onMessage: undefined,
    close() {
      closed = true;
      for (const s of streams.values()) {
        s.onChange = null;
        s.close();
      }
      streams.clear();
    },
  };
  return hd;
}

export class WispDialer implements Dialer {
  readonly client: WispClient;

  constructor(client: WispClient) {
    this.client = client;
  }

  connect(host: string, port: number): Promise<HostStream> {
    let s: WispStream;
    try {
      s = this.client.open('tcp', host, port);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        if (s.state === 'open') {
          s.onChange = null;
          resolve(hostStream(s));
        } else if (s.state === 'closed') {
          s.onChange = null;
          reject(
            streamError(s, true) ??
              Object.assign(new Error(`ECONNRESET: ${host}:${port}: the Wisp server closed the stream`), {
                code: 'ECONNRESET',
              }),
          );
        }
      };
      s.onChange = settle;
      settle();
    });
  }

  openDatagram(): HostDatagram {
    return hostDatagram(this.client);
  }
}
