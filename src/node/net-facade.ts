/**
 * A `net`-like module per sockstack host: `stackNet(stack, driver)` gives
 * `createServer`, `connect` / `createConnection` over the stack's TCP, returning
 * StackSockets (see net-adapter.ts).
 *
 * Serving node:http / https / tls servers: they are `net.Server`s that want a
 * kernel handle, so instead of `httpServer.listen()` call
 *
 *   const listening = await net.attach(httpServer, 8080);
 *
 * which listens on the stack, hands each accepted StackSocket to
 * `httpServer.emit('connection', sock)` (documented: any Duplex may be injected),
 * copies the server's `allowHalfOpen`, turns Nagle off (http.createServer's default
 * `noDelay: true`), and emits 'listening' on the http server once, which is what
 * installs node:http's connection tracking (headersTimeout / requestTimeout /
 * closeIdleConnections). Closing either side closes both: `listening.close()` calls
 * `httpServer.close()` and `httpServer.close()` stops the stack listener.
 */

import { EventEmitter } from 'node:events';
import type { RealtimeDriver } from '../link/realtime.ts';
import type { Stack } from '../stack.ts';
import type { TcpSocketOptions } from '../tcp/config.ts';
import { TcpError } from '../tcp/errors.ts';
import type { TcpListener } from '../tcp/listen.ts';
import { formatIp, type IpAddress, parseIp } from '../wire/address.ts';
import { type StackConnectOptions, StackSocket, stackError } from './net-adapter.ts';
import { type SocketDriver, StackRuntime } from './stack-runtime.ts';

export interface StackServerOptions {
  /** Like net.createServer: keep accepted sockets' writable side open after the peer's FIN. */
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** ms */
  keepAliveInitialDelay?: number;
  /** Accepted sockets start paused. */
  pauseOnConnect?: boolean;
  /** TCP options inherited by accepted connections (buffer sizes, ...). */
  tcp?: Partial<TcpSocketOptions>;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

export interface StackListenOptions {
  /** 0 or undefined: an ephemeral port. */
  port?: number;
  /** Address to bind; default every address of the stack. */
  host?: string;
  /** Accept-queue bound; default 511 like Node. */
  backlog?: number;
}

export interface StackAddressInfo {
  address: string;
  family: string;
  port: number;
}

/** A net.Server look-alike listening on a sockstack host. */
export class StackServer extends EventEmitter {
  readonly #net: StackNet;
  readonly #opts: StackServerOptions;
  #listener: TcpListener | undefined;
  readonly #sockets = new Set<StackSocket>();
  #closing = false;
  #refed = true;
  #holding = false;
  #bound: StackAddressInfo | undefined;
  /** Like net.Server#maxConnections: further connections are refused with RST. */
  maxConnections: number | undefined;
  /** Called once when close() is called (attach() uses it to close the wrapped server). */
  onClosing: (() => void) | undefined;

  constructor(net: StackNet, options: StackServerOptions = {}) {
    super();
    this.#net = net;
    this.#opts = options;
  }

  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** The TCP listener (undefined when not listening). */
  get tcpListener(): TcpListener | undefined {
    return this.#listener;
  }

  listen(port?: number, host?: string, backlog?: number, cb?: () => void): this;
  listen(port?: number, host?: string, cb?: () => void): this;
  listen(port?: number, cb?: () => void): this;
  listen(options: StackListenOptions, cb?: () => void): this;
  listen(...args: unknown[]): this {
    let o: StackListenOptions;
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    if (typeof args[0] === 'object' && args[0] !== null) o = args[0] as StackListenOptions;
    else
      o = {
        port: args[0] === undefined ? 0 : Number(args[0]),
        host: typeof args[1] === 'string' ? args[1] : undefined,
        backlog: typeof args[2] === 'number' ? args[2] : undefined,
      };
    if (cb) this.once('listening', cb);
    if (this.#listener)
      throw Object.assign(new Error('Listen method has been called more than once'), {
        code: 'ERR_SERVER_ALREADY_LISTEN',
      });
    let address: IpAddress | undefined;
    // Node's net.Server: no host (or '::') is a dual-stack IPv6 wildcard, reported as '::'
    // and IPv6; '0.0.0.0' is the IPv4 wildcard only. Deviation: an IPv4 client of the
    // dual-stack wildcard shows as its IPv4 address, not Node's '::ffff:a.b.c.d'.
    const family: 4 | undefined = o.host === '0.0.0.0' ? 4 : undefined;
    if (o.host !== undefined && o.host !== '0.0.0.0' && o.host !== '::') {
      address = parseIp(o.host) ?? this.#net.lookup(o.host);
      if (address === undefined) {
        const err = stackError('ENOTFOUND', 'getaddrinfo', o.host);
        process.nextTick(() => this.emit('error', err));
        return this;
      }
    }
    try {
      const l = this.#net.stack.tcp.listen({
        address,
        port: o.port ?? 0,
        backlog: o.backlog ?? 511,
        options: this.#tcpOptions(),
        ...(address === undefined && family !== undefined ? { family } : {}),
      });
      this.#listener = l;
      this.#closing = false;
      this.#bound = address
        ? { address: formatIp(address), family: address.family === 4 ? 'IPv4' : 'IPv6', port: l.local.port }
        : family === 4
          ? { address: '0.0.0.0', family: 'IPv4', port: l.local.port }
          : { address: '::', family: 'IPv6', port: l.local.port };
      l.onAcceptable = () => this.#acceptAll();
    } catch (e) {
      const err =
        e instanceof TcpError ? stackError(e.code, 'listen', o.host ?? '0.0.0.0', o.port) : (e as Error);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#hold();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  address(): StackAddressInfo | null {
    return this.#listener && this.#bound ? { ...this.#bound } : null;
  }

  /** Stops accepting; 'close' follows once every accepted socket has closed. */
  close(cb?: (err?: Error) => void): this {
    const l = this.#listener;
    if (cb) {
      if (!l)
        this.once('close', () =>
          cb(Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' })),
        );
      else this.once('close', () => cb());
    }
    const hook = this.onClosing;
    this.onClosing = undefined;
    if (l) {
      l.onAcceptable = undefined;
      l.close();
      this.#listener = undefined;
      this.#net.runtime.kick();
    }
    this.#closing = true;
    this.#release();
    hook?.();
    this.#maybeClosed();
    return this;
  }

  /** Destroys every accepted socket still open. */
  closeAllConnections(): void {
    for (const s of [...this.#sockets]) s.destroy();
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.#sockets.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.#refed = true;
    if (this.#listener) this.#hold();
    return this;
  }

  unref(): this {
    this.#refed = false;
    this.#release();
    return this;
  }

  #hold(): void {
    if (this.#refed && !this.#holding) {
      this.#holding = true;
      this.#net.runtime.ref();
    }
  }

  #release(): void {
    if (this.#holding) {
      this.#holding = false;
      this.#net.runtime.unref();
    }
  }

  #tcpOptions(): Partial<TcpSocketOptions> {
    return { ...this.#opts.tcp };
  }

  #acceptAll(): void {
    const l = this.#listener;
    if (!l) return;
    for (let c = l.accept(); c !== undefined; c = l.accept()) {
      const o = this.#opts;
      const sock = new StackSocket({
        driver: this.#net.runtime,
        connection: c,
        allowHalfOpen: o.allowHalfOpen ?? false,
        readableHighWaterMark: o.readableHighWaterMark,
        writableHighWaterMark: o.writableHighWaterMark,
      });
      if (this.maxConnections !== undefined && this.#sockets.size >= this.maxConnections) {
        sock.resetAndDestroy();
        this.emit('drop', {
          localAddress: sock.localAddress,
          localPort: sock.localPort,
          remoteAddress: sock.remoteAddress,
          remotePort: sock.remotePort,
          remoteFamily: sock.remoteFamily,
        });
        continue;
      }
      if (o.noDelay) sock.setNoDelay(true);
      if (o.keepAlive) sock.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
      if (o.pauseOnConnect) sock.pause();
      this.#sockets.add(sock);
      this.#net.track(sock);
      sock.once('close', () => {
        this.#sockets.delete(sock);
        this.#maybeClosed();
      });
      this.emit('connection', sock);
    }
  }

  #maybeClosed(): void {
    if (this.#closing && !this.#listener && this.#sockets.size === 0) {
      this.#closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }
}

export interface StackNet {
  readonly stack: Stack;
  readonly runtime: StackRuntime;
  createServer(listener?: (socket: StackSocket) => void): StackServer;
  createServer(options: StackServerOptions, listener?: (socket: StackSocket) => void): StackServer;
  /**
   * An unconnected socket, like `new net.Socket()`, for libraries that call
   * `connect(port, host)` themselves (pg's `stream` option).
   */
  socket(options?: StackSocketCreateOptions): StackSocket;
  connect(options: StackConnectOptions & StackSocketCreateOptions, listener?: () => void): StackSocket;
  connect(port: number, host?: string, listener?: () => void): StackSocket;
  createConnection(
    options: StackConnectOptions & StackSocketCreateOptions,
    listener?: () => void,
  ): StackSocket;
  createConnection(port: number, host?: string, listener?: () => void): StackSocket;
  /**
   * Serves a node:http / https / tls / net.Server on this host: listens on the stack and
   * injects accepted sockets with `server.emit('connection', sock)`; emits 'listening' on
   * it once. Resolves when listening (rejects on EADDRINUSE etc.).
   */
  attach(
    server: AttachableServer,
    port: number | StackListenOptions,
    options?: StackServerOptions,
  ): Promise<StackServer>;
  /** Resolves a host name with the stack's hosts table. */
  lookup(host: string): IpAddress | undefined;
  /** @internal Remembers a socket for closeAll(). */
  track(sock: StackSocket): void;
  /** Destroys every socket and closes every server made through this facade (test teardown). */
  closeAll(): void;
}

export interface StackSocketCreateOptions {
  allowHalfOpen?: boolean;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

/** What attach() needs of a server: an EventEmitter taking 'connection' (net.Server, http.Server, tls.Server). */
export interface AttachableServer extends EventEmitter {
  allowHalfOpen?: boolean;
  close?(cb?: (err?: Error) => void): unknown;
}

/**
 * The `net`-like facade of one stack. `driver` is the RealtimeDriver polling the stack
 * (or a StackRuntime): sockets kick it after each call and count ref/unref on it.
 */
export function stackNet(stack: Stack, driver: RealtimeDriver | StackRuntime): StackNet {
  const runtime = StackRuntime.for(driver);
  const sockets = new Set<StackSocket>();
  const servers = new Set<StackServer>();
  const lookup = (host: string): IpAddress | undefined => {
    const v4 = stack.hosts.get(host.toLowerCase());
    return v4 === undefined ? undefined : { family: 4, v4 };
  };
  const track = (sock: StackSocket): void => {
    if (sockets.has(sock)) return;
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  };
  const socket = (o?: StackSocketCreateOptions): StackSocket => {
    const sock = new StackSocket({
      driver: runtime as SocketDriver,
      tcp: stack.tcp,
      lookup,
      allowHalfOpen: o?.allowHalfOpen,
      readableHighWaterMark: o?.readableHighWaterMark,
      writableHighWaterMark: o?.writableHighWaterMark,
    });
    track(sock);
    return sock;
  };
  const connect = (
    a: (StackConnectOptions & StackSocketCreateOptions) | number,
    b?: string | (() => void),
    c?: () => void,
  ): StackSocket => {
    const o = typeof a === 'object' ? a : undefined;
    const sock = socket(o);
    if (o) sock.connect(o, typeof b === 'function' ? b : undefined);
    else if (typeof b === 'function') sock.connect(a as number, b);
    else sock.connect(a as number, b, c);
    return sock;
  };
  const net: StackNet = {
    stack,
    runtime,
    createServer(
      a?: StackServerOptions | ((socket: StackSocket) => void),
      b?: (socket: StackSocket) => void,
    ): StackServer {
      const opts = typeof a === 'object' ? a : {};
      const listener = typeof a === 'function' ? a : b;
      const s = new StackServer(net, opts);
      servers.add(s);
      s.once('close', () => servers.delete(s));
      if (listener) s.on('connection', listener);
      return s;
    },
    socket,
    connect,
    createConnection: connect,
    attach(server, port, options = {}) {
      const lo: StackListenOptions = typeof port === 'number' ? { port } : port;
      const s = net.createServer(
        { allowHalfOpen: server.allowHalfOpen ?? false, noDelay: true, ...options },
        (sock) => server.emit('connection', sock),
      );
      let closingTarget = false;
      s.onClosing = () => {
        closingTarget = true;
        if (typeof server.close === 'function') server.close();
      };
      server.once('close', () => {
        if (!closingTarget) s.close();
      });
      return new Promise<StackServer>((resolve, reject) => {
        const onError = (err: Error): void => {
          s.removeListener('listening', onListening);
          reject(err);
        };
        const onListening = (): void => {
          s.removeListener('error', onError);
          server.emit('listening');
          resolve(s);
        };
        s.once('error', onError);
        s.listen(lo, onListening);
      });
    },
    lookup,
    track,
    closeAll() {
      for (const s of [...servers]) {
        s.close();
        s.closeAllConnections();
      }
      for (const sock of [...sockets]) sock.destroy();
    },
  };
  return net;
}
