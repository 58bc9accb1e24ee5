/**
 * The stream (TCP) socket implementation on a sockstack `Stack`: the `StreamImpl`
 * of backend.ts over a `TcpConnection` / `TcpListener` (src/tcp). The front
 * `Socket` has already validated arguments and state; errors thrown here are
 * `TcpError`s or `SocketError`s (a `code`), which the front maps with
 * `toSocketError`.
 *
 * What lives here and not in src/tcp:
 * - the socket's life: bind(2) holds a `TcpBinding` in the TCP layer's port table
 *   (the one table bind, listen and connect all check), which listen() or connect()
 *   then takes over; this file keeps no port state of its own.
 * - the readiness model: try-calls (`recv`/`send`/`accept`) and `waitReadable` /
 *   `waitWritable` woken by the connection's events (waiters.ts).
 * - "a pending error is reported once": a connection that ended with a reason
 *   (reset, timed-out, ...) throws it from the next recv/send (or SO_ERROR), then
 *   reads as end of stream and writes fail with EPIPE, like Linux's sk_err.
 * - socket options (stream-options.ts) and TCP_INFO (tcp-info.ts).
 */
import type { TcpConnection } from '../tcp/connection.ts';
import { reasonCode, TcpError, type TcpErrorCode } from '../tcp/errors.ts';
import type { TcpInfo } from '../tcp/info.ts';
import type { TcpBinding, TcpLayer } from '../tcp/layer.ts';
import type { TcpListener } from '../tcp/listen.ts';
import type { IpAddress } from '../wire/address.ts';
import { isReceiveOption } from './ancillary.ts';
import type { OptionValue, SockAddr, StreamImpl } from './backend.ts';
import {
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  MSG_EOR,
  MSG_MORE,
  SO_ERROR,
  SO_REUSEADDR,
  SOL_SOCKET,
} from './constants.ts';
import { ERRNO, SocketError } from './errno.ts';
import { ipToSockAddr, type ScopeZones, sockAddrToIp } from './inet-address.ts';
import { type OptionSocket, StreamOptions } from './stream-options.ts';
import { Waiters } from './waiters.ts';

export { MIN_SOCKET_BUFFER } from './stream-options.ts';

/** What a stream socket needs of its host (a `Stack` has all of it). */
export interface StreamHost {
  readonly tcp: TcpLayer;
  /** May bind ports below 1024. */
  readonly privileged: boolean;
  /** The IP layer's default TTL (what IP_TTL reads before it is set; 64 when absent). */
  readonly defaultTtl?: number;
  /** The host's interfaces as zones of link-local addresses (scope ids); absent: none checked. */
  readonly zones?: ScopeZones;
}

export class StackStreamSocket implements StreamImpl {
  readonly kind = 'stream' as const;
  readonly #host: StreamHost;
  readonly #layer: TcpLayer;
  /** The port held by bind(2) until listen() or connect() takes it over. */
  #binding: TcpBinding | undefined;
  #conn: TcpConnection | undefined;
  /** connect() returned at once (TCP_FASTOPEN_CONNECT): see StreamImpl.connectDeferred. */
  connectDeferred = false;
  #listener: TcpListener | undefined;
  readonly #options = new StreamOptions();
  /** An error the connection ended with, not yet reported (recv/send/SO_ERROR report it once). */
  #error: TcpErrorCode | undefined;
  /** The connection ended with an error that has been reported: reads are EOF, writes EPIPE. */
  #dead = false;
  #closed = false;
  readonly #waiters = new Waiters();
  /** AF_INET (2) or AF_INET6 (10): how addresses are written and which wildcard listens. */
  readonly family: 2 | 10;
  /** IPV6_V6ONLY (Linux default 0: an AF_INET6 socket also speaks IPv4 through mapped addresses). */
  #v6only = false;

  constructor(host: StreamHost, conn?: TcpConnection, family: 2 | 10 = 2) {
    this.#host = host;
    this.#layer = host.tcp;
    this.family = family;
    if (conn) this.#adopt(conn);
  }

  #toIp(addr: SockAddr): IpAddress | undefined {
    if (addr.family !== this.family)
      throw new SocketError('EAFNOSUPPORT', { detail: 'address family of another socket' });
    return sockAddrToIp(addr, this.#v6only, this.#host.zones);
  }

  #toSockAddr(a: IpAddress | undefined, port: number): SockAddr {
    return ipToSockAddr(a, port, this.family);
  }

  /** The connection under this socket, once connected or accepted (tests, diagnostics). */
  get connection(): TcpConnection | undefined {
    return this.#conn;
  }

  /** The listener under this socket, once listening. */
  get listener(): TcpListener | undefined {
    return this.#listener;
  }

  /** The port bind(2) holds while the socket neither listens nor is connected. @internal */
  get binding(): TcpBinding | undefined {
    return this.#binding;
  }

  /** @internal bound with SO_REUSEADDR. */
  get reuseAddr(): boolean {
    return this.#options.reuseAddr;
  }

  /** A TCP_INFO snapshot as an object (undefined when not connected). */
  tcpInfo(): TcpInfo | undefined {
    return this.#conn?.info();
  }

  // ------------------------------------------------------------------ events

  #adopt(conn: TcpConnection): void {
    this.#conn = conn;
    const wake = (): void => this.#waiters.wake();
    conn.events = {
      onEstablished: wake,
      onReadable: wake,
      onWritable: wake,
      onEnd: wake,
      onClose: (reason) => {
        // 'aborted' is our own close()/abort: nobody is left to tell.
        if (reason !== undefined && reason !== 'aborted' && !this.#closed) this.#error = reasonCode(reason);
        wake();
      },
    };
  }

  #readable(): boolean {
    if (this.#closed || this.#error !== undefined) return true;
    const l = this.#listener;
    if (l) return l.acceptQueueLength > 0 || l.closed;
    const c = this.#conn;
    if (!c) return true; // recv on a socket that never connected: EOF, not a hang
    return c.readableLength > 0 || c.finReceived || c.readShut || c.state === 'CLOSED';
  }

  #writable(): boolean {
    if (this.#closed || this.#error !== undefined) return true;
    const c = this.#conn;
    if (!c) return true;
    // A deferred Fast Open connect (TCP_FASTOPEN_CONNECT) takes its first write at once, and a
    // Fast Open server connection may send before its handshake completes (RFC 7413 §4.2.2).
    if (c.state === 'SYN-SENT' && !c.tfoDeferred) return false;
    if (c.state === 'SYN-RECEIVED' && !c.tfoChild) return false;
    if (!c.writable) return true;
    return c.writeReady;
  }

  waitReadable(signal?: AbortSignal): Promise<void> {
    return this.#waiters.wait(signal, () => this.#readable());
  }

  waitWritable(signal?: AbortSignal): Promise<void> {
    return this.#waiters.wait(signal, () => this.#writable());
  }

  // ------------------------------------------------------------------ naming

  async bind(addr: SockAddr): Promise<void> {
    // The layer checks the address is ours (EADDRNOTAVAIL), the privilege below 1024 (EACCES)
    // and the port table's rules (EADDRINUSE), and picks an ephemeral port for port 0.
    this.#binding = this.#layer.bind({
      address: this.#toIp(addr),
      port: addr.family === 1 ? 0 : addr.port,
      reuseAddr: this.#options.reuseAddr,
      privileged: this.#host.privileged,
    });
  }

  getsockname(): SockAddr {
    const c = this.#conn;
    if (c) return this.#toSockAddr(c.local.address, c.local.port);
    const l = this.#listener;
    if (l) return this.#toSockAddr(l.local.address, l.local.port);
    const b = this.#binding;
    return this.#toSockAddr(b?.address, b?.port ?? 0);
  }

  getpeername(): SockAddr | undefined {
    const c = this.#conn;
    if (!c) return undefined;
    return this.#toSockAddr(c.remote.address, c.remote.port);
  }

  // ------------------------------------------------------------------ options

  #optionSocket(): OptionSocket {
    const { tcp: layer, defaultTtl } = this.#host;
    return { layer, connection: this.#conn, listener: this.#listener, defaultTtl };
  }

  setOption(level: number, name: number, value: OptionValue): void {
    if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) {
      // Linux (do_ipv6_setsockopt): only before the socket is bound.
      if (this.#binding || this.#listener || this.#conn)
        throw new SocketError('EINVAL', { detail: 'IPV6_V6ONLY after bind' });
      this.#v6only = typeof value === 'number' ? value !== 0 : true;
      return;
    }
    // TCP_INQ and the IP receive options (Linux takes them on TCP sockets too) only choose
    // recvmsg()'s control messages, which the front builds.
    if (isReceiveOption(level, name)) return;
    const o = this.#options.set(level, name, value, this.#optionSocket());
    if (level === SOL_SOCKET && name === SO_REUSEADDR) {
      // Read by the port table at each conflict check, whoever holds the port now.
      const reuse = this.#options.reuseAddr;
      if (this.#binding) this.#binding.reuseAddr = reuse;
      if (this.#listener) this.#listener.reuseAddr = reuse;
      if (this.#conn) this.#conn.reuseAddr = reuse;
      return;
    }
    const c = this.#conn;
    if (c && c.state !== 'CLOSED') c.setOptions(o);
    // Connections a listener makes copy its options when their SYN arrives.
    if (this.#listener) Object.assign(this.#listener.opts, o);
  }

  getOption(level: number, name: number): OptionValue | undefined {
    if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) return this.#v6only ? 1 : 0;
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const c = this.#conn;
      const e = this.#error ?? c?.error;
      if (e === undefined) return undefined; // the front answers 0 (or a failed non-blocking connect)
      if (this.#error !== undefined) {
        this.#error = undefined;
        this.#dead = true;
      } else if (c) c.error = undefined;
      return ERRNO[e];
    }
    return this.#options.get(level, name, this.#optionSocket());
  }

  // ------------------------------------------------------------------ listen / accept / connect

  async listen(backlog: number): Promise<void> {
    const l = this.#listener;
    if (l) {
      // listen() again: Linux just updates the backlog.
      l.backlog = Math.max(0, backlog);
      return;
    }
    // The layer takes the binding over (its port, re-checked: Linux refuses listen() while
    // another socket shares the port through SO_REUSEADDR), or picks a port when never bound.
    // On failure the binding stays ours.
    const listener = this.#layer.listen({
      binding: this.#binding,
      // The wildcard of an AF_INET socket takes IPv4 only; of AF_INET6, both unless IPV6_V6ONLY.
      ...(this.family === 2 ? { family: 4 as const } : this.#v6only ? { family: 6 as const } : {}),
      backlog: Math.max(1, backlog),
      reuseAddr: this.#options.reuseAddr,
      options: this.#options.tcp,
    });
    listener.onAcceptable = () => this.#waiters.wake();
    this.#listener = listener;
    this.#binding = undefined;
  }

  accept(): { impl: StreamImpl; peer: SockAddr } | undefined {
    const l = this.#listener;
    if (!l) return undefined;
    const c = l.accept();
    if (!c) return undefined;
    const impl = new StackStreamSocket(this.#host, c, this.family);
    impl.#options.reuseAddr = this.#options.reuseAddr;
    impl.#options.linger = this.#options.linger;
    // Options set on the listener after this connection's SYN arrived.
    const opts = this.#options.tcp;
    if (Object.keys(opts).length > 0 && c.state !== 'CLOSED') c.setOptions({ ...opts });
    // A connection reset while it sat in the accept queue reports the reset on first use.
    if (c.state === 'CLOSED' && c.closeReason !== undefined && c.closeReason !== 'aborted')
      impl.#error = reasonCode(c.closeReason);
    return { impl, peer: this.#toSockAddr(c.remote.address, c.remote.port) };
  }

  connect(addr: SockAddr, signal: AbortSignal): Promise<void> {
    let conn: TcpConnection;
    try {
      // TCP_FASTOPEN_CONNECT (RFC 7413): the SYN waits for the first write when a cookie is cached.
      conn = this.#open(addr, this.#options.tcp.fastOpenConnect ? { defer: true } : undefined);
    } catch (e) {
      return Promise.reject(e);
    }
    // Linux tcp_fastopen_defer_connect: connect() returns 0 at once.
    if (conn.tfoDeferred) {
      this.connectDeferred = true;
      return Promise.resolve();
    }
    return this.#connected(conn, signal);
  }

  connectFastOpen(
    addr: SockAddr,
    data: Uint8Array,
    signal: AbortSignal,
  ): { sent: number; connected: Promise<void> } {
    const conn = this.#open(addr, { data });
    return { sent: conn.tfoSynData, connected: this.#connected(conn, signal) };
  }

  /** The active open: from the bound port, or an ephemeral one (the layer's port table). */
  #open(addr: SockAddr, fastOpen: { data?: Uint8Array; defer?: boolean } | undefined): TcpConnection {
    const remote = this.#toIp(addr);
    if (remote === undefined) throw new TcpError('EINVAL', 'connect to the unspecified address');
    // From the bound port (the layer takes the binding over; on failure it stays ours), or
    // from an ephemeral one that no other socket holds (the layer's port table).
    const conn = this.#layer.connect({
      remote,
      remotePort: addr.family === 1 ? 0 : addr.port,
      binding: this.#binding,
      reuseAddr: this.#options.reuseAddr,
      options: { ...this.#options.tcp },
      ...(fastOpen ? { fastOpen } : {}),
    });
    this.#binding = undefined;
    this.#adopt(conn);
    return conn;
  }

  /** Settles when the handshake of `conn` does: resolves once established, rejects with its error. */
  #connected(conn: TcpConnection, signal: AbortSignal): Promise<void> {
    let established = false;
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        const opening = conn.state === 'SYN-SENT' || conn.state === 'SYN-RECEIVED';
        if (signal.aborted && (opening || !established)) {
          // The front gave up (timeout, or close()): abandon the attempt and free the port.
          this.#abandon(conn);
          reject(signal.reason);
          return;
        }
        if (opening) {
          this.#waiters
            .wait(signal, () => conn.state !== 'SYN-SENT' && conn.state !== 'SYN-RECEIVED')
            .then(check, (e) => {
              this.#abandon(conn);
              reject(e);
            });
          return;
        }
        if (conn.state === 'CLOSED' && !established && conn.closeReason !== undefined) {
          // The handshake failed: the error belongs to connect(), not to a later recv.
          const e = this.#error ?? reasonCode(conn.closeReason);
          this.#error = undefined;
          this.#dead = true;
          reject(new TcpError(e));
          return;
        }
        resolve();
      };
      const prev = conn.events;
      if (prev) {
        const onEst = prev.onEstablished;
        prev.onEstablished = () => {
          established = true;
          onEst?.();
        };
      }
      check();
    });
  }

  #abandon(conn: TcpConnection): void {
    if (conn.state === 'SYN-SENT' || conn.state === 'SYN-RECEIVED') conn.abort();
  }

  // ------------------------------------------------------------------ data

  #takeError(): TcpErrorCode | undefined {
    const e = this.#error;
    if (e !== undefined) {
      this.#error = undefined;
      this.#dead = true;
    }
    return e;
  }

  recv(max: number, peek: boolean): Uint8Array | undefined {
    const c = this.#conn;
    if (!c) return new Uint8Array(0);
    const avail = c.readableLength;
    if (avail > 0) {
      // Linux: bytes that arrived before a reset are still readable; the error comes after them.
      if (peek) {
        const n = Math.min(max, avail);
        return c.rcvBuf.peek(0, n, new Uint8Array(n)).slice();
      }
      return c.read(max) ?? undefined;
    }
    const e = this.#takeError();
    if (e !== undefined) throw new TcpError(e);
    if (c.finReceived || c.readShut || c.state === 'CLOSED' || this.#dead) return new Uint8Array(0);
    return undefined;
  }

  inq(): number {
    const c = this.#conn;
    // Linux tcp_inq_hint: rcv_nxt - copied_seq, which counts the FIN until read, and 1 after.
    return c ? c.readableLength + (c.finReceived ? 1 : 0) : 0;
  }

  recvInto(buf: Uint8Array, peek: boolean): number | undefined {
    const c = this.#conn;
    if (c && !peek && c.readableLength > 0) return c.readInto(buf) ?? undefined;
    const d = this.recv(buf.length, peek);
    if (d === undefined) return undefined;
    buf.set(d);
    return d.length;
  }

  send(data: Uint8Array, flags = 0): number {
    const c = this.#conn;
    if (!c) throw new TcpError('EPIPE');
    const e = this.#takeError();
    if (e !== undefined) throw new TcpError(e);
    if (this.#dead || c.state === 'CLOSED') throw new TcpError('EPIPE');
    const more = (flags & MSG_MORE) !== 0;
    const eor = (flags & MSG_EOR) !== 0;
    const lowat = c.notSentLowat;
    if (lowat === Number.POSITIVE_INFINITY) return c.write(data, more, eor);
    // TCP_NOTSENT_LOWAT (Linux tcp_sendmsg checks sk_stream_memory_free before each new
    // segment, and a full first segment goes out at once): take a segment at a time while
    // fewer than `lowat` bytes wait unsent.
    let n = 0;
    while (n < data.length && c.notSent < lowat) {
      const end = Math.min(data.length, n + c.mss);
      const k = c.write(data.subarray(n, end), more, eor && end === data.length);
      const short = k < end - n;
      n += k;
      if (short) break; // the send buffer is full
    }
    if (n < data.length) c.wantWritable = true;
    return n;
  }

  shutdown(how: 0 | 1 | 2): void {
    const c = this.#conn;
    if (!c) throw new TcpError('ENOTCONN');
    if (c.state === 'CLOSED') {
      // Linux: shutdown on a connection the peer already ended is not an error for SHUT_RD/WR
      // after a reset has been reported; before that, ENOTCONN.
      if (this.#dead || this.#error !== undefined) return;
      throw new TcpError('ENOTCONN');
    }
    c.shutdown(how === 0 ? 'read' : how === 1 ? 'write' : 'both');
    this.#waiters.wake();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#binding?.release();
    this.#binding = undefined;
    this.#listener?.close();
    const c = this.#conn;
    if (c) {
      // SYN-SENT: nothing to finish. SYN-RECEIVED (a Fast Open child accepted before the
      // handshake's last ACK, or a simultaneous open): the FIN waits for ESTABLISHED and goes
      // after the data (RFC 9293 §3.10.4; Linux tcp_close sends FIN from SYN_RECV), no RST.
      if (c.state === 'SYN-SENT') c.abort();
      else c.close();
    }
    this.#waiters.wake();
  }
}

/** Makes stream sockets on a stack: `stack.setStreamFactory(streamSocketFactory)`. */
export function streamSocketFactory(host: StreamHost, family: 2 | 10 = 2): StreamImpl {
  return new StackStreamSocket(host, undefined, family);
}
