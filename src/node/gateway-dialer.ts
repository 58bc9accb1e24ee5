/**
 * The OS dialer for a gateway (src/gateway/dialer.ts): host connections with node:net,
 * datagram sockets with node:dgram. `streamOver` wraps any connected net.Socket (the
 * inbound port forwards use it for accepted host connections).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Dialer, HostDatagram, HostPinger, HostStream } from '../gateway/dialer.ts';
import { PingSocketPinger } from './host-pinger.ts';

/**
 * The buffer every dialled connection reads into (net.connect's `onread`): the bytes are
 * handed to `onData` at once and consumed before the next read, so one buffer serves all
 * connections. A fresh 64 KiB Buffer per read (the 'data' event's) made the garbage
 * collector the gateway's largest cost in a guest download; and a bigger read hands the
 * stack more at once, so it sends several segments per turn.
 */
const READ_BUFFER_SIZE = 256 * 1024;
let readBuffer: Buffer | undefined;
const sharedReadBuffer = (): Buffer => {
  readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_SIZE);
  return readBuffer;
};

/**
 * A HostStream over a connected node socket (allowHalfOpen must be on for half-close).
 * `viaOnread`: the socket was made with `onread: sharedOnread(hs)` (no 'data' events).
 */
export function streamOver(sock: net.Socket, viaOnread?: { hs: HostStream }): HostStream {
  const hs: HostStream = {
    write: (data) => sock.write(data),
    end: () => {
      sock.end();
    },
    destroy: () => {
      // A reset towards the host peer where the platform has one (Node >= 16.17).
      if (typeof sock.resetAndDestroy === 'function' && !sock.destroyed && sock.readyState !== 'opening')
        sock.resetAndDestroy();
      else sock.destroy();
    },
    pause: () => {
      sock.pause();
    },
    resume: () => {
      sock.resume();
    },
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
  };
  let error: (Error & { code?: string }) | undefined;
  if (viaOnread) viaOnread.hs = hs;
  else sock.on('data', (d: Buffer) => hs.onData?.(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  sock.on('end', () => hs.onEnd?.());
  sock.on('drain', () => hs.onDrain?.());
  sock.on('error', (e) => {
    error = e;
  });
  sock.on('close', () => hs.onClose?.(error));
  return hs;
}

export interface OsDialerOptions {
  /** Milliseconds a connect may take (default 10000). */
  connectTimeoutMs?: number;
  /**
   * Forward the guest's pings through the host's ping sockets (host-pinger.ts; default
   * true). Where the host does not allow them, the gateway answers pings itself.
   */
  ping?: boolean;
}

export class OsDialer implements Dialer {
  readonly #timeout: number;
  readonly pinger: HostPinger | undefined;
  constructor(o: OsDialerOptions = {}) {
    this.#timeout = o.connectTimeoutMs ?? 10_000;
    this.pinger = o.ping === false ? undefined : new PingSocketPinger();
  }

  connect(host: string, port: number): Promise<HostStream> {
    return new Promise((resolve, reject) => {
      // Reads go to the shared buffer; `onData` gets a view valid during the call.
      const target: { hs: HostStream | undefined } = { hs: undefined };
      const sock = net.createConnection({
        host,
        port,
        allowHalfOpen: true,
        noDelay: true,
        onread: {
          buffer: sharedReadBuffer,
          callback: (n: number, buf: Uint8Array) => {
            target.hs?.onData?.(buf.subarray(0, n));
            return true; // keep reading (a pause() from onData has already stopped it)
          },
        },
      });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(Object.assign(new Error(`ETIMEDOUT: connect ${host}:${port}`), { code: 'ETIMEDOUT' }));
      }, this.#timeout);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(streamOver(sock, target as { hs: HostStream }));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  openDatagram(family: 4 | 6 = 4): HostDatagram {
    const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    const hd: HostDatagram = {
      send: (data, host, port) => {
        sock.send(data, port, host, () => {});
      },
      onMessage: undefined,
      close: () => {
        try {
          sock.close();
        } catch {
          // already closed
        }
      },
    };
    sock.on('message', (d, rinfo) =>
      hd.onMessage?.(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), rinfo.address, rinfo.port),
    );
    sock.on('error', () => {});
    sock.bind(0);
    return hd;
  }
}
