/**
 * The stream (TCP) socket implementation on a sockstack `Stack`: the `StreamImpl`
 * of backend.ts over a `TcpConnection` / `TcpListener` (src/tcp). The front
 * `Socket` has already validated arguments and state; errors thrown here are
 * `TcpError`s or `SocketError`s (a `code`), which the front maps with
 * `toSocketError`.
 *
 * What lives here and not in src/tcp:
 * - bind(2) before listen/connect. The TCP layer only knows ports once a socket
 *   listens or connects, so a bound-but-idle socket is remembered in a per-layer
 *   table (`#bound`) and the bind rules (Linux's, as in TcpLayer#bindConflict) are
 *   checked against it, the layer's listeners and its connections.
 * - the readiness model: try-calls (`recv`/`send`/`accept`) and `waitReadable` /
 *   `waitWritable` woken by the connection's events.
 * - "a pending error is reported once": a connection that ended with a reason
 *   (reset, timed-out, ...) throws it from the next recv/send (or SO_ERROR), then
 *   reads as end of stream and writes fail with EPIPE, like Linux's sk_err.
 * - socket options in their Linux units (seconds, bytes, struct linger) mapped to
 *   `TcpSocketOptions` (µs durations), and TCP_INFO as Linux's `struct tcp_info`.
 */
import type { TcpSocketOptions } from '../tcp/config.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import { reasonCode, TcpError, type TcpErrorCode } from '../tcp/errors.ts';
import type { TcpInfo } from '../tcp/info.ts';
import type { TcpLayer } from '../tcp/layer.ts';
import type { TcpListener } from '../tcp/listen.ts';
import { formatIpv4, type IpAddress, parseIpv4 } from '../wire/address.ts';
import type { OptionValue, SockAddr, StreamImpl } from './backend.ts';
import {
  IP_MTU_DISCOVER,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_TCP,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_MAX_PACING_RATE,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SOL_SOCKET,
  TCP_INFO,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINIT,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_REMOTE_UDP_ENCAPS_PORT,
  TCP_USER_TIMEOUT,
} from './constants.ts';
import { ERRNO, SocketError } from './errno.ts';

/** What a stream socket needs of its host (a `Stack` has all of it). */
export interface StreamHost {
  readonly tcp: TcpLayer;
  /** May bind ports below 1024. */
  readonly privileged: boolean;
  /** The IP layer's default TTL (what IP_TTL reads before it is set; 64 when absent). */
  readonly defaultTtl?: number;
}

/** Smallest SO_RCVBUF / SO_SNDBUF we accept (Linux: SOCK_MIN_RCVBUF ≈ 2 KiB). */
export const MIN_SOCKET_BUFFER = 2048;

const SECOND = 1_000_000;

interface LocalName {
  /** undefined: INADDR_ANY. */
  readonly address: IpAddress | undefined;
  readonly port: number;
}

/** Sockets bound with bind(2) that neither listen nor connect yet, per TCP layer. */
const boundTables = new WeakMap<TcpLayer, Set<StackStreamSocket>>();

function boundTable(layer: TcpLayer): Set<StackStreamSocket> {
  let t = boundTables.get(layer);
  if (!t) boundTables.set(layer, (t = new Set()));
  return t;
}

function overlap(a: IpAddress | undefined, b: IpAddress | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  if (a.family === 4 && b.family === 4) return a.v4 === b.v4 || a.v4 === 0 || b.v4 === 0;
  return false;
}

function toIp(addr: SockAddr): IpAddress | undefined {
  if (addr.family !== 2) throw new SocketError('EAFNOSUPPORT', { detail: 'the stack has IPv4 sockets only' });
  const a = parseIpv4(addr.host);
  if (a === undefined) throw new SocketError('EINVAL', { detail: `bad IPv4 address ${addr.host}` });
  return a === 0 ? undefined : { family: 4, v4: a };
}

function fromIp(a: IpAddress | undefined, port: number): SockAddr {
  return { family: 2, host: a !== undefined && a.family === 4 ? formatIpv4(a.v4) : '0.0.0.0', port };
}

export class StackStreamSocket implements StreamImpl {
  readonly kind = 'stream' as const;
  readonly #host: StreamHost;
  readonly #layer: TcpLayer;
  #bound: LocalName | undefined;
  #conn: TcpConnection | undefined;
  #listener: TcpListener | undefined;
  /** Options set before the connection exists (applied at listen/connect). */
  readonly #opts: Partial<TcpSocketOptions> = {};
  #reuse = false;
  /** SO_LINGER as set (on, seconds); the connection only knows "0 = RST". */
  #linger: readonly [number, number] = [0, 0];
  /** An error the connection ended with, not yet reported (recv/send/SO_ERROR report it once). */
  #error: TcpErrorCode | undefined;
  /** The connection ended with an error that has been reported: reads are EOF, writes EPIPE. */
  #dead = false;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(host: StreamHost, conn?: TcpConnection) {
    this.#host = host;
    this.#layer = host.tcp;
    if (conn) this.#adopt(conn);
  }

  /** The connection under this socket, once connected or accepted (tests, diagnostics). */
  get connection(): TcpConnection | undefined {
    return this.#conn;
  }

  /** The listener under this socket, once listening. */
  get listener(): TcpListener | undefined {
    return this.#listener;
  }

  /** The local name while bound but neither listening nor connected. @internal */
  get boundName(): LocalName | undefined {
    return this.#bound;
  }

  /** @internal bound with SO_REUSEADDR. */
  get reuseAddr(): boolean {
    return this.#reuse;
  }

  /** A TCP_INFO snapshot as an object (undefined when not connected). */
  tcpInfo(): TcpInfo | undefined {
    return this.#conn?.info();
  }

  // ------------------------------------------------------------------ events

  #adopt(conn: TcpConnection): void {
    this.#conn = conn;
    const wake = (): void => this.#wake();
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

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) w();
  }

  /** Registers a waiter, then resolves at once if `ready()` already holds (no lost wake-up). */
  #wait(signal: AbortSignal, ready: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        this.#waiters.delete(done);
        reject(signal.reason);
      };
      const done = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
      if (ready()) {
        this.#waiters.delete(done);
        done();
      }
    });
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
    if (c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED') return false;
    return c.writableSpace > 0 || !c.writable;
  }

  waitReadable(signal: AbortSignal): Promise<void> {
    return this.#wait(signal, () => this.#readable());
  }

  waitWritable(signal: AbortSignal): Promise<void> {
    return this.#wait(signal, () => this.#writable());
  }

  // ------------------------------------------------------------------ naming

  /** Does (address, port) conflict with a listener, a connection or another bound socket? */
  #conflict(address: IpAddress | undefined, port: number): boolean {
    const layer = this.#layer;
    const reuse = this.#reuse;
    for (const l of layer.listeners()) {
      if (l.local.port === port && overlap(address, l.local.address)) return true;
    }
    for (const c of layer.connections()) {
      if (c.local.port !== port || !overlap(address, c.local.address)) continue;
      // Linux (inet_csk_bind_conflict): two sockets share a port when both have SO_REUSEADDR and
      // neither listens. A TIME-WAIT connection keeps the flag of the socket it was (an accepted one,
      // its listener's), so restarting a server over its old TIME-WAIT connections needs
      // SO_REUSEADDR on the old socket too (checked with Python on Linux).
      if (reuse && c.reuseAddr) continue;
      return true;
    }
    for (const s of boundTable(layer)) {
      const b = s.#bound;
      if (s === this || b === undefined || b.port !== port || !overlap(address, b.address)) continue;
      if (reuse && s.#reuse) continue;
      return true;
    }
    return false;
  }

  async bind(addr: SockAddr): Promise<void> {
    const address = toIp(addr);
    const port = addr.family === 2 ? addr.port : 0;
    if (address !== undefined && !this.#layer.env.isLocalAddress(address))
      throw new TcpError(
        'EADDRNOTAVAIL',
        `${addr.family === 2 ? addr.host : ''} is not an address of this host`,
      );
    let p = port;
    if (p === 0) {
      const picked = this.#layer.ports.pick(address, undefined, 0, (q) => this.#conflict(address, q));
      if (picked === undefined) throw new TcpError('EADDRINUSE', 'no free ephemeral port');
      p = picked;
    } else {
      if (p < 1024 && !this.#host.privileged)
        throw new SocketError('EACCES', { detail: `ports below 1024 need a privileged stack (port ${p})` });
      if (this.#conflict(address, p)) throw new TcpError('EADDRINUSE', `port ${p}`);
    }
    this.#bound = { address, port: p };
    boundTable(this.#layer).add(this);
  }

  #unbind(): void {
    boundTable(this.#layer).delete(this);
  }

  getsockname(): SockAddr {
    const c = this.#conn;
    if (c) return fromIp(c.local.address, c.local.port);
    const l = this.#listener;
    if (l) return fromIp(l.local.address, l.local.port);
    const b = this.#bound;
    return fromIp(b?.address, b?.port ?? 0);
  }

  getpeername(): SockAddr | undefined {
    const c = this.#conn;
    if (!c) return undefined;
    return fromIp(c.remote.address, c.remote.port);
  }

  // ------------------------------------------------------------------ options

  setOption(level: number, name: number, value: OptionValue): void {
    const n = typeof value === 'number' ? value : 0;
    const o: Partial<TcpSocketOptions> = {};
    if (level === SOL_SOCKET) {
      if (name === SO_REUSEADDR) {
        this.#reuse = n !== 0;
        if (this.#listener) this.#listener.reuseAddr = this.#reuse;
        if (this.#conn) this.#conn.reuseAddr = this.#reuse;
        return;
      }
      if (name === SO_KEEPALIVE) o.keepAlive = n !== 0;
      // Deviation: Linux doubles the value for bookkeeping overhead; ours holds exactly this many data bytes.
      else if (name === SO_RCVBUF) o.rcvBuf = Math.max(MIN_SOCKET_BUFFER, n);
      else if (name === SO_SNDBUF) o.sndBuf = Math.max(MIN_SOCKET_BUFFER, n);
      // socket(7) SO_MAX_PACING_RATE: bytes per second; ~0U (-1 here) lifts the limit.
      else if (name === SO_MAX_PACING_RATE) o.pacingRate = n === -1 || n === 0 ? undefined : n;
      else if (name === SO_LINGER) {
        if (!(value instanceof Uint8Array) || value.length < 8)
          throw new SocketError('EINVAL', { detail: 'SO_LINGER takes struct linger' });
        const dv = new DataView(value.buffer, value.byteOffset, 8);
        const on = dv.getInt32(0, true) !== 0;
        const secs = dv.getInt32(4, true);
        this.#linger = [on ? 1 : 0, secs];
        // Deviation: close() never blocks (backend.ts), so {1, N > 0} still closes gracefully in the
        // background; only {1, 0} changes behaviour (RST on close, RFC 9293 §3.10.5 ABORT).
        o.linger = on ? secs * SECOND : undefined;
      } else throw new SocketError('ENOPROTOOPT');
    } else if (level === IPPROTO_TCP) {
      if (name === TCP_NODELAY) o.noDelay = n !== 0;
      else if (name === TCP_MAXSEG) {
        // Linux: 88 (TCP_MIN_MSS) .. 65535 (MAX_TCP_WINDOW), only before the connection exists matters.
        if (n < 88 || n > 65535) throw new SocketError('EINVAL', { detail: 'TCP_MAXSEG out of range' });
        o.maxSeg = n;
      } else if (name === TCP_KEEPIDLE || name === TCP_KEEPINTVL) {
        // Linux: 1 .. MAX_TCP_KEEPIDLE (32767) seconds.
        if (n < 1 || n > 32767) throw new SocketError('EINVAL', { detail: 'keepalive time out of range' });
        if (name === TCP_KEEPIDLE) o.keepIdle = n * SECOND;
        else o.keepInterval = n * SECOND;
      } else if (name === TCP_KEEPCNT) {
        if (n < 1 || n > 127) throw new SocketError('EINVAL', { detail: 'TCP_KEEPCNT out of range' });
        o.keepCount = n;
      } else if (name === TCP_USER_TIMEOUT) {
        // Linux tcp(7): milliseconds, 0 restores the retry-count default; negative is EINVAL.
        if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff)
          throw new SocketError('EINVAL', { detail: 'TCP_USER_TIMEOUT out of range' });
        o.userTimeout = n * 1000;
      } else if (name === TCP_KEEPINIT) {
        // FreeBSD tcp(4): seconds; 0 restores the stack default (config.keepInit).
        if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff)
          throw new SocketError('EINVAL', { detail: 'TCP_KEEPINIT out of range' });
        o.keepInit = n > 0 ? n * SECOND : undefined;
      } else if (name === TCP_REMOTE_UDP_ENCAPS_PORT) {
        // FreeBSD tcp_default_ctloutput: a port in range, tunnelling enabled ("You have to have
        // enabled a UDP tunneling port first"), and the connection not yet made.
        if (!Number.isInteger(n) || n < 0 || n > 65535)
          throw new SocketError('EINVAL', { detail: 'TCP_REMOTE_UDP_ENCAPS_PORT out of range' });
        if (n !== 0 && this.#layer.config.udpTunnelingPort === 0)
          throw new SocketError('EINVAL', {
            detail: 'TCP over UDP is off (TcpConfig.udpTunnelingPort is 0)',
          });
        if (this.#conn || this.#listener)
          throw new SocketError('EINVAL', { detail: 'TCP_REMOTE_UDP_ENCAPS_PORT only before connect()' });
        o.udpEncapsPort = n || undefined;
      } else throw new SocketError('ENOPROTOOPT');
    } else if (level === IPPROTO_IP) {
      // ip(7) IP_TOS: on a stream socket Linux keeps the ECN bits under TCP's control (RFC 3168
      // §5; no ECN here, so they stay 0) and takes the DSCP from the value.
      if (name === IP_TOS) o.tos = n & 0xfc;
      else if (name === IP_TTL) {
        if (!Number.isInteger(n) || n === 0 || n < -1 || n > 255)
          throw new SocketError('EINVAL', { detail: 'IP_TTL must be 1..255 (or -1)' });
        o.ttl = n === -1 ? undefined : n;
      } else if (name === IP_MTU_DISCOVER) {
        if (!Number.isInteger(n) || n < 0 || n > 5)
          throw new SocketError('EINVAL', { detail: 'IP_MTU_DISCOVER out of range' });
        o.pmtuDisc = n;
      } else throw new SocketError('ENOPROTOOPT');
    } else {
      throw new SocketError('ENOPROTOOPT');
    }
    Object.assign(this.#opts, o);
    const c = this.#conn;
    if (c && c.state !== 'CLOSED') c.setOptions(o);
    // Connections a listener makes copy its options when their SYN arrives.
    if (this.#listener) Object.assign(this.#listener.opts, o);
  }

  getOption(level: number, name: number): OptionValue | undefined {
    const c = this.#conn;
    const opts = c?.options ?? this.#listener?.opts ?? { ...this.#layer.defaultOptions(), ...this.#opts };
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_ERROR: {
          const e = this.#error ?? c?.error;
          if (e === undefined) return undefined; // the front answers 0 (or a failed non-blocking connect)
          if (this.#error !== undefined) {
            this.#error = undefined;
            this.#dead = true;
          } else if (c) c.error = undefined;
          return ERRNO[e];
        }
        case SO_RCVBUF:
          return opts.rcvBuf;
        case SO_SNDBUF:
          return opts.sndBuf;
        case SO_MAX_PACING_RATE:
          return opts.pacingRate ?? -1;
        case SO_KEEPALIVE:
          return opts.keepAlive ? 1 : 0;
        case SO_REUSEADDR:
          return this.#reuse ? 1 : 0;
        case SO_LINGER: {
          const out = new Uint8Array(8);
          const dv = new DataView(out.buffer);
          dv.setInt32(0, this.#linger[0], true);
          dv.setInt32(4, this.#linger[1], true);
          return out;
        }
      }
      return undefined;
    }
    if (level === IPPROTO_IP) {
      if (name === IP_TOS) return opts.tos ?? 0;
      if (name === IP_TTL) return opts.ttl ?? this.#host.defaultTtl ?? 64;
      if (name === IP_MTU_DISCOVER) return opts.pmtuDisc ?? 1;
      return undefined;
    }
    if (level === IPPROTO_TCP) {
      switch (name) {
        case TCP_NODELAY:
          return opts.noDelay ? 1 : 0;
        case TCP_MAXSEG:
          // Linux: the current send MSS once connected; before that the user's cap or 536.
          return c && c.state !== 'CLOSED' && c.state !== 'SYN-SENT' ? c.mss : (opts.maxSeg ?? 536);
        case TCP_KEEPIDLE:
          return Math.round(opts.keepIdle / SECOND);
        case TCP_KEEPINTVL:
          return Math.round(opts.keepInterval / SECOND);
        case TCP_KEEPCNT:
          return opts.keepCount;
        case TCP_USER_TIMEOUT:
          return Math.round((opts.userTimeout ?? 0) / 1000);
        case TCP_REMOTE_UDP_ENCAPS_PORT:
          return opts.udpEncapsPort ?? 0;
        case TCP_KEEPINIT:
          return Math.round((opts.keepInit ?? this.#layer.config.keepInit) / SECOND);
        case TCP_INFO:
          return encodeTcpInfo(
            c ? c.info() : undefined,
            this.#layer.env.clock.now(),
            this.#listener ? 'LISTEN' : 'CLOSED',
          );
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------ listen / accept / connect

  async listen(backlog: number): Promise<void> {
    const l = this.#listener;
    if (l) {
      // listen() again: Linux just updates the backlog.
      l.backlog = Math.max(0, backlog);
      return;
    }
    const b = this.#bound;
    // Our own bound entry must not count as a conflict: the layer re-checks the rules itself.
    this.#unbind();
    let listener: TcpListener;
    try {
      listener = this.#layer.listen({
        address: b?.address,
        port: b?.port ?? 0,
        backlog: Math.max(1, backlog),
        reuseAddr: this.#reuse,
        options: this.#opts,
      });
    } catch (e) {
      if (b) boundTable(this.#layer).add(this);
      throw e;
    }
    // Bound sockets that share the port through SO_REUSEADDR: Linux refuses listen() then.
    for (const s of boundTable(this.#layer)) {
      const sb = s.#bound;
      if (sb && sb.port === listener.local.port && overlap(sb.address, listener.local.address)) {
        listener.close();
        if (b) boundTable(this.#layer).add(this);
        throw new TcpError('EADDRINUSE', `port ${listener.local.port}`);
      }
    }
    listener.onAcceptable = () => this.#wake();
    this.#listener = listener;
    this.#bound = undefined;
  }

  accept(): { impl: StreamImpl; peer: SockAddr } | undefined {
    const l = this.#listener;
    if (!l) return undefined;
    const c = l.accept();
    if (!c) return undefined;
    const impl = new StackStreamSocket(this.#host, c);
    impl.#reuse = this.#reuse;
    impl.#linger = this.#linger;
    // Options set on the listener after this connection's SYN arrived.
    if (Object.keys(this.#opts).length > 0 && c.state !== 'CLOSED') c.setOptions({ ...this.#opts });
    // A connection reset while it sat in the accept queue reports the reset on first use.
    if (c.state === 'CLOSED' && c.closeReason !== undefined && c.closeReason !== 'aborted')
      impl.#error = reasonCode(c.closeReason);
    return { impl, peer: fromIp(c.remote.address, c.remote.port) };
  }

  connect(addr: SockAddr, signal: AbortSignal): Promise<void> {
    let conn: TcpConnection;
    try {
      const remote = toIp(addr);
      if (remote === undefined) throw new TcpError('EINVAL', 'connect to 0.0.0.0');
      const b = this.#bound;
      this.#unbind();
      try {
        conn = this.#layer.connect({
          remote,
          remotePort: addr.family === 2 ? addr.port : 0,
          local: b?.address,
          localPort: b?.port,
          reuseAddr: this.#reuse,
          options: { ...this.#opts },
        });
      } catch (e) {
        if (b) boundTable(this.#layer).add(this);
        throw e;
      }
      this.#bound = undefined;
    } catch (e) {
      return Promise.reject(e);
    }
    this.#adopt(conn);
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
          this.#wait(signal, () => conn.state !== 'SYN-SENT' && conn.state !== 'SYN-RECEIVED').then(
            check,
            (e) => {
              this.#abandon(conn);
              reject(e);
            },
          );
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

  send(data: Uint8Array): number {
    const c = this.#conn;
    if (!c) throw new TcpError('EPIPE');
    const e = this.#takeError();
    if (e !== undefined) throw new TcpError(e);
    if (this.#dead || c.state === 'CLOSED') throw new TcpError('EPIPE');
    return c.write(data);
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
    this.#wake();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unbind();
    this.#bound = undefined;
    this.#listener?.close();
    const c = this.#conn;
    if (c) {
      if (c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED') c.abort();
      else c.close();
    }
    this.#wake();
  }
}

/** Makes stream sockets on a stack: `stack.setStreamFactory(streamSocketFactory)`. */
export function streamSocketFactory(host: StreamHost): StreamImpl {
  return new StackStreamSocket(host);
}

// ---------------------------------------------------------------------------- TCP_INFO

/** Linux `enum tcp_state` numbers (include/net/tcp_states.h), as tcpi_state reports them. */
export const LINUX_TCP_STATES: Readonly<Record<string, number>> = {
  ESTABLISHED: 1,
  'SYN-SENT': 2,
  'SYN-RECEIVED': 3,
  'FIN-WAIT-1': 4,
  'FIN-WAIT-2': 5,
  'TIME-WAIT': 6,
  CLOSED: 7,
  'CLOSE-WAIT': 8,
  'LAST-ACK': 9,
  LISTEN: 10,
  CLOSING: 11,
};

/** Size of the `struct tcp_info` prefix we fill (through tcpi_segs_in). */
export const TCP_INFO_SIZE = 144;

/**
 * Encodes a snapshot as Linux's `struct tcp_info` (little-endian, the first 144
 * bytes: through tcpi_segs_in), so code written against getsockopt(TCP_INFO) on
 * Linux reads the same fields: tcpi_state (u8 @0), tcpi_retransmits (@2),
 * tcpi_probes (@3), tcpi_backoff (@4), tcpi_options (@5), wscales (@6),
 * tcpi_rto (u32 µs @8), tcpi_snd_mss (@16), tcpi_rcv_mss (@20), tcpi_unacked
 * (segments @24), tcpi_sacked (@28), tcpi_lost (@32), tcpi_last_data_sent (ms ago
 * @44), tcpi_last_data_recv (@52), tcpi_rtt (µs @68), tcpi_rttvar (@72),
 * tcpi_snd_ssthresh (segments @76), tcpi_snd_cwnd (segments @80), tcpi_advmss
 * (@84), tcpi_total_retrans (@100), tcpi_bytes_acked (u64 @120),
 * tcpi_bytes_received (u64 @128), tcpi_segs_out (@136), tcpi_segs_in (@140).
 */
export function encodeTcpInfo(info: TcpInfo | undefined, now: number, state = 'CLOSED'): Uint8Array {
  const out = new Uint8Array(TCP_INFO_SIZE);
  const dv = new DataView(out.buffer);
  if (!info) {
    dv.setUint8(0, LINUX_TCP_STATES[state] ?? 7);
    return out;
  }
  const mss = Math.max(1, info.mss);
  const segs = (b: number): number => Math.min(0xffffffff, Math.ceil(b / mss));
  const u32 = (off: number, v: number): void =>
    dv.setUint32(off, Math.max(0, Math.min(0xffffffff, Math.round(v))), true);
  dv.setUint8(0, LINUX_TCP_STATES[info.state] ?? 7);
  dv.setUint8(2, Math.min(255, info.retransmits));
  dv.setUint8(3, Math.min(255, info.probes));
  dv.setUint8(4, Math.min(255, info.backoff));
  const ws = info.options.windowScale;
  dv.setUint8(5, (info.options.timestamps ? 1 : 0) | (info.options.sack ? 2 : 0) | (ws ? 4 : 0));
  if (ws) dv.setUint8(6, (ws.snd & 0xf) | ((ws.rcv & 0xf) << 4));
  u32(8, info.rto);
  u32(16, info.mss);
  u32(20, info.rcvMss);
  u32(24, segs(info.unacked));
  u32(28, segs(info.sacked));
  u32(32, info.lost);
  u32(44, info.lastDataSent !== undefined ? (now - info.lastDataSent) / 1000 : 0);
  u32(52, info.lastDataRecv !== undefined ? (now - info.lastDataRecv) / 1000 : 0);
  u32(68, info.rtt ?? 0);
  u32(72, info.rttvar ?? 0);
  u32(76, Number.isFinite(info.ssthresh) ? segs(info.ssthresh) : 0x7fffffff);
  u32(80, segs(info.cwnd));
  u32(84, info.rcvMss);
  u32(100, info.totalRetrans);
  dv.setBigUint64(120, BigInt(Math.max(0, Math.floor(info.bytesAcked))), true);
  dv.setBigUint64(128, BigInt(Math.max(0, Math.floor(info.bytesReceived))), true);
  u32(136, info.segsOut);
  u32(140, info.segsIn);
  return out;
}

/** Reads back the fields `encodeTcpInfo` writes (for programs that got TCP_INFO bytes). */
export function decodeTcpInfo(b: Uint8Array): {
  state: number;
  retransmits: number;
  probes: number;
  backoff: number;
  options: number;
  rto: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  rtt: number;
  rttvar: number;
  sndCwnd: number;
  totalRetrans: number;
  bytesAcked: bigint;
  bytesReceived: bigint;
  segsOut: number;
  segsIn: number;
} {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    state: dv.getUint8(0),
    retransmits: dv.getUint8(2),
    probes: dv.getUint8(3),
    backoff: dv.getUint8(4),
    options: dv.getUint8(5),
    rto: dv.getUint32(8, true),
    sndMss: dv.getUint32(16, true),
    rcvMss: dv.getUint32(20, true),
    unacked: dv.getUint32(24, true),
    rtt: dv.getUint32(68, true),
    rttvar: dv.getUint32(72, true),
    sndCwnd: dv.getUint32(80, true),
    totalRetrans: dv.getUint32(100, true),
    bytesAcked: dv.getBigUint64(120, true),
    bytesReceived: dv.getBigUint64(128, true),
    segsOut: dv.getUint32(136, true),
    segsIn: dv.getUint32(140, true),
  };
}
