/**
 * Promise helpers straight over the TCP engine (`stack.tcp`, TcpConnection), for
 * kernel-peer tests that must not depend on the stream-socket backend. Every wait
 * is bounded by a deadline.
 */
import { createHash } from 'node:crypto';
import type { Stack } from '../../src/stack.ts';
import { TcpConnection } from '../../src/tcp/connection.ts';
import type { TcpListener } from '../../src/tcp/listen.ts';
import { type IpAddress, parseIp, parseIpv4 } from '../../src/wire/address.ts';

export const v4 = (s: string) => {
  const a = parseIpv4(s);
  if (a === undefined) throw new TypeError(`bad address ${s}`);
  return { family: 4 as const, v4: a };
};

export const v6 = (s: string): IpAddress => {
  const a = parseIp(s);
  if (a === undefined || a.family !== 6) throw new TypeError(`bad IPv6 address ${s}`);
  return a;
};

/** One connection with event-driven waits. */
export class RawConn {
  readonly c: TcpConnection;
  #wake: Array<() => void> = [];
  closeReason: string | undefined = undefined;
  closed = false;
  ended = false;

  constructor(c: TcpConnection) {
    this.c = c;
    c.events = {
      onEstablished: () => this.#poke(),
      onReadable: () => this.#poke(),
      onWritable: () => this.#poke(),
      onEnd: () => {
        this.ended = true;
        this.#poke();
      },
      onClose: (reason) => {
        this.closed = true;
        this.closeReason = reason;
        this.#poke();
      },
    };
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /** Resolves when `cond()` holds, re-checked after every connection event; rejects at the deadline. */
  waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out after ${ms} ms waiting for ${what} (state ${this.c.state})`));
      }, ms);
      const check = () => {
        let ok = false;
        try {
          ok = cond();
        } catch (e) {
          clearTimeout(timer);
          reject(e);
          return;
        }
        if (ok) {
          clearTimeout(timer);
          resolve();
        } else this.#wake.push(check);
      };
      this.#wake.push(check);
    });
  }

  async established(ms = 10_000): Promise<void> {
    await this.waitUntil(
      () => {
        if (this.closed)
          throw Object.assign(new Error(`connect failed: ${this.closeReason}`), { reason: this.closeReason });
        return this.c.state !== 'SYN-SENT' && this.c.state !== 'SYN-RECEIVED';
      },
      ms,
      'ESTABLISHED',
    );
  }

  /** Writes everything, waiting for send-buffer space; returns the SHA-256 (hex) of what was written. */
  async writeAll(data: Uint8Array, ms = 60_000, chunk = 64 * 1024): Promise<string> {
    const h = createHash('sha256');
    const end = Date.now() + ms;
    let off = 0;
    while (off < data.length) {
      const piece = data.subarray(off, Math.min(data.length, off + chunk));
      const n = this.c.write(piece);
      if (n > 0) {
        h.update(piece.subarray(0, n));
        off += n;
        continue;
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`writeAll: timed out at ${off}/${data.length} bytes`);
      await this.waitUntil(() => this.c.writableSpace > 0 || this.closed, left, 'send-buffer space');
      if (this.closed) throw new Error(`writeAll: connection closed (${this.closeReason}) at ${off}`);
    }
    return h.digest('hex');
  }

  /** Reads to EOF; returns byte count and SHA-256 (hex). */
  async readAll(ms = 60_000): Promise<{ bytes: number; sha256: string }> {
    const h = createHash('sha256');
    let bytes = 0;
    const end = Date.now() + ms;
    for (let i = 0; i < 10_000_000; i++) {
      const b = this.c.read();
      if (b !== null) {
        h.update(b);
        bytes += b.length;
        continue;
      }
      if (this.ended || this.c.eof || this.closed) {
        if (this.closed && this.closeReason !== undefined) throw new Error(`readAll: ${this.closeReason}`);
        break;
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`readAll: timed out after ${bytes} bytes (state ${this.c.state})`);
      await this.waitUntil(
        () => this.c.readableLength > 0 || this.ended || this.c.eof || this.closed,
        left,
        'data',
      );
    }
    return { bytes, sha256: h.digest('hex') };
  }
}

export function rawConnect(stack: Stack, host: string, port: number): RawConn {
  const c = stack.tcp.connect({ remote: host.includes(':') ? v6(host) : v4(host), remotePort: port });
  return new RawConn(c);
}

/** A listener whose `next()` resolves with the next accepted connection. */
export function rawListen(stack: Stack, port: number, backlog = 16) {
  const l: TcpListener = stack.tcp.listen({ port, backlog });
  let wake: (() => void) | undefined;
  l.onAcceptable = () => wake?.();
  return {
    listener: l,
    async next(ms = 10_000): Promise<RawConn> {
      const end = Date.now() + ms;
      for (let i = 0; i < 1000; i++) {
        const c = l.accept();
        if (c) return new RawConn(c);
        const left = end - Date.now();
        if (left <= 0) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      throw new Error(`no connection accepted within ${ms} ms`);
    },
    close: () => l.close(),
  };
}

export { TcpConnection };
