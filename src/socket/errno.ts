/**
 * The socket API's one error type and the one place every backend failure is
 * turned into it.
 *
 * `SocketError` looks like Python's OSError and like Node's system errors at once:
 * `code` ('ECONNREFUSED'), `errno` (the positive Linux number, like Python's
 * `e.errno`), `syscall` ('connect'), optional `address`/`port`, and a message a
 * person can act on:
 *
 *   connect ECONNREFUSED 127.0.0.1:5000: the peer refused the connection (nothing listening on that port)
 *
 * Two subclasses mirror Python's special cases:
 * - `SocketTimeoutError` (Python's `socket.timeout`, a TimeoutError): name
 *   'TimeoutError', message 'timed out', code 'ETIMEDOUT'.
 * - `GaiError` (Python's `socket.gaierror`): code 'EAI_NONAME' etc., with glibc's
 *   negative EAI_* numbers as `errno`, exactly as Python reports them.
 *
 * Arguments the kernel never sees keep Python's kinds instead (they are not OSErrors):
 * - `ArgumentTypeError` (a TypeError, code ERR_INVALID_ARG_TYPE): a value of the
 *   wrong type, such as the port '5002', bind('host') or sendall(42);
 * - `OverflowError` (a RangeError, code ERR_OUT_OF_RANGE): a number outside its
 *   range, such as port 70000;
 * - `ValueError` (a RangeError, code ERR_INVALID_ARG_VALUE): a bad value, such as
 *   recv(-1) or settimeout(-1).
 */

/** Linux errno numbers (<asm-generic/errno-base.h>, <asm-generic/errno.h>). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

/** glibc's getaddrinfo error numbers (negative, as Python's gaierror.errno). */
export const EAI = {
  EAI_BADFLAGS: -1,
  EAI_NONAME: -2,
  EAI_AGAIN: -3,
  EAI_FAIL: -4,
  EAI_NODATA: -5,
  EAI_FAMILY: -6,
  EAI_SOCKTYPE: -7,
  EAI_SERVICE: -8,
  EAI_ADDRFAMILY: -9,
  EAI_MEMORY: -10,
  EAI_SYSTEM: -11,
} as const;

export type GaiCode = keyof typeof EAI;

/** strerror-like text, written for people who are learning what the codes mean. */
const EXPLAIN: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EBADF: 'bad file descriptor (the socket is closed)',
  EAGAIN: 'resource temporarily unavailable (the call would block on a non-blocking socket)',
  EACCES: 'permission denied',
  EINVAL: 'invalid argument',
  ENODEV: 'no such device (no interface by that index or address, or none routes the group)',
  EPIPE: 'broken pipe (the connection can no longer send)',
  EDESTADDRREQ: 'destination address required (sendto on an unconnected socket needs an address)',
  EMSGSIZE: 'message too long for one datagram',
  ENOPROTOOPT: 'protocol not available (unknown or unsupported socket option)',
  EPROTONOSUPPORT: 'protocol not supported',
  EOPNOTSUPP: 'operation not supported on this kind of socket',
  EAFNOSUPPORT: 'address family not supported',
  EADDRINUSE: 'address already in use (another socket is bound to that port)',
  EADDRNOTAVAIL: 'cannot assign requested address (no local interface has it)',
  ENETDOWN: 'network is down',
  ENETUNREACH: 'network is unreachable (no route)',
  ECONNABORTED: 'connection aborted',
  ECONNRESET: 'connection reset by peer',
  ENOBUFS: 'no buffer space available',
  EISCONN: 'the socket is already connected',
  ENOTCONN: 'the socket is not connected',
  ESHUTDOWN: 'cannot send after shutdown',
  ETIMEDOUT: 'connection timed out',
  ECONNREFUSED: 'the peer refused the connection (nothing listening on that port)',
  EHOSTUNREACH: 'no route to host',
  EALREADY: 'a connection attempt is already in progress',
  EINPROGRESS: 'operation now in progress (non-blocking connect started)',
  EAI_NONAME: 'name or service not known',
  EAI_AGAIN: 'temporary failure in name resolution',
  EAI_FAIL: 'non-recoverable failure in name resolution',
  EAI_NODATA: 'no address associated with hostname',
  EAI_FAMILY: 'address family not supported',
  EAI_SERVICE: 'service not supported for socket type',
  EAI_ADDRFAMILY: 'address family for hostname not supported',
  EAI_SOCKTYPE: 'socket type not supported',
};

export interface SocketErrorInit {
  syscall?: string;
  address?: string;
  port?: number;
  /** Replaces the standard explanation after the colon. */
  detail?: string;
  cause?: unknown;
}

export class SocketError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;

  constructor(code: string, init: SocketErrorInit = {}) {
    const where =
      init.address === undefined
        ? ''
        : init.port === undefined
          ? ` ${init.address}`
          : ` ${hostPort(init.address, init.port)}`;
    const head = `${init.syscall ? `${init.syscall} ` : ''}${code}${where}`;
    super(
      `${head}: ${init.detail ?? EXPLAIN[code] ?? 'unknown error'}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.name = 'SocketError';
    this.code = code;
    this.errno = (ERRNO as Record<string, number>)[code] ?? (EAI as Record<string, number>)[code] ?? 0;
    this.syscall = init.syscall;
    this.address = init.address;
    this.port = init.port;
  }

  /** Python's `e.strerror`. */
  get strerror(): string {
    return EXPLAIN[this.code] ?? this.code;
  }
}

/** Python's socket.timeout / TimeoutError: raised when a socket timeout expires. */
export class SocketTimeoutError extends SocketError {
  constructor(syscall?: string) {
    super('ETIMEDOUT', { syscall });
    this.name = 'TimeoutError';
    this.message = 'timed out';
  }
}

/** Python's socket.gaierror: name resolution failed. `errno` is glibc's negative EAI_* value. */
export class GaiError extends SocketError {
  readonly host: string | undefined;
  constructor(code: GaiCode, host?: string, detail?: string) {
    super(code, { syscall: 'getaddrinfo', address: host, detail });
    this.name = 'GaiError';
    this.host = host;
  }
}

/** Python's TypeError: an argument of the wrong type. Message: 'bind(): port must be ...'. */
export class ArgumentTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_TYPE';
  readonly syscall: string | undefined;
  constructor(syscall: string | undefined, detail: string) {
    super(syscall ? `${syscall}(): ${detail}` : detail);
    this.syscall = syscall;
  }
}

/** Python's OverflowError: a number outside its range (a RangeError named OverflowError). */
export class OverflowError extends RangeError {
  readonly code = 'ERR_OUT_OF_RANGE';
  readonly syscall: string | undefined;
  constructor(syscall: string | undefined, detail: string) {
    super(syscall ? `${syscall}(): ${detail}` : detail);
    this.name = 'OverflowError';
    this.syscall = syscall;
  }
}

/** Python's ValueError: an argument of the right type with a bad value (a RangeError named ValueError). */
export class ValueError extends RangeError {
  readonly code = 'ERR_INVALID_ARG_VALUE';
  readonly syscall: string | undefined;
  constructor(syscall: string | undefined, detail: string) {
    super(syscall ? `${syscall}(): ${detail}` : detail);
    this.name = 'ValueError';
    this.syscall = syscall;
  }
}

/** How a value is named in a TypeError: "the string '5002'", "a number (1.5)", "null". */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string '${v}'`;
  if (typeof v === 'number') return `the number ${v}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return 'a Uint8Array';
  return typeof v === 'object'
    ? `an object (${(v as object).constructor?.name ?? 'Object'})`
    : `a ${typeof v}`;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Connection-end reasons reported by the stack's TCP core (TcpCloseReason). */
const REASONS: Record<string, string> = {
  refused: 'ECONNREFUSED',
  reset: 'ECONNRESET',
  'timed-out': 'ETIMEDOUT',
  unreachable: 'EHOSTUNREACH',
  'host-unreachable': 'EHOSTUNREACH',
  'net-unreachable': 'ENETUNREACH',
  aborted: 'ECONNABORTED',
};

/** Node's getaddrinfo codes (dns.lookup) that differ from the EAI_ names. */
const NODE_GAI: Record<string, GaiCode> = {
  ENOTFOUND: 'EAI_NONAME',
  ENODATA: 'EAI_NODATA',
  ESERVFAIL: 'EAI_FAIL',
  ETIMEOUT: 'EAI_AGAIN',
  ECONNREFUSED: 'EAI_AGAIN',
  EAI_AGAIN: 'EAI_AGAIN',
  EAI_NONAME: 'EAI_NONAME',
  EAI_FAIL: 'EAI_FAIL',
  EAI_NODATA: 'EAI_NODATA',
  EAI_FAMILY: 'EAI_FAMILY',
  EAI_ADDRFAMILY: 'EAI_ADDRFAMILY',
};

export interface ErrorContext {
  syscall?: string;
  address?: string;
  port?: number;
}

/**
 * THE mapping from any backend failure to a SocketError. Accepts:
 * - a SocketError (returned as is; context fills in missing syscall/address);
 * - a Node system error or a stack TcpError/UdpError: anything with a string `code`
 *   naming an errno ('ECONNREFUSED') or an EAI_ value;
 * - a TCP close reason string: 'refused' | 'reset' | 'timed-out' | 'unreachable'
 *   | 'host-unreachable' | 'net-unreachable' | 'aborted';
 * - anything else becomes EIO with the original as `cause`.
 */
export function toSocketError(e: unknown, ctx: ErrorContext = {}): SocketError {
  if (e instanceof SocketError) {
    if (e.syscall !== undefined || ctx.syscall === undefined) return e;
    if (e instanceof SocketTimeoutError) return new SocketTimeoutError(ctx.syscall);
    if (e instanceof GaiError) return e;
    return new SocketError(e.code, {
      ...ctx,
      address: e.address ?? ctx.address,
      port: e.port ?? ctx.port,
      cause: e.cause,
    });
  }
  if (typeof e === 'string') {
    const code = REASONS[e] ?? (e in ERRNO ? e : undefined);
    if (code) return new SocketError(code, ctx);
    return new SocketError('EIO', { ...ctx, detail: e });
  }
  if (e !== null && typeof e === 'object') {
    const o = e as {
      code?: unknown;
      reason?: unknown;
      syscall?: unknown;
      address?: unknown;
      port?: unknown;
      hostname?: unknown;
    };
    const code = typeof o.code === 'string' ? o.code : undefined;
    const syscall = ctx.syscall ?? (typeof o.syscall === 'string' ? o.syscall : undefined);
    const address = ctx.address ?? (typeof o.address === 'string' ? o.address : undefined);
    const port = ctx.port ?? (typeof o.port === 'number' ? o.port : undefined);
    if (code !== undefined) {
      if (syscall === 'getaddrinfo' || code.startsWith('EAI_') || code === 'ENOTFOUND') {
        const gai = NODE_GAI[code];
        if (gai) return new GaiError(gai, typeof o.hostname === 'string' ? o.hostname : address);
      }
      if (code in ERRNO) return new SocketError(code, { syscall, address, port, cause: e });
      if (code === 'ENOTSUP') return new SocketError('EOPNOTSUPP', { syscall, address, port, cause: e });
      if (code === 'EWOULDBLOCK') return new SocketError('EAGAIN', { syscall, address, port, cause: e });
      if (
        code === 'ERR_SOCKET_DGRAM_NOT_RUNNING' ||
        code === 'ERR_SOCKET_CLOSED' ||
        code === 'ERR_STREAM_DESTROYED'
      )
        return new SocketError('EBADF', { syscall, address, port, cause: e });
      if (code === 'ERR_STREAM_WRITE_AFTER_END')
        return new SocketError('EPIPE', { syscall, address, port, cause: e });
    }
    if (typeof o.reason === 'string' && REASONS[o.reason])
      return new SocketError(REASONS[o.reason], { syscall, address, port });
    const msg = e instanceof Error ? e.message : String(e);
    return new SocketError('EIO', { syscall, address, port, detail: msg, cause: e });
  }
  return new SocketError('EIO', { ...ctx, detail: String(e) });
}

/** The errno number for an error (0 for success-like undefined), as connect_ex returns. */
export function errnoOf(e: unknown): number {
  return toSocketError(e).errno;
}
