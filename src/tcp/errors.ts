/**
 * TCP core errors. API misuse throws a `TcpError` carrying a Node-style `code`;
 * the socket layer maps it to its SocketError (errno, syscall) in one place.
 * A connection that ends abnormally reports a `TcpCloseReason` instead.
 */

export type TcpErrorCode =
  | 'EADDRINUSE'
  | 'EACCES'
  | 'EADDRNOTAVAIL'
  | 'EINVAL'
  | 'ENOTCONN'
  | 'EPIPE'
  | 'EISCONN'
  | 'EALREADY'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'ENETUNREACH'
  | 'EHOSTUNREACH'
  | 'ECONNABORTED'
  | 'EAGAIN'
  | 'EMSGSIZE'
  | 'EOPNOTSUPP'
  | 'EINPROGRESS';

export class TcpError extends Error {
  readonly code: TcpErrorCode;
  constructor(code: TcpErrorCode, message?: string) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'TcpError';
    this.code = code;
  }
}

/** Why a connection ended abnormally (undefined reason = orderly close). */
export type TcpCloseReason =
  | 'refused'
  | 'reset'
  | 'timed-out'
  | 'unreachable'
  | 'host-unreachable'
  | 'net-unreachable'
  | 'aborted';

/** The errno a close reason corresponds to (for SO_ERROR / failed reads). */
export function reasonCode(r: TcpCloseReason): TcpErrorCode {
  switch (r) {
    case 'refused':
      return 'ECONNREFUSED';
    case 'reset':
      return 'ECONNRESET';
    case 'timed-out':
      return 'ETIMEDOUT';
    case 'unreachable':
    case 'host-unreachable':
      return 'EHOSTUNREACH';
    case 'net-unreachable':
      return 'ENETUNREACH';
    case 'aborted':
      return 'ECONNABORTED';
  }
}
