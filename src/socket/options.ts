/**
 * The socket options the front knows (level, name → kind, where it applies, default),
 * and the checks and conversions setsockopt/getsockopt apply to their values, with
 * Linux's answers (socket(7), ip(7), tcp(7)).
 */
import type { OptionValue } from './backend.ts';
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_DROP_SOURCE_MEMBERSHIP,
  IP_MTU_DISCOVER,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_PKTINFO,
  IP_RECVTOS,
  IP_RECVTTL,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_RECVTCLASS,
  IPV6_TCLASS,
  IPV6_V6ONLY,
  SO_ACCEPTCONN,
  SO_BROADCAST,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_MAX_PACING_RATE,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_CA_NAME_MAX,
  TCP_CONGESTION,
  TCP_CORK,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_FASTOPEN_NO_COOKIE,
  TCP_INFO,
  TCP_INQ,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_NOTSENT_LOWAT,
  TCP_REMOTE_UDP_ENCAPS_PORT,
  TCP_USER_TIMEOUT,
} from './constants.ts';
import { ArgumentTypeError, describeValue, SocketError } from './errno.ts';

/**
 * Values setsockopt accepts: integers, booleans, struct bytes, [l_onoff, l_linger] for
 * SO_LINGER, or a name (TCP_CONGESTION, as a string or its bytes).
 */
export type SockOptValue = number | boolean | Uint8Array | readonly [number, number] | string;

export type OptKind =
  | 'int'
  | 'bool'
  | 'linger'
  | 'readonly'
  | 'mreq6'
  | 'mreq4'
  | 'mreq4src'
  | 'mcif4'
  | 'name';
export interface OptSpec {
  kind: OptKind;
  /** Which socket types the option applies to. */
  on: 'any' | 'stream' | 'ip';
  dflt: number;
}

const OPTIONS = new Map<string, OptSpec>([
  [`${SOL_SOCKET}:${SO_REUSEADDR}`, { kind: 'bool', on: 'any', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_REUSEPORT}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_BROADCAST}`, { kind: 'bool', on: 'any', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_KEEPALIVE}`, { kind: 'bool', on: 'any', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_SNDBUF}`, { kind: 'int', on: 'any', dflt: 16384 }],
  [`${SOL_SOCKET}:${SO_RCVBUF}`, { kind: 'int', on: 'any', dflt: 131072 }],
  [`${SOL_SOCKET}:${SO_LINGER}`, { kind: 'linger', on: 'any', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_MAX_PACING_RATE}`, { kind: 'int', on: 'stream', dflt: -1 }],
  [`${SOL_SOCKET}:${SO_TYPE}`, { kind: 'readonly', on: 'any', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_ERROR}`, { kind: 'readonly', on: 'any', dflt: 0 }],
  [`${SOL_SOCKET}:${SO_ACCEPTCONN}`, { kind: 'readonly', on: 'any', dflt: 0 }],
  // tcp(7) TCP_INFO: struct tcp_info, read-only (bytes with buflen, else its first 4 as an int, as Python).
  [`${IPPROTO_TCP}:${TCP_INFO}`, { kind: 'readonly', on: 'stream', dflt: 0 }],
  [`${IPPROTO_TCP}:${TCP_NODELAY}`, { kind: 'bool', on: 'stream', dflt: 0 }],
  [`${IPPROTO_TCP}:${TCP_MAXSEG}`, { kind: 'int', on: 'stream', dflt: 536 }],
  [`${IPPROTO_TCP}:${TCP_KEEPIDLE}`, { kind: 'int', on: 'stream', dflt: 7200 }],
  [`${IPPROTO_TCP}:${TCP_KEEPINTVL}`, { kind: 'int', on: 'stream', dflt: 75 }],
  [`${IPPROTO_TCP}:${TCP_KEEPCNT}`, { kind: 'int', on: 'stream', dflt: 9 }],
  // Linux tcp(7) TCP_CONGESTION: a name; the os backend records it (Node cannot pass it down).
  [`${IPPROTO_TCP}:${TCP_CONGESTION}`, { kind: 'name', on: 'stream', dflt: 0 }],
  // Linux tcp(7): ms of unacknowledged data before the connection fails ETIMEDOUT; 0 = off.
  // (The os backend records it; Node cannot pass it to the kernel.)
  [`${IPPROTO_TCP}:${TCP_USER_TIMEOUT}`, { kind: 'int', on: 'stream', dflt: 0 }],
  // Linux TCP Fast Open (RFC 7413): the listener's queue bound, deferred connect, no cookie.
  [`${IPPROTO_TCP}:${TCP_FASTOPEN}`, { kind: 'int', on: 'stream', dflt: 0 }],
  // (0 or 1; Linux answers other values EINVAL, so they are ints here, not booleans.)
  [`${IPPROTO_TCP}:${TCP_FASTOPEN_CONNECT}`, { kind: 'int', on: 'stream', dflt: 0 }],
  [`${IPPROTO_TCP}:${TCP_FASTOPEN_NO_COOKIE}`, { kind: 'int', on: 'stream', dflt: 0 }],
  // tcp(7) TCP_CORK: hold partial segments until uncorked (or a persist timeout, Linux's 200 ms
  // ceiling); TCP_NOTSENT_LOWAT: writable only below this many unsent bytes (-1: no limit).
  [`${IPPROTO_TCP}:${TCP_CORK}`, { kind: 'bool', on: 'stream', dflt: 0 }],
  [`${IPPROTO_TCP}:${TCP_NOTSENT_LOWAT}`, { kind: 'int', on: 'stream', dflt: -1 }],
  // FreeBSD tcp(4): TCP over UDP to this peer port (stack backend; the os backend refuses it).
  [`${IPPROTO_TCP}:${TCP_REMOTE_UDP_ENCAPS_PORT}`, { kind: 'int', on: 'stream', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_V6ONLY}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  // RFC 3493 §5.2 multicast on datagram sockets: membership (struct ipv6_mreq, set only)
  // and the hop limit of multicast datagrams (Linux default 1; -1 restores it).
  [`${IPPROTO_IPV6}:${IPV6_JOIN_GROUP}`, { kind: 'mreq6', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_LEAVE_GROUP}`, { kind: 'mreq6', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_MULTICAST_HOPS}`, { kind: 'int', on: 'ip', dflt: 1 }],
  // ipv6(7): the interface index group datagrams leave by (0: the route's), and whether
  // they loop back to local members (0 or 1, default 1).
  [`${IPPROTO_IPV6}:${IPV6_MULTICAST_IF}`, { kind: 'int', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_MULTICAST_LOOP}`, { kind: 'int', on: 'ip', dflt: 1 }],
  // ip(7) multicast: membership (set only), the outgoing interface, the TTL (default 1, -1
  // restores it) and loopback (default on) of group datagrams.
  [`${IPPROTO_IP}:${IP_ADD_MEMBERSHIP}`, { kind: 'mreq4', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_DROP_MEMBERSHIP}`, { kind: 'mreq4', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_ADD_SOURCE_MEMBERSHIP}`, { kind: 'mreq4src', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_DROP_SOURCE_MEMBERSHIP}`, { kind: 'mreq4src', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_MULTICAST_IF}`, { kind: 'mcif4', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_MULTICAST_TTL}`, { kind: 'int', on: 'ip', dflt: 1 }],
  [`${IPPROTO_IP}:${IP_MULTICAST_LOOP}`, { kind: 'bool', on: 'ip', dflt: 1 }],
  // ip(7): the TOS byte and the path MTU discovery mode (default IP_PMTUDISC_WANT). The stack's
  // TCP puts them on its segments; the os backend records them (Node cannot pass them down).
  [`${IPPROTO_IP}:${IP_TOS}`, { kind: 'int', on: 'ip', dflt: 0 }],
  // ip(7) IP_TTL: 1..255, -1 restores the default. The os backend applies it to datagram
  // sockets (dgram setTTL) and records it for streams (Node cannot pass it down).
  [`${IPPROTO_IP}:${IP_TTL}`, { kind: 'int', on: 'ip', dflt: 64 }],
  [`${IPPROTO_IP}:${IP_MTU_DISCOVER}`, { kind: 'int', on: 'ip', dflt: 1 }],
  // Which control messages recvmsg() adds (src/socket/ancillary.ts): TCP_INQ on streams, the
  // ip(7) and RFC 3542 receive options on datagram sockets (streams accept and ignore them).
  [`${IPPROTO_TCP}:${TCP_INQ}`, { kind: 'bool', on: 'stream', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_PKTINFO}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_RECVTTL}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IP}:${IP_RECVTOS}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_RECVPKTINFO}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_RECVHOPLIMIT}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  [`${IPPROTO_IPV6}:${IPV6_RECVTCLASS}`, { kind: 'bool', on: 'ip', dflt: 0 }],
  // RFC 3542 §6.5: the Traffic Class of the socket's datagrams (-1: the default, 0).
  [`${IPPROTO_IPV6}:${IPV6_TCLASS}`, { kind: 'int', on: 'ip', dflt: 0 }],
]);

/** TCP-level integer options that take 0 (the others start at 1). */
const ZERO_ALLOWED = new Set([
  TCP_USER_TIMEOUT,
  TCP_REMOTE_UDP_ENCAPS_PORT,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_FASTOPEN_NO_COOKIE,
]);

/** The spec of an option for a socket of this type and family; ENOPROTOOPT/EOPNOTSUPP where Linux says so. */
export function optionSpec(
  level: number,
  optname: number,
  type: number,
  family: number,
  syscall: string,
): OptSpec {
  // A level this socket's protocols do not have: Linux's IPv4 getsockopt answers EOPNOTSUPP
  // (do_ip_getsockopt: "if (level != SOL_IP) return -EOPNOTSUPP"), its setsockopt and IPv6
  // ENOPROTOOPT.
  const badLevel = () =>
    new SocketError(syscall === 'getsockopt' && family === AF_INET ? 'EOPNOTSUPP' : 'ENOPROTOOPT', {
      syscall,
    });
  if (level !== SOL_SOCKET && level !== IPPROTO_TCP && level !== IPPROTO_IPV6 && level !== IPPROTO_IP)
    throw badLevel();
  if (level === IPPROTO_IPV6 && family !== AF_INET6) throw badLevel();
  const spec = OPTIONS.get(`${level}:${optname}`);
  if (!spec)
    throw new SocketError('ENOPROTOOPT', {
      syscall,
      detail: `unknown option level ${level} name ${optname}`,
    });
  if (spec.on === 'stream' && (type !== SOCK_STREAM || family === AF_UNIX)) {
    if (type === SOCK_STREAM) throw new SocketError('EOPNOTSUPP', { syscall });
    throw level === IPPROTO_TCP ? badLevel() : new SocketError('ENOPROTOOPT', { syscall });
  }
  if (spec.on === 'ip' && family === AF_UNIX) throw new SocketError('ENOPROTOOPT', { syscall });
  return spec;
}

/** setsockopt's value, checked and converted to what a backend stores. */
export function optionValue(level: number, optname: number, spec: OptSpec, value: SockOptValue): OptionValue {
  if (spec.kind === 'name') {
    // Linux do_tcp_setsockopt TCP_CONGESTION: at most TCP_CA_NAME_MAX - 1 bytes, up to a NUL.
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    if (!(bytes instanceof Uint8Array))
      throw new ArgumentTypeError('setsockopt', `this option takes a name, got ${describeValue(value)}`);
    const nul = bytes.indexOf(0);
    const name = bytes.slice(0, Math.min(nul < 0 ? bytes.length : nul, TCP_CA_NAME_MAX - 1));
    if (name.length === 0)
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'an empty name' });
    return name;
  }
  if (typeof value === 'string')
    throw new ArgumentTypeError('setsockopt', `this option takes a number, got ${describeValue(value)}`);
  if (spec.kind === 'mreq6') {
    // Linux do_ipv6_setsockopt: optlen < sizeof(struct ipv6_mreq) is EINVAL.
    if (!(value instanceof Uint8Array) || value.length < 20)
      throw new SocketError('EINVAL', {
        syscall: 'setsockopt',
        detail: 'struct ipv6_mreq is 20 bytes: the group address, then the interface index',
      });
    return value.slice(0, 20);
  }
  if (spec.kind === 'mreq4' || spec.kind === 'mreq4src' || spec.kind === 'mcif4') {
    // Linux do_ip_setsockopt: struct ip_mreq is 8 bytes (ip_mreqn 12), ip_mreq_source 12;
    // IP_MULTICAST_IF takes an in_addr (4), an ip_mreq or an ip_mreqn. Shorter is EINVAL.
    const min = spec.kind === 'mreq4' ? 8 : spec.kind === 'mreq4src' ? 12 : 4;
    if (!(value instanceof Uint8Array) || value.length < min)
      throw new SocketError('EINVAL', {
        syscall: 'setsockopt',
        detail:
          spec.kind === 'mreq4'
            ? 'struct ip_mreq is 8 bytes: the group, then the interface address (ip_mreqn: and an index)'
            : spec.kind === 'mreq4src'
              ? 'struct ip_mreq_source is 12 bytes: the group, the interface address, the source'
              : 'IP_MULTICAST_IF takes an address (4 bytes), an ip_mreq or an ip_mreqn',
      });
    return value.slice(0, Math.min(value.length, 12));
  }
  if (level === IPPROTO_IP && optname === IP_MULTICAST_TTL) {
    const n = typeof value === 'boolean' ? Number(value) : value;
    // ip(7) / do_ip_setsockopt: "if (val == -1) val = 1; if (val < 0 || val > 255) goto e_inval".
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > 255)
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'IP_MULTICAST_TTL must be -1..255' });
    return n === -1 ? 1 : n;
  }
  if (level === IPPROTO_IPV6 && optname === IPV6_MULTICAST_LOOP) {
    const n = typeof value === 'boolean' ? Number(value) : value;
    // Linux do_ipv6_setsockopt: "if (val != valbool) goto e_inval" (0 or 1 only).
    if (n !== 0 && n !== 1)
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'IPV6_MULTICAST_LOOP is 0 or 1' });
    return n;
  }
  if (level === IPPROTO_IPV6 && optname === IPV6_MULTICAST_HOPS) {
    const n = typeof value === 'boolean' ? Number(value) : value;
    // ipv6(7): -1 (the default) or 0..255.
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > 255)
      throw new SocketError('EINVAL', {
        syscall: 'setsockopt',
        detail: 'IPV6_MULTICAST_HOPS must be -1..255',
      });
    return n === -1 ? 1 : n;
  }
  if (spec.kind === 'linger') {
    let onoff: number;
    let secs: number;
    if (value instanceof Uint8Array) {
      if (value.length < 8)
        throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'struct linger is 8 bytes' });
      const dv = new DataView(value.buffer, value.byteOffset, 8);
      onoff = dv.getInt32(0, true);
      secs = dv.getInt32(4, true);
    } else if (Array.isArray(value) && value.length === 2) {
      [onoff, secs] = value as readonly [number, number];
    } else {
      throw new SocketError('EINVAL', {
        syscall: 'setsockopt',
        detail: 'SO_LINGER takes [l_onoff, l_linger] or 8 bytes',
      });
    }
    if (!Number.isInteger(onoff) || !Number.isInteger(secs) || secs < 0)
      throw new SocketError('EINVAL', {
        syscall: 'setsockopt',
        detail: 'SO_LINGER values must be integers',
      });
    const out = new Uint8Array(8);
    const dv = new DataView(out.buffer);
    dv.setInt32(0, onoff ? 1 : 0, true);
    dv.setInt32(4, secs, true);
    return out;
  } else {
    const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    if (typeof n !== 'number')
      throw new ArgumentTypeError('setsockopt', `this option takes an integer, got ${describeValue(n)}`);
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff)
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'this option takes an integer' });
    if (spec.kind === 'int' && level === IPPROTO_TCP && n < (ZERO_ALLOWED.has(optname) ? 0 : 1))
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'value out of range' });
    // ip(7): IP_MTU_DISCOVER is IP_PMTUDISC_DONT (0) .. IP_PMTUDISC_OMIT (5); IP_TOS keeps a byte.
    if (level === IPPROTO_IP && optname === IP_MTU_DISCOVER && (n < 0 || n > 5))
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'IP_MTU_DISCOVER out of range' });
    if (level === IPPROTO_IP && optname === IP_TTL && (n === 0 || n < -1 || n > 255))
      throw new SocketError('EINVAL', { syscall: 'setsockopt', detail: 'IP_TTL must be 1..255 (or -1)' });
    return spec.kind === 'bool' ? (n ? 1 : 0) : level === IPPROTO_IP && optname === IP_TOS ? n & 0xff : n;
  }
}

/** getsockopt's answer: the value, or raw bytes when `buflen` is given (SO_LINGER's 8-byte struct, TCP_INFO). */
export function optionResult(spec: OptSpec, v: OptionValue, buflen: number | undefined): number | Uint8Array {
  // Linux do_ipv6_getsockopt: membership changes are set-only.
  if (spec.kind === 'mreq6' || spec.kind === 'mreq4' || spec.kind === 'mreq4src')
    throw new SocketError('ENOPROTOOPT', { syscall: 'getsockopt' });
  if (spec.kind === 'name') {
    // The name NUL-padded to TCP_CA_NAME_MAX bytes (Linux copies min(len, TCP_CA_NAME_MAX)).
    const out = new Uint8Array(Math.min(buflen ?? TCP_CA_NAME_MAX, TCP_CA_NAME_MAX));
    if (v instanceof Uint8Array) out.set(v.subarray(0, out.length));
    return out;
  }
  if (spec.kind === 'mcif4' && v instanceof Uint8Array) {
    // Linux answers IP_MULTICAST_IF with the in_addr (read here as the int Python shows).
    const a = v.length === 4 ? v : v.subarray(4, 8);
    v = new DataView(a.buffer, a.byteOffset, 4).getInt32(0, true);
  }
  // A struct (SO_LINGER, TCP_INFO): Linux copies min(optlen, its size); without buflen Python
  // passes an int's 4 bytes and reads them back as one.
  if (v instanceof Uint8Array) {
    if (buflen !== undefined) return v.slice(0, Math.min(buflen, v.length));
    return new DataView(v.buffer, v.byteOffset, 4).getInt32(0, true);
  }
  if (buflen !== undefined && typeof v === 'number') {
    const out = new Uint8Array(Math.min(buflen, 4));
    const tmp = new Uint8Array(4);
    new DataView(tmp.buffer).setInt32(0, v, true);
    out.set(tmp.subarray(0, out.length));
    return out;
  }
  return v;
}
