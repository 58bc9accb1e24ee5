/**
 * `StackSocket`: a `stream.Duplex` over one sockstack TcpConnection, shaped like a
 * `net.Socket` closely enough for node:http (client and server), node:https/tls,
 * undici and ws (see /work/shared/research/node-interop.md §1). It is deliberately
 * not a `net.Socket` subclass (that path depends on `_handle` internals).
 *
 * Mapping:
 * - ESTABLISHED → 'connect' + 'ready'; FIN received → the readable side ends ('end').
 * - Reads are pulled from the connection in `_read` (stop when `push()` says so: the
 *   unread bytes stay in TCP's receive buffer and close the advertised window).
 * - `_write` hands bytes to `conn.write` and calls back only once all of them were
 *   accepted into the bounded TCP send buffer; the rest waits for `onWritable`.
 *   Nothing else is queued, so memory is bounded by writableHighWaterMark + one chunk
 *   + the send buffer.
 * - `end()` → `_final` → shutdown('write') (FIN); `allowHalfOpen` as in net.Socket.
 * - `destroy()` closes like the kernel closes an fd: FIN when nothing is lost, RST when
 *   an error is given, when written bytes were never handed to TCP, or when received
 *   bytes were never read (RFC 1122 §4.2.2.13). `resetAndDestroy()` always sends RST.
 * - Errors carry Node's `code`, negative `errno`, `syscall` and, for connect, `address`
 *   and `port`.
 * - `setTimeout` is an idle timer (unref'd, like Node's), reset by I/O, on the driver's clock and host
 *   timers: real time by default, virtual with a ManualClock and ManualHostTimers.
 * - `ref`/`unref` are counted by the SocketDriver (see runtime.ts).
 */

import { Duplex } from 'node:stream';
import { ERRNO } from '../socket/errno.ts';
import type { TcpSocketOptions } from '../tcp/config.ts';
import type { TcpConnection, TcpConnectionEvents } from '../tcp/connection.ts';
import { reasonCode, type TcpCloseReason, TcpError } from '../tcp/errors.ts';
import type { TcpLayer } from '../tcp/layer.ts';
import { millis, toMillis } from '../time/instant.ts';
import { systemTimers } from '../time/system.ts';
import { formatIp, type IpAddress, parseIp } from '../wire/address.ts';
import type { SocketDriver } from './stack-runtime.ts';

/** Largest chunk pulled from the receive buffer per push. */
const READ_CHUNK = 64 * 1024;

export interface StackSocketOptions {
  /** Kicks the stack's driver after socket calls and counts ref/unref. */
  driver: SocketDriver;
  /** The TCP layer to connect through (needed for `connect()`). */
  tcp?: TcpLayer;
  /** Resolves a host name to an address (e.g. the stack's hosts table); IP literals need none. */
  lookup?: (host: string) => IpAddress | undefined;
  /** An established (accepted) connection to wrap. */
  connection?: TcpConnection;
  /** Like net.Socket: keep the writable side open after the peer's FIN. Default false. */
  allowHalfOpen?: boolean;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

export interface StackConnectOptions {
  port: number;
  /** Default 'localhost'. */
  host?: string;
  localAddress?: string;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** ms */
  keepAliveInitialDelay?: number;
  /** Idle timeout in ms (like `socket.setTimeout`). */
  timeout?: number;
  /** TCP socket options for the connection (send/receive buffer sizes, ...). */
  tcp?: Partial<TcpSocketOptions>;
}

export type StackSyscall = 'connect' | 'read' | 'write' | 'getaddrinfo' | 'listen' | 'shutdown';

export interface StackSystemError extends Error {
  code: string;
  errno: number;
  syscall: StackSyscall;
  address?: string;
  port?: number;
  hostname?: string;
}

/** An Error shaped like Node's system errors: `connect ECONNREFUSED 10.0.0.1:80`. */
export function stackError(
  code: string,
  syscall: StackSyscall,
  address?: string,
  port?: number,
): StackSystemError {
  const where = address !== undefined ? (port !== undefined ? ` ${address}:${port}` : ` ${address}`) : '';
  const err = new Error(`${syscall} ${code}${where}`) as StackSystemError;
  err.code = code;
  const n = (ERRNO as Record<string, number>)[code];
  err.errno = n === undefined ? 0 : -n;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

function toError(e: unknown, syscall: StackSyscall, address?: string, port?: number): Error {
  if (e instanceof TcpError) return stackError(e.code, syscall, address, port);
  return e instanceof Error ? e : new Error(String(e));
}

interface PendingWrite {
  readonly chunks: readonly Buffer[];
  index: number;
  offset: number;
  readonly cb: (err?: Error | null) => void;
}

export type StackReadyState = 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed';

export class StackSocket extends Duplex {
  /** True from `connect()` until the handshake completes (or fails). */
  connecting = false;
  bytesRead = 0;
  /** Bytes handed to the TCP send buffer. */
  bytesWritten = 0;

  readonly #driver: SocketDriver;
  readonly #tcp: TcpLayer | undefined;
  readonly #lookup: ((host: string) => IpAddress | undefined) | undefined;
  #conn: TcpConnection | undefined;
  #connClosed = false;
  #remote: { address: string; family: 'IPv4' | 'IPv6'; port: number } | undefined;
  #local: { address: string; family: 'IPv4' | 'IPv6'; port: number } | undefined;
  #readWanted = false;
  #eofPushed = false;
  #pending: PendingWrite | undefined;
  #finalCb: ((err?: Error | null) => void) | undefined;
  #refed = false;
  #noDelay: boolean | undefined;
  #keepAlive: { enable: boolean; delayMs: number } | undefined;
  #timeoutMs = 0;
  #idleTimer: unknown;
  #lastActivity = 0;

  constructor(options: StackSocketOptions) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
      // http writes latin1 header strings: let Writable turn them into Buffers.
      decodeStrings: true,
      emitClose: true,
      autoDestroy: true,
    });
    this.#driver = options.driver;
    // A connection knows its layer as a TcpHost (tcp/host.ts); it is always a TcpLayer.
    this.#tcp = options.tcp ?? (options.connection?.layer as TcpLayer | undefined);
    this.#lookup = options.lookup;
    this.ref();
    const c = options.connection;
    if (c) {
      this.#attach(c);
      if (c.state === 'CLOSED' && c.closeReason !== undefined && c.closeReason !== 'aborted') {
        const err = stackError(reasonCode(c.closeReason), 'read');
        process.nextTick(() => this.destroy(err));
      }
    }
  }

  // ------------------------------------------------------------------ net.Socket surface

  /** True until the connection is established (also before `connect()`). */
  get pending(): boolean {
    return this.#conn === undefined || this.connecting;
  }

  get readyState(): StackReadyState {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  get remoteAddress(): string | undefined {
    return this.#remote?.address;
  }
  get remotePort(): number | undefined {
    return this.#remote?.port;
  }
  get remoteFamily(): string | undefined {
    return this.#remote?.family;
  }
  get localAddress(): string | undefined {
    return this.#local?.address;
  }
  get localPort(): number | undefined {
    return this.#local?.port;
  }
  get localFamily(): string | undefined {
    return this.#local?.family;
  }
  /** Idle timeout in ms (undefined when off), like net.Socket#timeout. */
  get timeout(): number | undefined {
    return this.#timeoutMs > 0 ? this.#timeoutMs : undefined;
  }
  /** Deprecated net.Socket alias of writableLength. */
  get bufferSize(): number {
    return this.writableLength;
  }
  /** The TCP connection underneath (undefined before connect()). */
  get connection(): TcpConnection | undefined {
    return this.#conn;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    return this.#local ? { ...this.#local } : {};
  }

  /** Opens the connection (the handshake runs in the background; 'connect' follows). */
  connect(options: StackConnectOptions, listener?: () => void): this;
  connect(port: number, host?: string, listener?: () => void): this;
  connect(port: number, listener?: () => void): this;
  connect(a: StackConnectOptions | number, b?: string | (() => void), c?: () => void): this {
    const opts: StackConnectOptions =
      typeof a === 'object' ? a : { port: Number(a), host: typeof b === 'string' ? b : undefined };
    const listener = typeof b === 'function' ? b : c;
    if (listener) this.once('connect', listener);
    if (this.#conn || this.connecting) throw new Error('StackSocket: already connected');
    const tcp = this.#tcp;
    if (!tcp) throw new TypeError('StackSocket: connect() needs options.tcp');
    const host = opts.host ?? 'localhost';
    const port = opts.port;
    this.connecting = true;
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    if (opts.noDelay) this.#noDelay = true;
    if (opts.keepAlive) this.#keepAlive = { enable: true, delayMs: opts.keepAliveInitialDelay ?? 0 };
    const fail = (err: Error): this => {
      process.nextTick(() => {
        this.connecting = false;
        this.destroy(err);
      });
      return this;
    };
    const remote = parseIp(host) ?? this.#lookup?.(host) ?? this.#lookup?.(host.toLowerCase());
    if (remote === undefined) {
      const err = stackError('ENOTFOUND', 'getaddrinfo', host);
      err.hostname = host;
      err.errno = -3008; // Node reports EAI_NONAME as UV_EAI_NONAME
      return fail(err);
    }
    const raddr = formatIp(remote);
    this.#remote = { address: raddr, family: remote.family === 4 ? 'IPv4' : 'IPv6', port };
    let local: IpAddress | undefined;
    if (opts.localAddress !== undefined) {
      local = parseIp(opts.localAddress);
      if (local === undefined) return fail(stackError('EINVAL', 'connect', opts.localAddress));
    }
    const tcpOpts: Partial<TcpSocketOptions> = { ...opts.tcp };
    if (this.#noDelay !== undefined) tcpOpts.noDelay = this.#noDelay;
    if (this.#keepAlive) {
      tcpOpts.keepAlive = this.#keepAlive.enable;
      if (this.#keepAlive.delayMs > 0) tcpOpts.keepIdle = millis(this.#keepAlive.delayMs);
    }
    let conn: TcpConnection;
    try {
      conn = tcp.connect({
        remote,
        remotePort: port,
        local,
        localPort: opts.localPort,
        options: tcpOpts,
        events: this.#events(),
      });
    } catch (e) {
      return fail(toError(e, 'connect', raddr, port));
    }
    this.#conn = conn;
    this.#local = {
      address: formatIp(conn.local.address),
      family: conn.local.address.family === 4 ? 'IPv4' : 'IPv6',
      port: conn.local.port,
    };
    this.#touch();
    this.#driver.kick();
    return this;
  }

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    const c = this.#conn;
    if (c && c.state !== 'CLOSED') {
      c.setOptions({ noDelay });
      this.#driver.kick();
    }
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = { enable, delayMs: initialDelay };
    const c = this.#conn;
    if (c && c.state !== 'CLOSED') {
      const o: Partial<TcpSocketOptions> = { keepAlive: enable };
      if (initialDelay > 0) o.keepIdle = millis(initialDelay);
      c.setOptions(o);
      this.#driver.kick();
    }
    return this;
  }

  /** Emits 'timeout' after `ms` of no I/O (0 disables); like net.Socket#setTimeout. */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`setTimeout: bad timeout ${ms}`);
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.#timeoutMs = ms;
    this.#clearIdle();
    if (ms > 0 && !this.destroyed) {
      this.#lastActivity = this.#nowMs();
      this.#armIdle(ms);
    }
    return this;
  }

  ref(): this {
    if (!this.#refed && !this.destroyed) {
      this.#refed = true;
      this.#driver.ref();
    }
    return this;
  }

  unref(): this {
    if (this.#refed) {
      this.#refed = false;
      this.#driver.unref();
    }
    return this;
  }

  /** Ends the writable side, then destroys once it has finished (net.Socket#destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Sends RST and destroys (net.Socket#resetAndDestroy). */
  resetAndDestroy(): this {
    const c = this.#conn;
    if (c && c.state !== 'CLOSED') {
      c.abort();
      this.#connClosed = true;
      this.#driver.kick();
    }
    this.destroy();
    return this;
  }

  // ------------------------------------------------------------------ stream implementation

  override _read(_size: number): void {
    this.#readWanted = true;
    this.#pull();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#pending = { chunks: [chunk], index: 0, offset: 0, cb };
    this.#flushWrites();
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    cb: (err?: Error | null) => void,
  ): void {
    this.#pending = { chunks: chunks.map((c) => c.chunk), index: 0, offset: 0, cb };
    this.#flushWrites();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.#finalCb = cb;
      return;
    }
    this.#shutdownWrite();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#clearIdle();
    this.#timeoutMs = 0;
    const c = this.#conn;
    if (c && !this.#connClosed && c.state !== 'CLOSED') {
      // Kernel-like close (like closing the fd): FIN, even after destroy(err) (node:http
      // writes a 408 and destroys with an error: the client must get the 408 and a FIN).
      // Deviation from the kernel: RST when written bytes would be dropped unsent, so the
      // peer cannot take a truncated stream for a complete one. close() itself sends RST
      // when received bytes were never read (RFC 1122 §4.2.2.13).
      const lost = this.#pending !== undefined || this.writableLength > 0;
      if (lost) c.abort();
      else c.close();
      this.#driver.kick();
    }
    this.#connClosed = true;
    this.#pending = undefined;
    this.#finalCb = undefined;
    this.connecting = false;
    this.unref();
    cb(err);
  }

  // ------------------------------------------------------------------ internals

  #attach(c: TcpConnection): void {
    this.#conn = c;
    c.events = this.#events();
    this.#remote = {
      address: formatIp(c.remote.address),
      family: c.remote.address.family === 4 ? 'IPv4' : 'IPv6',
      port: c.remote.port,
    };
    this.#local = {
      address: formatIp(c.local.address),
      family: c.local.address.family === 4 ? 'IPv4' : 'IPv6',
      port: c.local.port,
    };
    if (c.state === 'CLOSED') this.#connClosed = true;
  }

  #events(): TcpConnectionEvents {
    return {
      onEstablished: () => this.#onEstablished(),
      onReadable: () => this.#pull(),
      onEnd: () => this.#pull(),
      onWritable: () => this.#flushWrites(),
      onClose: (reason) => this.#onConnClose(reason),
    };
  }

  #onEstablished(): void {
    if (!this.connecting || this.destroyed) return;
    this.connecting = false;
    const c = this.#conn;
    if (c) {
      const ka = this.#keepAlive;
      if (ka) this.setKeepAlive(ka.enable, ka.delayMs);
    }
    this.#touch();
    this.emit('connect');
    this.emit('ready');
    this.#flushWrites();
    const f = this.#finalCb;
    if (f && !this.destroyed) {
      this.#finalCb = undefined;
      this.#shutdownWrite();
      f();
    }
    if (this.#readWanted) this.#pull();
  }

  #shutdownWrite(): void {
    const c = this.#conn;
    if (!c || this.#connClosed || c.state === 'CLOSED') return;
    try {
      c.shutdown('write');
    } catch {
      // Already shut or gone: the close path reports real errors.
    }
    this.#driver.kick();
  }

  #pull(): void {
    const c = this.#conn;
    if (!c || !this.#readWanted || this.destroyed || this.#eofPushed || this.connecting) return;
    let got = false;
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = c.read(READ_CHUNK);
      } catch (e) {
        if (got) this.#driver.kick();
        if (!this.destroyed) this.destroy(toError(e, 'read'));
        return;
      }
      if (chunk === null || chunk.length === 0) break;
      got = true;
      this.bytesRead += chunk.length;
      const more = this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      if (!more) {
        this.#readWanted = false;
        break;
      }
      if (this.destroyed) break;
    }
    if (got) {
      this.#touch();
      // Reading may have reopened the window: let the stack send the update.
      this.#driver.kick();
    }
    if (this.#readWanted && !this.#eofPushed && !this.destroyed && c.eof) {
      this.#eofPushed = true;
      this.push(null);
    }
  }

  #flushWrites(): void {
    const p = this.#pending;
    const c = this.#conn;
    if (!p || !c || this.connecting || this.destroyed) return;
    let wrote = 0;
    try {
      while (p.index < p.chunks.length) {
        const buf = p.chunks[p.index];
        const rest = p.offset === 0 ? buf : buf.subarray(p.offset);
        if (rest.length > 0) {
          const n = c.write(rest);
          wrote += n;
          this.bytesWritten += n;
          if (n < rest.length) {
            p.offset += n;
            if (wrote > 0) {
              this.#touch();
              this.#driver.kick();
            }
            return; // onWritable resumes
          }
        }
        p.index++;
        p.offset = 0;
      }
    } catch (e) {
      this.#pending = undefined;
      this.#driver.kick();
      p.cb(toError(e, 'write'));
      return;
    }
    this.#pending = undefined;
    if (wrote > 0) this.#touch();
    this.#driver.kick();
    p.cb();
  }

  #onConnClose(reason: TcpCloseReason | undefined): void {
    this.#connClosed = true;
    if (this.destroyed) return;
    if (reason === undefined || reason === 'aborted') {
      // Orderly end: whatever is buffered can still be read, then EOF.
      this.#pull();
      return;
    }
    // Like a kernel socket: bytes that arrived before the RST are still delivered first.
    if (!this.connecting) this.#drainBeforeError();
    if (this.destroyed) return;
    const code = reasonCode(reason);
    const err = this.connecting
      ? stackError(code, 'connect', this.#remote?.address, this.#remote?.port)
      : stackError(code, 'read');
    this.connecting = false;
    this.destroy(err);
  }

  #drainBeforeError(): void {
    const c = this.#conn;
    if (!c || this.#eofPushed) return;
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = c.read(READ_CHUNK);
      } catch {
        return;
      }
      if (chunk === null || chunk.length === 0 || this.destroyed) return;
      this.bytesRead += chunk.length;
      this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  }

  #touch(): void {
    if (this.#timeoutMs > 0) {
      this.#lastActivity = this.#nowMs();
      if (this.#idleTimer === undefined && !this.destroyed) this.#armIdle(this.#timeoutMs);
    }
  }

  #armIdle(delay: number): void {
    const timers = this.#driver.timers ?? systemTimers;
    const t = timers.set(() => this.#onIdleTimer(), Math.max(1, Math.ceil(delay)));
    timers.unref?.(t);
    this.#idleTimer = t;
  }

  #onIdleTimer(): void {
    this.#idleTimer = undefined;
    const ms = this.#timeoutMs;
    if (ms <= 0 || this.destroyed) return;
    const idle = this.#nowMs() - this.#lastActivity;
    if (idle + 1 >= ms) {
      // Fire once; the next I/O (#touch) re-arms, as Node's timer.refresh() does.
      this.emit('timeout');
      return;
    }
    this.#armIdle(ms - idle);
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) (this.#driver.timers ?? systemTimers).clear(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** The driver's time in ms (real time unless the runtime runs on a virtual clock). */
  #nowMs(): number {
    const clock = this.#driver.clock;
    return clock ? toMillis(clock.now()) : performance.now();
  }
}
