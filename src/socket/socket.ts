/**
 * The front `Socket`: Python's socket object, async, over any `SocketBackend`.
 *
 *   const srv = socket(AF_INET, SOCK_STREAM);
 *   await srv.bind(['localhost', 5000]);
 *   await srv.listen(1);
 *   const [conn, addr] = await srv.accept();
 *   const data = await conn.recv(1024);
 *   await conn.sendall(data);
 *   await conn.close();
 *
 * Everything state-related is decided here so every backend behaves the same
 * (Linux's answers, checked against net/ipv4/af_inet.c and tcp.c):
 * - any call after close()                      → EBADF
 * - bind() on a socket already bound/connected   → EINVAL
 * - listen() on SOCK_DGRAM                       → EOPNOTSUPP; on a connected socket → EINVAL
 * - accept() on a socket that is not listening   → EINVAL
 * - connect() when connected or listening        → EISCONN; while a non-blocking connect runs → EALREADY
 * - send() on an unconnected/listening stream    → EPIPE (Linux's tcp_sendmsg answer, not ENOTCONN)
 * - recv() on an unconnected/listening stream    → ENOTCONN
 * - send() on an unconnected datagram socket     → EDESTADDRREQ
 * - shutdown()/getpeername() when not connected  → ENOTCONN
 * - unknown socket option                         → ENOPROTOOPT
 *
 * Timeouts follow Python: settimeout(null) blocks forever, settimeout(0) is
 * non-blocking (EAGAIN, BlockingIOError; connect → EINPROGRESS), settimeout(t>0)
 * raises SocketTimeoutError ('timed out') after t seconds per call (sendall: for
 * the whole call). Timers come from the backend's Scheduler.
 *
 * Data: Uint8Array in, Uint8Array out. For convenience (unlike Python) send,
 * sendall and sendto also accept a string, sent as UTF-8.
 *
 * Arguments keep Python's error kinds (errno.ts): a wrong type is an
 * ArgumentTypeError (TypeError), a port out of range an OverflowError, recv(-1) or
 * settimeout(-1) a ValueError. A bind() the program forgot to await is waited for
 * by the calls after it, so they still run in the order they were made.
 *
 * The file and stream faces (makefile, sendfile, readable/writable) are written
 * over recv/sendall in file.ts, sendfile.ts and web-streams.ts.
 */

import {
  type Address,
  type AddressTuple,
  anyAddress,
  describeAddress,
  toSockAddr,
  toTuple,
} from './address.ts';
import {
  type Ancillary,
  datagramAncillary,
  fitAncillary,
  inqAncillary,
  type SendControl,
  sendControl,
} from './ancillary.ts';
import type {
  DatagramImpl,
  OptionValue,
  SockAddr,
  SocketBackend,
  SocketImpl,
  StreamImpl,
} from './backend.ts';
import {
  type AddressFamily,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  familyName,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MSG_DONTWAIT,
  MSG_FASTOPEN,
  MSG_PEEK,
  MSG_TRUNC,
  SO_ACCEPTCONN,
  SO_ERROR,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  SOMAXCONN,
  type SocketKind,
  TCP_INQ,
  typeName,
} from './constants.ts';
import {
  ArgumentTypeError,
  describeValue,
  type ErrorContext,
  GaiError,
  SocketError,
  SocketTimeoutError,
  toSocketError,
  ValueError,
} from './errno.ts';
import { type BinaryMode, type MakefileOptions, SocketFile, type TextMode } from './file.ts';
import { type OptSpec, optionResult, optionSpec, optionValue, type SockOptValue } from './options.ts';

export type { SockOptValue } from './options.ts';

import { type SendableFile, sendFile } from './sendfile.ts';
import { readableOf, writableOf } from './web-streams.ts';

/** `Symbol.asyncDispose`, or the well-known fallback where the runtime lacks it. */
const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);

type State = 'fresh' | 'listening' | 'connecting' | 'connected' | 'closed';

const encoder = new TextEncoder();

function toBytes(data: unknown, syscall: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return encoder.encode(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  // Python: TypeError "a bytes-like object is required, not 'int'".
  throw new ArgumentTypeError(
    syscall,
    `data must be a Uint8Array (or a string, sent as UTF-8), got ${describeValue(data)}`,
  );
}

function checkSize(n: unknown, syscall: string, what = 'bufsize'): number {
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw new ArgumentTypeError(syscall, `${what} must be an integer, got ${describeValue(n)}`);
  // Python: ValueError "negative buffersize in recv".
  if (n < 0) throw new ValueError(syscall, `${what} must not be negative, got ${n}`);
  return n;
}

export class Socket {
  readonly family: AddressFamily;
  readonly type: SocketKind;
  readonly proto: number;
  readonly backend: SocketBackend;
  #impl: SocketImpl;
  #state: State;
  #bound: boolean;
  /** Seconds; null = blocking. */
  #timeout: number | null = null;
  #opts = new Map<string, OptionValue>();
  #shutWr = false;
  #connecting: Promise<void> | undefined;
  #connectError: SocketError | undefined;
  #connectAbort: AbortController | undefined;
  /** A bind() still resolving its address: later calls wait for it (a forgotten `await` stays harmless). */
  #binding: Promise<void> | undefined;

  /**
   * A new socket on `backend`. Most code calls the entry point's `socket()` instead.
   * `impl` is internal: accept() passes the connected implementation.
   */
  constructor(
    backend: SocketBackend,
    family: number = AF_INET,
    type: number = SOCK_STREAM,
    proto: number = 0,
    impl?: SocketImpl,
  ) {
    if (family !== AF_INET && family !== AF_INET6 && family !== AF_UNIX)
      throw new SocketError('EAFNOSUPPORT', {
        syscall: 'socket',
        detail: `address family ${family} not supported`,
      });
    if (type !== SOCK_STREAM && type !== SOCK_DGRAM)
      throw new SocketError('EINVAL', { syscall: 'socket', detail: `socket type ${type} not supported` });
    const okProto =
      proto === 0 ||
      (family !== AF_UNIX &&
        ((type === SOCK_STREAM && proto === IPPROTO_TCP) || (type === SOCK_DGRAM && proto === IPPROTO_UDP)));
    if (!okProto)
      throw new SocketError('EPROTONOSUPPORT', {
        syscall: 'socket',
        detail: `protocol ${proto} not supported`,
      });
    this.backend = backend;
    this.family = family;
    this.type = type;
    this.proto =
      proto === 0 && family !== AF_UNIX ? (type === SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP) : proto;
    try {
      this.#impl = impl ?? backend.create(family, type);
    } catch (e) {
      throw toSocketError(e, { syscall: 'socket' });
    }
    if (impl !== undefined) {
      this.#state = 'connected';
      this.#bound = true;
    } else {
      this.#state = 'fresh';
      this.#bound = false;
    }
  }

  /** Python's `s.timeout`. */
  get timeout(): number | null {
    return this.#timeout;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  toString(): string {
    if (this.#state === 'closed')
      return `<socket [closed] family=${familyName(this.family)} type=${typeName(this.type)}>`;
    const laddr = this.#bound ? ` laddr=${JSON.stringify(toTuple(this.#impl.getsockname()))}` : '';
    const p = this.#impl.getpeername();
    const raddr = p ? ` raddr=${JSON.stringify(toTuple(p))}` : '';
    return `<socket family=${familyName(this.family)} type=${typeName(this.type)} proto=${this.proto}${laddr}${raddr}>`;
  }

  // ---- timeouts -------------------------------------------------------------

  /** null: block forever; 0: non-blocking; t > 0: raise SocketTimeoutError after t seconds. */
  settimeout(value: number | null): void {
    if (value !== null && typeof value !== 'number')
      throw new ArgumentTypeError(
        'settimeout',
        `timeout must be null or a number, got ${describeValue(value)}`,
      );
    // Python: ValueError "Timeout value out of range".
    if (value !== null && (!(value >= 0) || !Number.isFinite(value)))
      throw new ValueError('settimeout', `timeout must be null or a finite number >= 0, got ${value}`);
    this.#timeout = value;
  }

  gettimeout(): number | null {
    return this.#timeout;
  }

  setblocking(flag: boolean): void {
    this.#timeout = flag ? null : 0;
  }

  getblocking(): boolean {
    return this.#timeout !== 0;
  }

  // ---- naming ---------------------------------------------------------------

  bind(address: Address): Promise<void> {
    if (this.#binding)
      return Promise.reject(
        new SocketError('EINVAL', {
          syscall: 'bind',
          detail: 'an earlier bind() on this socket has not finished (a missing await?)',
        }),
      );
    const p = this.#bind(address);
    this.#binding = p;
    const done = (): void => {
      if (this.#binding === p) this.#binding = undefined;
    };
    p.then(done, done);
    return p;
  }

  async #bind(address: Address): Promise<void> {
    this.#open('bind');
    if (this.#bound || this.#state !== 'fresh')
      throw new SocketError('EINVAL', { syscall: 'bind', detail: 'the socket is already bound' });
    const addr = await toSockAddr(this.backend, this.family, address, 'bind');
    this.#open('bind');
    if (this.#bound)
      throw new SocketError('EINVAL', { syscall: 'bind', detail: 'the socket is already bound' });
    try {
      await this.#impl.bind(addr);
    } catch (e) {
      throw toSocketError(e, { syscall: 'bind', ...describeAddress(addr) });
    }
    this.#bound = true;
  }

  /** Waits for a bind() the program did not await, so the calls run in the order they were made. */
  async #afterBind(): Promise<void> {
    await this.#binding?.catch(() => undefined);
  }

  getsockname(): AddressTuple {
    this.#open('getsockname');
    return toTuple(this.#bound ? this.#impl.getsockname() : anyAddress(this.family));
  }

  getpeername(): AddressTuple {
    this.#open('getpeername');
    const p = this.#state === 'connected' ? this.#impl.getpeername() : undefined;
    if (!p) throw new SocketError('ENOTCONN', { syscall: 'getpeername' });
    return toTuple(p);
  }

  // ---- stream: listen / accept / connect -----------------------------------

  async listen(backlog = 128): Promise<void> {
    if (this.#binding) await this.#afterBind();
    this.#open('listen');
    if (this.type !== SOCK_STREAM) throw new SocketError('EOPNOTSUPP', { syscall: 'listen' });
    if (this.#state === 'connected' || this.#state === 'connecting')
      throw new SocketError('EINVAL', { syscall: 'listen', detail: 'a connected socket cannot listen' });
    if (typeof backlog !== 'number' || !Number.isInteger(backlog))
      throw new ArgumentTypeError('listen', `backlog must be an integer, got ${describeValue(backlog)}`);
    const n = Math.min(Math.max(backlog, 0), SOMAXCONN);
    try {
      await (this.#impl as StreamImpl).listen(n);
    } catch (e) {
      throw toSocketError(e, { syscall: 'listen', ...describeAddress(this.#impl.getsockname()) });
    }
    this.#state = 'listening';
    this.#bound = true;
  }

  /** Waits for a connection: `[conn, address]`. */
  async accept(): Promise<[Socket, AddressTuple]> {
    this.#open('accept');
    if (this.type !== SOCK_STREAM) throw new SocketError('EOPNOTSUPP', { syscall: 'accept' });
    if (this.#state !== 'listening')
      throw new SocketError('EINVAL', {
        syscall: 'accept',
        detail: 'the socket is not listening (call listen() first)',
      });
    const impl = this.#impl as StreamImpl;
    const got = await this.#block('accept', () => impl.accept(), false, undefined);
    const conn = new Socket(this.backend, this.family, this.type, this.proto, got.impl);
    return [conn, toTuple(got.peer)];
  }

  async connect(address: Address): Promise<void> {
    if (this.#binding) await this.#afterBind();
    this.#open('connect');
    if (this.type === SOCK_DGRAM) {
      const addr = await toSockAddr(this.backend, this.family, address, 'connect');
      this.#open('connect');
      try {
        await (this.#impl as DatagramImpl).connect(addr);
      } catch (e) {
        throw toSocketError(e, { syscall: 'connect', ...describeAddress(addr) });
      }
      this.#state = 'connected';
      this.#bound = true;
      return;
    }
    if (this.#state === 'connected' || this.#state === 'listening') {
      throw new SocketError('EISCONN', { syscall: 'connect' });
    }
    if (this.#state === 'connecting') throw new SocketError('EALREADY', { syscall: 'connect' });
    if (this.#connectError) {
      const e = this.#connectError;
      this.#connectError = undefined;
      throw e;
    }
    const addr = await toSockAddr(this.backend, this.family, address, 'connect');
    this.#open('connect');
    const now = this.#state as State;
    if (now !== 'fresh')
      throw new SocketError(now === 'connecting' ? 'EALREADY' : 'EISCONN', { syscall: 'connect' });
    const ctx = { syscall: 'connect', ...describeAddress(addr) };
    const ac = new AbortController();
    this.#connectAbort = ac;
    this.#state = 'connecting';
    const p = this.#connectSettles((this.#impl as StreamImpl).connect(addr, ac.signal), ctx);
    this.#connecting = p;
    if (this.#timeout === 0) {
      p.catch((e: SocketError) => {
        this.#connectError = e;
      });
      // TCP_FASTOPEN_CONNECT with a cookie: connect() returns 0, the SYN waits for a write.
      if ((this.#impl as StreamImpl).connectDeferred) {
        this.#state = 'connected';
        this.#bound = true;
        this.#connecting = undefined;
        this.#connectAbort = undefined;
        return;
      }
      throw new SocketError('EINPROGRESS', ctx);
    }
    await this.#awaitConnect(p, ac, 'connect');
  }

  /**
   * sendto(MSG_FASTOPEN) on a fresh stream socket (Linux tcp_sendmsg_fastopen): connect, with
   * what a cached cookie allows in the SYN. Non-blocking, it returns the bytes in the SYN, or
   * raises EINPROGRESS when none went (no cookie yet: the SYN asks for one). Blocking, it waits
   * for the connection and sends the rest.
   */
  async #sendFastOpen(bytes: Uint8Array, addrIn: Address | undefined, flags: number): Promise<number> {
    if (addrIn === undefined) throw new SocketError('EDESTADDRREQ', { syscall: 'sendto' });
    if (this.#binding) await this.#afterBind();
    const impl = this.#impl as StreamImpl;
    const addr = await toSockAddr(this.backend, this.family, addrIn, 'sendto');
    this.#open('sendto');
    const ctx = { syscall: 'sendto', ...describeAddress(addr) };
    if (!impl.connectFastOpen || this.#state !== 'fresh')
      throw new SocketError(impl.connectFastOpen ? 'EISCONN' : 'EOPNOTSUPP', ctx);
    const ac = new AbortController();
    let started: { sent: number; connected: Promise<void> };
    try {
      started = impl.connectFastOpen(addr, bytes, ac.signal);
    } catch (e) {
      throw toSocketError(e, ctx);
    }
    this.#connectAbort = ac;
    this.#state = 'connecting';
    const p = this.#connectSettles(started.connected, ctx);
    this.#connecting = p;
    if (this.#timeout === 0 || (flags & MSG_DONTWAIT) !== 0) {
      p.catch((e: SocketError) => {
        this.#connectError = e;
      });
      if (started.sent > 0) return started.sent;
      throw new SocketError('EINPROGRESS', ctx);
    }
    await this.#awaitConnect(p, ac, 'sendto');
    const rest = bytes.subarray(started.sent);
    return started.sent + (rest.length > 0 ? await this.send(rest, flags) : 0);
  }

  /** connect() that returns an errno (0 on success) instead of raising, like connect_ex. Name errors still raise. */
  async connectEx(address: Address): Promise<number> {
    try {
      await this.connect(address);
      return 0;
    } catch (e) {
      if (e instanceof GaiError) throw e;
      if (e instanceof SocketTimeoutError) return 11; // Python returns EWOULDBLOCK on timeout
      if (e instanceof SocketError) return e.errno;
      throw e;
    }
  }

  // ---- data -----------------------------------------------------------------

  /** Sends some of `data`; returns how many bytes were taken (maybe fewer than all). */
  async send(data: Uint8Array | string, flags = 0): Promise<number> {
    if (this.#binding) await this.#afterBind();
    const bytes = toBytes(data, 'send');
    this.#open('send');
    if (this.type === SOCK_DGRAM) {
      if (this.#state !== 'connected') throw new SocketError('EDESTADDRREQ', { syscall: 'send' });
      return this.#sendDatagram(bytes, undefined, 'send');
    }
    await this.#waitConnected('send', flags);
    if (this.#state !== 'connected' || this.#shutWr) throw new SocketError('EPIPE', { syscall: 'send' });
    if (bytes.length === 0) return 0;
    const impl = this.#impl as StreamImpl;
    return this.#block(
      'send',
      () => {
        const n = impl.send(bytes, flags);
        return n > 0 ? n : undefined;
      },
      (flags & MSG_DONTWAIT) !== 0,
      undefined,
      'write',
    );
  }

  /**
   * Python's sendmsg(buffers, ancdata, flags, address): the buffers as one message. On a
   * datagram socket of the stack backend the control messages IP_TTL, IP_TOS, IPV6_HOPLIMIT
   * and IPV6_TCLASS set this datagram's (src/socket/ancillary.ts sendControl); a stream
   * takes none (Linux's tcp_sendmsg reads only SOL_SOCKET ones) and ignores `address`.
   */
  async sendmsg(
    buffers: readonly (Uint8Array | string)[],
    ancdata: readonly Ancillary[] = [],
    flags = 0,
    address?: Address,
  ): Promise<number> {
    const parts = buffers.map((b) => toBytes(b, 'sendmsg'));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    if (this.type === SOCK_STREAM) return this.send(data, flags);
    let control: SendControl;
    try {
      control = sendControl(ancdata);
    } catch (e) {
      throw toSocketError(e, { syscall: 'sendmsg' });
    }
    if (ancdata.length > 0 && !(this.#impl as DatagramImpl).sendsControl)
      throw new SocketError('EOPNOTSUPP', {
        syscall: 'sendmsg',
        detail: 'this backend takes no control messages',
      });
    if (this.#binding) await this.#afterBind();
    this.#open('sendmsg');
    const to =
      address === undefined ? undefined : await toSockAddr(this.backend, this.family, address, 'sendmsg');
    if (!to && this.#state !== 'connected') throw new SocketError('EDESTADDRREQ', { syscall: 'sendmsg' });
    return this.#sendDatagram(data, to, 'sendmsg', control);
  }

  /** Sends all of `data`, waiting as needed. The timeout bounds the whole call. */
  async sendall(data: Uint8Array | string, flags = 0): Promise<void> {
    if (this.#binding) await this.#afterBind();
    let bytes = toBytes(data, 'sendall');
    this.#open('sendall');
    if (this.type === SOCK_DGRAM) {
      await this.send(bytes, flags);
      return;
    }
    await this.#waitConnected('sendall', flags);
    if (this.#state !== 'connected' || this.#shutWr) throw new SocketError('EPIPE', { syscall: 'sendall' });
    const impl = this.#impl as StreamImpl;
    const ac = this.#timeout !== null && this.#timeout > 0 ? new AbortController() : undefined;
    const sched = this.backend.scheduler;
    const timer = ac
      ? sched.schedule(() => ac.abort(new SocketTimeoutError('sendall')), this.#timeout! * 1000)
      : undefined;
    try {
      while (bytes.length > 0) {
        const chunk = bytes;
        const n = await this.#block(
          'sendall',
          () => {
            const k = impl.send(chunk, flags);
            return k > 0 ? k : undefined;
          },
          (flags & MSG_DONTWAIT) !== 0,
          ac?.signal,
          'write',
        );
        bytes = bytes.subarray(n);
      }
    } finally {
      if (timer !== undefined) sched.cancel(timer);
    }
  }

  /** Up to `bufsize` bytes; an empty array means the peer closed (end of stream). */
  async recv(bufsize: number, flags = 0): Promise<Uint8Array> {
    if (this.#binding) await this.#afterBind();
    const n = checkSize(bufsize, 'recv');
    this.#open('recv');
    if (this.type === SOCK_DGRAM) return (await this.#recvDatagram(n, flags, 'recv')).data;
    await this.#waitConnected('recv', flags);
    if (this.#state !== 'connected') throw new SocketError('ENOTCONN', { syscall: 'recv' });
    if (n === 0) return new Uint8Array(0);
    const impl = this.#impl as StreamImpl;
    const peek = (flags & MSG_PEEK) !== 0;
    return this.#block('recv', () => impl.recv(n, peek), (flags & MSG_DONTWAIT) !== 0, undefined);
  }

  /** Receives into `buffer` (at most `nbytes`, default its length); returns the count. */
  async recvInto(buffer: Uint8Array, nbytes = 0, flags = 0): Promise<number> {
    if (!(buffer instanceof Uint8Array))
      throw new ArgumentTypeError('recv_into', `buffer must be a Uint8Array, got ${describeValue(buffer)}`);
    const want = checkSize(nbytes, 'recv_into', 'nbytes');
    if (want > buffer.length) throw new ValueError('recv_into', 'nbytes is greater than the buffer');
    const n = want || buffer.length;
    if (this.type !== SOCK_STREAM || n === 0) {
      const data = await this.recv(n, flags);
      buffer.set(data);
      return data.length;
    }
    if (this.#binding) await this.#afterBind();
    this.#open('recv_into');
    await this.#waitConnected('recv_into', flags);
    if (this.#state !== 'connected') throw new SocketError('ENOTCONN', { syscall: 'recv_into' });
    const impl = this.#impl as StreamImpl;
    const peek = (flags & MSG_PEEK) !== 0;
    const into = buffer.subarray(0, n);
    // One copy, from the connection's buffer into the caller's, where the backend can.
    const tryRecv = impl.recvInto
      ? () => impl.recvInto!(into, peek)
      : () => {
          const d = impl.recv(n, peek);
          if (d !== undefined) into.set(d);
          return d?.length;
        };
    return this.#block('recv_into', tryRecv, (flags & MSG_DONTWAIT) !== 0, undefined);
  }

  /** sendto(data, address) or sendto(data, flags, address). */
  async sendto(
    data: Uint8Array | string,
    flagsOrAddress: number | Address,
    address?: Address,
  ): Promise<number> {
    const bytes = toBytes(data, 'sendto');
    if (this.#binding) await this.#afterBind();
    const addrIn = typeof flagsOrAddress === 'number' ? address : flagsOrAddress;
    const flags = typeof flagsOrAddress === 'number' ? flagsOrAddress : 0;
    this.#open('sendto');
    if (this.type === SOCK_STREAM) {
      // RFC 7413 TCP Fast Open: sendto(MSG_FASTOPEN) connects with the data in the SYN.
      if (flags & MSG_FASTOPEN && this.#state === 'fresh') return this.#sendFastOpen(bytes, addrIn, flags);
      return this.send(bytes, flags); // Linux TCP ignores the address
    }
    const addr = await toSockAddr(this.backend, this.family, addrIn, 'sendto');
    return this.#sendDatagram(bytes, addr, 'sendto');
  }

  /** `[data, address]`; for a stream socket the address is null (as Python's None). */
  async recvfrom(bufsize: number, flags = 0): Promise<[Uint8Array, AddressTuple | null]> {
    if (this.#binding) await this.#afterBind();
    const n = checkSize(bufsize, 'recvfrom');
    this.#open('recvfrom');
    if (this.type === SOCK_STREAM) return [await this.recv(n, flags), null];
    const d = await this.#recvDatagram(n, flags, 'recvfrom');
    return [d.data, toTuple(d.from)];
  }

  /**
   * Python's recvmsg(): `[data, ancdata, msg_flags, address]`. `ancdata` holds the control
   * messages the socket's receive options ask for (TCP_INQ; IP_PKTINFO, IP_RECVTTL,
   * IP_RECVTOS, IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS on datagram sockets of
   * the stack backend: src/socket/ancillary.ts), cut to `ancbufsize` bytes as Linux cuts
   * them (MSG_CTRUNC); MSG_TRUNC says a datagram was longer than `bufsize`.
   */
  async recvmsg(
    bufsize: number,
    ancbufsize = 0,
    flags = 0,
  ): Promise<[Uint8Array, Ancillary[], number, AddressTuple | null]> {
    const room = checkSize(ancbufsize, 'recvmsg', 'ancbufsize');
    const on = (level: number, name: number): boolean => Boolean(this.#opts.get(`${level}:${name}`));
    if (this.type === SOCK_STREAM) {
      const data = await this.recv(bufsize, flags);
      const inq = (this.#impl as StreamImpl).inq;
      const [anc, trunc] = fitAncillary(
        on(IPPROTO_TCP, TCP_INQ) && inq ? [inqAncillary(inq.call(this.#impl))] : [],
        room,
      );
      return [data, anc, trunc, null];
    }
    if (this.#binding) await this.#afterBind();
    const n = checkSize(bufsize, 'recvmsg');
    this.#open('recvmsg');
    const d = await this.#recvDatagram(n, flags, 'recvmsg');
    const [anc, trunc] = fitAncillary(
      d.meta ? datagramAncillary(on, d.meta, this.family === AF_INET6) : [],
      room,
    );
    return [d.data, anc, trunc | (d.length > d.data.length ? MSG_TRUNC : 0), toTuple(d.from)];
  }

  /** `[nbytes, address]`, receiving into `buffer`. */
  async recvfromInto(buffer: Uint8Array, nbytes = 0, flags = 0): Promise<[number, AddressTuple | null]> {
    const want = checkSize(nbytes, 'recvfrom_into', 'nbytes');
    const [data, from] = await this.recvfrom(want || buffer.length, flags);
    buffer.set(data);
    return [data.length, from];
  }

  /** Yields received chunks (or datagrams) until end of stream. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const chunk = await this.recv(65536);
      if (chunk.length === 0 && this.type === SOCK_STREAM) return;
      yield chunk;
    }
  }

  // ---- the file and stream faces (src/socket/file.ts, web-streams.ts, sendfile.ts) ----

  /**
   * Python's makefile(): the socket as a file (readline, read, write, flush), in text
   * mode ('r', 'w', 'rw': strings) or binary mode ('rb', 'wb', 'rwb': Uint8Array).
   * Closing the file does not close the socket.
   */
  makefile(mode: BinaryMode, options?: MakefileOptions): SocketFile<Uint8Array>;
  makefile(mode?: TextMode, options?: MakefileOptions): SocketFile<string>;
  makefile(mode = 'r', options: MakefileOptions = {}): SocketFile<string> | SocketFile<Uint8Array> {
    this.#open('makefile');
    return new SocketFile<string>(this, mode, options);
  }

  /** Python's sendfile(): sends a file's bytes (see src/socket/sendfile.ts); resolves with the count sent. */
  async sendfile(file: SendableFile, offset = 0, count: number | null = null): Promise<number> {
    this.#open('sendfile');
    if (this.type !== SOCK_STREAM) throw new ValueError('sendfile', 'only SOCK_STREAM sockets are supported');
    return sendFile((d) => this.sendall(d), file, offset, count);
  }

  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array | string> | undefined;

  /** The received data as a Web ReadableStream (reads only when asked; closes at end of stream). */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= readableOf(this);
    return this.#readable;
  }

  /** A Web WritableStream that sends each chunk; closing it half-closes the socket (SHUT_WR). */
  get writable(): WritableStream<Uint8Array | string> {
    this.#writable ??= writableOf(this);
    return this.#writable;
  }

  // ---- shutdown / close -----------------------------------------------------

  shutdown(how: number): void {
    this.#open('shutdown');
    if (how !== 0 && how !== 1 && how !== 2)
      throw new SocketError('EINVAL', {
        syscall: 'shutdown',
        detail: 'how must be SHUT_RD, SHUT_WR or SHUT_RDWR',
      });
    if (this.#state !== 'connected') throw new SocketError('ENOTCONN', { syscall: 'shutdown' });
    if (this.type === SOCK_STREAM) {
      try {
        (this.#impl as StreamImpl).shutdown(how);
      } catch (e) {
        throw toSocketError(e, { syscall: 'shutdown' });
      }
    }
    if (how !== 0) this.#shutWr = true;
  }

  /** Closes the socket. Safe to call more than once. Does not wait for the peer. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#connectAbort?.abort(new SocketError('EBADF', { syscall: 'connect' }));
    try {
      await this.#impl.close();
    } catch {
      // close(2) errors are not actionable; Python ignores ECONNRESET here too.
    }
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- options --------------------------------------------------------------

  setsockopt(level: number, optname: number, value: SockOptValue): void {
    this.#open('setsockopt');
    const spec = this.#spec(level, optname, 'setsockopt');
    if (spec.kind === 'readonly') throw new SocketError('ENOPROTOOPT', { syscall: 'setsockopt' });
    const v = optionValue(level, optname, spec, value);
    try {
      this.#impl.setOption(level, optname, v);
    } catch (e) {
      throw toSocketError(e, { syscall: 'setsockopt' });
    }
    this.#opts.set(`${level}:${optname}`, v);
  }

  /** The option's value; with `buflen`, raw bytes (SO_LINGER gives the 8-byte struct). */
  getsockopt(level: number, optname: number, buflen?: number): number | Uint8Array {
    this.#open('getsockopt');
    const spec = this.#spec(level, optname, 'getsockopt');
    let v: OptionValue | undefined;
    if (optname === SO_TYPE && level === SOL_SOCKET) v = this.type;
    else if (optname === SO_ACCEPTCONN && level === SOL_SOCKET) v = this.#state === 'listening' ? 1 : 0;
    else {
      try {
        v = this.#impl.getOption(level, optname);
      } catch (e) {
        throw toSocketError(e, { syscall: 'getsockopt' });
      }
      if (v === undefined && optname === SO_ERROR && level === SOL_SOCKET && this.#connectError) {
        v = this.#connectError.errno;
        this.#connectError = undefined;
      }
      v ??= this.#opts.get(`${level}:${optname}`) ?? (spec.kind === 'linger' ? new Uint8Array(8) : spec.dflt);
    }
    return optionResult(spec, v, buflen);
  }

  // ---- internals ------------------------------------------------------------

  /**
   * A connect's outcome as the socket's state: connected (and bound) when it succeeds while
   * still connecting, back to fresh with the error as a SocketError when it fails.
   */
  #connectSettles(connected: Promise<void>, ctx: ErrorContext): Promise<void> {
    return connected.then(
      () => {
        if (this.#state === 'connecting') {
          this.#state = 'connected';
          this.#bound = true;
        }
      },
      (e) => {
        const err = e instanceof SocketTimeoutError ? e : toSocketError(e, ctx);
        if (this.#state === 'connecting') this.#state = 'fresh';
        throw err;
      },
    );
  }

  /** Waits for a blocking connect (connect, sendto with MSG_FASTOPEN) within the socket's timeout. */
  async #awaitConnect(p: Promise<void>, ac: AbortController, syscall: string): Promise<void> {
    const sched = this.backend.scheduler;
    const timer =
      this.#timeout === null
        ? undefined
        : sched.schedule(() => ac.abort(new SocketTimeoutError(syscall)), this.#timeout * 1000);
    // A blocked call keeps the process alive until its result or its timeout.
    const keep = this.backend.keepAlive;
    keep?.ref();
    try {
      await p;
    } finally {
      keep?.unref();
      if (timer !== undefined) sched.cancel(timer);
      this.#connecting = undefined;
      this.#connectAbort = undefined;
    }
  }

  #open(syscall: string): void {
    if (this.#state === 'closed') throw new SocketError('EBADF', { syscall });
  }

  #spec(level: number, optname: number, syscall: string): OptSpec {
    return optionSpec(level, optname, this.type, this.family, syscall);
  }

  /** A stream that is still connecting (non-blocking connect): wait for it, or EAGAIN when non-blocking. */
  async #waitConnected(syscall: string, flags: number): Promise<void> {
    if (this.#state !== 'connecting' || !this.#connecting) return;
    if (this.#timeout === 0 || (flags & MSG_DONTWAIT) !== 0) throw new SocketError('EAGAIN', { syscall });
    await this.#connecting.catch(() => undefined);
    this.#open(syscall);
  }

  async #sendDatagram(
    bytes: Uint8Array,
    to: SockAddr | undefined,
    syscall: string,
    control?: SendControl,
  ): Promise<number> {
    const impl = this.#impl as DatagramImpl;
    try {
      const n = await impl.sendto(bytes, to, control);
      this.#bound = true;
      return n;
    } catch (e) {
      throw toSocketError(e, { syscall, ...(to ? describeAddress(to) : {}) });
    }
  }

  async #recvDatagram(n: number, flags: number, syscall: string) {
    const impl = this.#impl as DatagramImpl;
    const peek = (flags & MSG_PEEK) !== 0;
    return this.#block(syscall, () => impl.recvfrom(n, peek), (flags & MSG_DONTWAIT) !== 0, undefined);
  }

  /** One try of a call that may block: its result, or undefined when it would block. */
  #try<T>(syscall: string, attempt: () => T | undefined): T | undefined {
    this.#open(syscall);
    try {
      return attempt();
    } catch (e) {
      throw toSocketError(e, { syscall });
    }
  }

  /**
   * The blocking loop: try; if it would block, fail EAGAIN (non-blocking) or wait
   * for readiness under the timeout, then try again. A call that need not wait returns its
   * result as it is, no promise (every caller is async), and one that fails throws: a
   * recv of bytes already there costs no async frame of its own.
   */
  #block<T>(
    syscall: string,
    attempt: () => T | undefined,
    dontwait: boolean,
    outer: AbortSignal | undefined,
    dir: 'read' | 'write' = 'read',
  ): T | Promise<T> {
    let r = this.#try(syscall, attempt);
    if (r !== undefined) return r;
    if (dontwait || this.#timeout === 0) throw new SocketError('EAGAIN', { syscall });
    return (async (): Promise<T> => {
      const sched = this.backend.scheduler;
      let timer: unknown;
      let signal = outer;
      const t = this.#timeout;
      if (!signal && t !== null) {
        const ac = new AbortController();
        signal = ac.signal;
        timer = sched.schedule(() => ac.abort(new SocketTimeoutError(syscall)), t * 1000);
      }
      // Without a timeout nothing aborts the wait: no signal, no AbortController (Waiters.wait).
      // A blocked call keeps the process alive until its result or its timeout.
      const keep = this.backend.keepAlive;
      keep?.ref();
      try {
        for (;;) {
          if (signal?.aborted) throw signal.reason;
          await (dir === 'read' ? this.#impl.waitReadable(signal) : this.#impl.waitWritable(signal));
          r = this.#try(syscall, attempt);
          if (r !== undefined) return r;
        }
      } finally {
        keep?.unref();
        if (timer !== undefined) sched.cancel(timer);
      }
    })();
  }
}
