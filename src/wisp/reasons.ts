/**
 * Wisp v1 close reasons (spec, "CLOSE": client/server, server-only and client-only
 * reasons) and what each means to a socket: the errno a connect() or a later
 * recv()/send() raises.
 */

export const WispCloseReason = {
  /** 0x01: reason unspecified or unknown. */
  UNKNOWN: 0x01,
  /** 0x02: voluntary stream closure, "would equate to one side resetting the connection". */
  VOLUNTARY: 0x02,
  /** 0x03: unexpected stream closure due to a network error. */
  NETWORK_ERROR: 0x03,
  /** 0x41: stream creation failed due to invalid information (reserved address, bad port). */
  INVALID: 0x41,
  /** 0x42: stream creation failed: destination host unreachable (name does not resolve). */
  UNREACHABLE: 0x42,
  /** 0x43: stream creation timed out (destination not responding). */
  CONNECT_TIMEOUT: 0x43,
  /** 0x44: the destination refused the connection. */
  REFUSED: 0x44,
  /** 0x47: TCP data transfer timed out. */
  DATA_TIMEOUT: 0x47,
  /** 0x48: destination intentionally blocked by the proxy server. */
  BLOCKED: 0x48,
  /** 0x49: connection throttled by the server. */
  THROTTLED: 0x49,
  /** 0x81: the client hit an unexpected error and cannot receive more data. */
  CLIENT_ERROR: 0x81,
} as const;

export type WispCloseReasonName = keyof typeof WispCloseReason;

const NAMES = new Map<number, WispCloseReasonName>(
  Object.entries(WispCloseReason).map(([k, v]) => [v, k as WispCloseReasonName]),
);

/** 'REFUSED (0x44)', or 'reason 0x99' for a value the spec does not define. */
export function describeCloseReason(reason: number): string {
  const hex = `0x${reason.toString(16).padStart(2, '0')}`;
  const name = NAMES.get(reason);
  return name === undefined ? `reason ${hex}` : `${name} (${hex})`;
}

/**
 * The errno a socket reports when its stream is closed with `reason`, and a readable
 * detail; undefined when the close is the stream's normal end (end of stream, as a
 * peer's FIN). `connecting`: the CLOSE came before the stream was established, where
 * the stream-creation reasons apply and any other reason means the connect failed.
 */
export function closeReasonError(
  reason: number,
  connecting: boolean,
): { code: string; detail: string } | undefined {
  const d = `the Wisp server closed the stream: ${describeCloseReason(reason)}`;
  switch (reason) {
    case WispCloseReason.REFUSED:
      return { code: 'ECONNREFUSED', detail: `${d}, the destination refused the connection` };
    case WispCloseReason.CONNECT_TIMEOUT:
    case WispCloseReason.DATA_TIMEOUT:
      return { code: 'ETIMEDOUT', detail: `${d}, the destination did not respond` };
    case WispCloseReason.UNREACHABLE:
      return { code: 'EHOSTUNREACH', detail: `${d}, the destination host is unreachable` };
    case WispCloseReason.BLOCKED:
      // Linux answers EACCES to a connect a local firewall policy forbids (iptables REJECT
      // with icmp-admin-prohibited gives EHOSTUNREACH; a netfilter drop at OUTPUT gives EPERM).
      return { code: 'EACCES', detail: `${d}, the relay's allow-list does not include this destination` };
    case WispCloseReason.INVALID:
      return { code: 'EINVAL', detail: `${d}, the relay rejected the destination` };
    case WispCloseReason.THROTTLED:
      return { code: 'ECONNREFUSED', detail: `${d}, the relay has too many streams open` };
    case WispCloseReason.NETWORK_ERROR:
      return connecting
        ? { code: 'ECONNREFUSED', detail: `${d}, the connection failed` }
        : { code: 'ECONNRESET', detail: `${d}, the connection was lost` };
    case WispCloseReason.VOLUNTARY:
      // Deviation: the spec likens 0x02 to a reset, but v1 has no other way to end a
      // stream, and servers send it when the destination closes normally; an established
      // stream closed voluntarily therefore reads as end of stream. Our server sends 0x03
      // when the destination resets (ECONNRESET).
      return connecting ? { code: 'ECONNREFUSED', detail: `${d} before it was established` } : undefined;
    default:
      return connecting
        ? { code: 'ECONNREFUSED', detail: `${d} before it was established` }
        : { code: 'ECONNRESET', detail: d };
  }
}
