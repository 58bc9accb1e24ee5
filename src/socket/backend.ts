/**
 * The contract between the front `Socket` (src/socket/socket.ts) and a backend:
 * the OS kernel (src/node/os-backend.ts) or sockstack's own stack.
 *
 * ## Division of labour
 * The front validates arguments, tracks the socket's state (fresh, bound,
 * listening, connected, closed), raises every misuse error itself (EBADF after
 * close, EINVAL bind twice, ENOTCONN, EISCONN, EOPNOTSUPP, EDESTADDRREQ; Python's
 * TypeError/OverflowError/ValueError for bad arguments),
 * resolves host names through `SocketBackend.resolve`, and implements blocking,
 * timeouts and non-blocking mode. A backend therefore only ever sees calls that are
 * legal in the current state, with numeric addresses.
 *
 * ## Readiness model (why recv/send/accept are synchronous "try" calls)
 * Data-path calls never block: `recv`, `send`, `accept`, `recvfrom` return
 * `undefined` (or 0 bytes for `send`) when they would block, and `waitReadable` /
 * `waitWritable` resolve when retrying may make progress — the kernel's poll()
 * model. The front loops `try → wait` under a timeout. This makes timeouts,
 * non-blocking mode and MSG_DONTWAIT exact: an abandoned wait has consumed
 * nothing, so a recv that timed out never loses data. Operations that really are
 * one-shot (bind, listen, connect, sendto, close) return Promises.
 *
 * ## Errors
 * Anything a backend throws or rejects with goes through `toSocketError` (errno.ts):
 * throw a `SocketError`, or any object with a string `code` ('ECONNRESET', as Node's
 * system errors and the stack's TcpError/UdpError have), or a TCP close-reason
 * string ('refused' | 'reset' | 'timed-out' | 'unreachable' | 'host-unreachable' |
 * 'net-unreachable' | 'aborted'). The front adds syscall/address/port.
 *
 * ## Waits
 * `waitReadable(signal)` / `waitWritable(signal)` must resolve (not reject) as soon
 * as the matching try-call would not return "would block": data, EOF, a pending
 * connection, a pending error, or the socket being closed. They may resolve
 * spuriously. When `signal` aborts they must reject with `signal.reason` promptly
 * and drop the waiter (no leak); without one (a blocking call with no timeout) nothing
 * cancels the wait. They must not resolve synchronously-before-return
 * in a way that loses events: register first, then check state.
 */

import type { DatagramMeta, SendControl } from './ancillary.ts';
import type { AddressFamily, SocketKind } from './constants.ts';

/** A resolved (numeric) socket address as the front hands it to a backend. */
export type SockAddr =
  | { readonly family: 2; readonly host: string; readonly port: number }
  | {
      readonly family: 10;
      readonly host: string;
      readonly port: number;
      readonly flowinfo: number;
      readonly scopeid: number;
    }
  | { readonly family: 1; readonly path: string };

/** A timer source. The OS entry point uses the real timers; the stack backend its virtual clock. */
export interface Scheduler {
  /** Calls `fn` after `ms` milliseconds of this backend's time; returns a handle for `cancel`. */
  schedule(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

/** Option values after the front's validation: integers, or raw bytes for struct options. */
export type OptionValue = number | Uint8Array;

interface ImplBase {
  /**
   * bind(2). The front calls it at most once, before listen/connect. Must detect
   * EADDRINUSE / EACCES (port < 1024 for non-root) / EADDRNOTAVAIL now, and pick the
   * ephemeral port now when `port` is 0 (getsockname right after must show it).
   */
  bind(addr: SockAddr): Promise<void>;
  /** The local address; for a socket that is not bound yet, the family's any-address, port 0. */
  getsockname(): SockAddr;
  /** The peer's address, or undefined when not connected (the front raises ENOTCONN). */
  getpeername(): SockAddr | undefined;
  /**
   * setsockopt(2) after the front has validated level/name/value shape. Throw
   * ENOPROTOOPT for options the backend cannot honour. Values the backend merely
   * records are fine (the front keeps its own copy for getsockopt).
   */
  setOption(level: number, name: number, value: OptionValue): void;
  /**
   * getsockopt(2) for options only the backend knows (SO_ERROR, TCP_INFO, real
   * buffer sizes). Return undefined to let the front answer from its copy/defaults.
   * SO_ERROR must return AND CLEAR the pending error's errno (0 when none).
   */
  getOption(level: number, name: number): OptionValue | undefined;
  /** Resolves when recv/recvfrom/accept may not block. See "Waits" above. */
  waitReadable(signal?: AbortSignal): Promise<void>;
  /** Resolves when send/sendto may not block. */
  waitWritable(signal?: AbortSignal): Promise<void>;
  /**
   * close(2). Idempotent. Must not wait for the peer: queued data is still sent
   * (then FIN) in the background, unless SO_LINGER was set to {on, 0 seconds}, in
   * which case the connection is aborted with a RST. Pending waits resolve.
   */
  close(): Promise<void>;
}

/** A SOCK_STREAM socket (TCP, or AF_UNIX stream on the OS backend). */
export interface StreamImpl extends ImplBase {
  readonly kind: 'stream';
  /** listen(2); binds to an ephemeral port first if bind was never called. */
  listen(backlog: number): Promise<void>;
  /**
   * A completed connection from the accept queue, or undefined if none is ready.
   * The returned impl is connected; `peer` is its remote address.
   */
  accept(): { impl: StreamImpl; peer: SockAddr } | undefined;
  /**
   * connect(2). Resolves when ESTABLISHED; rejects with ECONNREFUSED, ETIMEDOUT,
   * EHOSTUNREACH, ... If `signal` aborts (front timeout) the attempt is abandoned,
   * the promise rejects with `signal.reason`, and the socket need not be usable.
   */
  connect(addr: SockAddr, signal: AbortSignal): Promise<void>;
  /**
   * True when the last connect() returned at once without a handshake (TCP_FASTOPEN_CONNECT
   * with a cookie: the SYN waits for the first write), so a non-blocking connect() returns 0
   * rather than EINPROGRESS.
   */
  readonly connectDeferred?: boolean;
  /**
   * sendto(MSG_FASTOPEN) on an unconnected socket (RFC 7413): connect() with the first part of
   * `data` in the SYN as far as a cached cookie allows. `sent`: the bytes that went with the
   * SYN (the rest is the caller's to send once connected); `connected`: settles as connect's
   * promise does. Optional: a backend without it makes MSG_FASTOPEN fail with EOPNOTSUPP.
   */
  connectFastOpen?(
    addr: SockAddr,
    data: Uint8Array,
    signal: AbortSignal,
  ): { sent: number; connected: Promise<void> };
  /**
   * Up to `max` (>= 1) bytes. `undefined`: nothing buffered yet (would block).
   * Empty array: end of stream (peer's FIN, or our SHUT_RD), forever after.
   * Throws a pending connection error (ECONNRESET, ETIMEDOUT) once; after that EOF.
   * `peek`: return the bytes without consuming them.
   */
  recv(max: number, peek: boolean): Uint8Array | undefined;
  /**
   * As recv, into `buf` (at most its length, >= 1): the count, 0 at end of stream,
   * `undefined` when it would block. Optional: without it the front copies recv's result.
   */
  recvInto?(buf: Uint8Array, peek: boolean): number | undefined;
  /**
   * TCP_INQ's hint: the bytes left to read, plus one once the peer's FIN is in (Linux
   * tcp_inq_hint). Optional: without it recvmsg() adds no TCP_CM_INQ message.
   */
  inq?(): number;
  /**
   * Queues bytes for sending and returns how many were accepted (0 = send buffer
   * full, would block). The bytes must be copied (the caller may reuse `data`).
   * Throws EPIPE after SHUT_WR or when the connection is gone, or a pending error
   * (ECONNRESET) once. Never called before connect() resolved. `flags`: the send(2) flags
   * (MSG_MORE, MSG_EOR, ...); a backend ignores those it does not know.
   */
  send(data: Uint8Array, flags?: number): number;
  /** shutdown(2) on a connected socket: 0 = SHUT_RD, 1 = SHUT_WR (send FIN after queued data), 2 = both. */
  shutdown(how: 0 | 1 | 2): void;
}

export interface Datagram {
  /** The datagram's bytes, already cut to the requested size. */
  readonly data: Uint8Array;
  /** Sender's address. */
  readonly from: SockAddr;
  /** The datagram's real length before truncation (MSG_TRUNC semantics). */
  readonly length: number;
  /** Its IP header's TTL, TOS and destination and its interface, for recvmsg()'s control messages. */
  readonly meta?: DatagramMeta;
}

/** A SOCK_DGRAM socket (UDP). */
export interface DatagramImpl extends ImplBase {
  readonly kind: 'dgram';
  /** Sets the default peer (and the only source accepted). May be called again to change it. */
  connect(addr: SockAddr): Promise<void>;
  /**
   * Sends one datagram to `to`, or to the connected peer when `to` is undefined
   * (the front guarantees one exists). Binds to an ephemeral port first if needed.
   * Resolves with the bytes sent. Rejects EACCES for a broadcast destination without
   * SO_BROADCAST, EMSGSIZE for > 65507 bytes (IPv4), or a pending ICMP error
   * (ECONNREFUSED) once.
   */
  sendto(data: Uint8Array, to: SockAddr | undefined, control?: SendControl): Promise<number>;
  /** sendto honours `control` (sendmsg's IP_TTL / IP_TOS / IPV6_HOPLIMIT / IPV6_TCLASS). */
  readonly sendsControl?: boolean;
  /**
   * The next datagram cut to `max` bytes (the rest of it is discarded unless
   * `peek`), or undefined when none is queued. Throws a pending ICMP error once
   * (ECONNREFUSED after port-unreachable on a connected socket).
   */
  recvfrom(max: number, peek: boolean): Datagram | undefined;
}

export type SocketImpl = StreamImpl | DatagramImpl;

export interface ResolvedAddress {
  readonly family: 2 | 10;
  readonly host: string;
}

/** A process-lifetime handle (Node's ref/unref, counted): held while a socket call blocks. */
export interface KeepAlive {
  ref(): void;
  unref(): void;
}

/** A way of making sockets: the OS kernel, or a sockstack instance. */
export interface SocketBackend {
  /**
   * Held by the front while a call blocks (recv, accept, connect, send...), so a
   * pending call keeps the process alive until its result or its timeout, as a kernel
   * socket does. Set by whatever runs the backend in real time (StackRuntime).
   */
  keepAlive?: KeepAlive;
  /** 'os' or 'stack'; shown in errors and tests. */
  readonly name: string;
  /** Timers for socket timeouts (virtual time on the stack). */
  readonly scheduler: Scheduler;
  /**
   * A new unbound socket. Throw EAFNOSUPPORT / EPROTONOSUPPORT for combinations
   * the backend does not have (e.g. AF_UNIX on the stack).
   */
  create(family: AddressFamily, type: SocketKind): SocketImpl;
  /**
   * getaddrinfo for one host name (never called with a numeric address or '').
   * `family` 0 = any. Reject with a GaiError (EAI_NONAME, EAI_AGAIN) or an object
   * whose `code` is ENOTFOUND/EAI_*.
   */
  resolve(host: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]>;
  /** This host's name (gethostname(2)). */
  gethostname(): string;
}
