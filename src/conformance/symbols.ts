/**
 * Symbol tables the runner needs: socket-call constants, errno names, ICMP type
 * and code names, socket-option provenance, and the TCP_INFO constants visible to
 * `%{ }%` blocks. Values that differ between Linux and FreeBSD come per dialect.
 */

import { ERRNO as SOCKET_ERRNO } from '../socket/errno.ts';

export type Dialect = 'linux' | 'freebsd';

/** Numeric constants usable in syscall arguments. */
export function syscallConstants(dialect: Dialect): Record<string, number> {
  const fbsd = dialect === 'freebsd';
  return {
    AF_INET: 2,
    PF_INET: 2,
    AF_INET6: fbsd ? 28 : 10,
    PF_INET6: fbsd ? 28 : 10,
    AF_UNSPEC: 0,
    SOCK_STREAM: 1,
    SOCK_DGRAM: 2,
    SOCK_RAW: 3,
    IPPROTO_IP: 0,
    SOL_IP: 0,
    IPPROTO_ICMP: 1,
    IPPROTO_TCP: 6,
    SOL_TCP: 6,
    IPPROTO_UDP: 17,
    SOL_UDP: 17,
    IPPROTO_IPV6: 41,
    IPPROTO_SCTP: 132,
    IPPROTO_UDPLITE: 136,
    SOL_SOCKET: fbsd ? 0xffff : 1,
    O_RDONLY: 0,
    O_WRONLY: 1,
    O_RDWR: 2,
    O_NONBLOCK: fbsd ? 0x4 : 0x800,
    F_GETFL: 3,
    F_SETFL: 4,
    SHUT_RD: 0,
    SHUT_WR: 1,
    SHUT_RDWR: 2,
    MSG_OOB: 1,
    MSG_PEEK: 2,
    MSG_DONTWAIT: fbsd ? 0x80 : 0x40,
    MSG_WAITALL: fbsd ? 0x40 : 0x100,
    MSG_NOSIGNAL: fbsd ? 0x20000 : 0x4000,
    MSG_EOR: fbsd ? 0x8 : 0x80,
    ...(fbsd ? {} : { MSG_MORE: 0x8000, MSG_FASTOPEN: 0x20000000 }),
    MSG_TRUNC: fbsd ? 0x10 : 0x20,
    MSG_CTRUNC: fbsd ? 0x20 : 0x8,
    SOL_IPV6: 41,
    // recvmsg control messages (Linux cmsg types; FreeBSD names them apart, IP_RECVTOS...).
    ...(fbsd
      ? {}
      : {
          TCP_CM_INQ: 36,
          IP_TOS: 1,
          IP_TTL: 2,
          IP_PKTINFO: 8,
          IPV6_PKTINFO: 50,
          IPV6_HOPLIMIT: 52,
          IPV6_TCLASS: 67,
        }),
    IPTOS_DSCP_CS0: 0x00,
    IPTOS_DSCP_CS1: 0x20,
    IPTOS_DSCP_CS2: 0x40,
    IPTOS_DSCP_CS3: 0x60,
    IPTOS_DSCP_CS4: 0x80,
    IPTOS_DSCP_CS5: 0xa0,
    IPTOS_DSCP_CS6: 0xc0,
    IPTOS_DSCP_CS7: 0xe0,
    IPTOS_DSCP_EF: 0xb8,
    IPTOS_LOWDELAY: 0x10,
    IPTOS_THROUGHPUT: 0x08,
    IPTOS_RELIABILITY: 0x04,
    IPTOS_ECN_ECT0: 0x02,
    IPTOS_ECN_ECT1: 0x01,
    IPTOS_ECN_CE: 0x03,
    IP_PMTUDISC_DONT: 0,
    IP_PMTUDISC_WANT: 1,
    IP_PMTUDISC_DO: 2,
    IP_PMTUDISC_PROBE: 3,
    POLLIN: 1,
    POLLPRI: 2,
    POLLOUT: 4,
    POLLERR: 8,
    POLLHUP: 16,
    POLLNVAL: 32,
    POLLRDHUP: 0x2000,
    POLLRDNORM: 0x40,
    POLLWRNORM: 0x100,
    // epoll(7) (Linux): the event bits are poll's; EPOLLET and EPOLLONESHOT flag the item.
    EPOLLIN: 0x1,
    EPOLLPRI: 0x2,
    EPOLLOUT: 0x4,
    EPOLLERR: 0x8,
    EPOLLHUP: 0x10,
    EPOLLRDNORM: 0x40,
    EPOLLWRNORM: 0x100,
    EPOLLRDHUP: 0x2000,
    EPOLLONESHOT: 0x40000000,
    EPOLLET: 0x80000000,
    EPOLL_CTL_ADD: 1,
    EPOLL_CTL_DEL: 2,
    EPOLL_CTL_MOD: 3,
  };
}

/** Linux errno numbers (the scripts' numeric form, e.g. `[111]`), by name: the sockets API's table. */
export const ERRNO: Record<string, number> = SOCKET_ERRNO;

const ERRNO_ALIASES: Record<string, string> = { EWOULDBLOCK: 'EAGAIN', ENOTSUP: 'EOPNOTSUPP' };

/** Canonical errno name (EWOULDBLOCK → EAGAIN), or the name unchanged. */
export function canonicalErrno(name: string): string {
  return ERRNO_ALIASES[name] ?? name;
}

export function isErrnoName(name: string): boolean {
  return canonicalErrno(name) in ERRNO;
}

/** Where a socket option comes from, for skip reasons ("Linux-only option TCP_DEFER_ACCEPT"). */
export const SOCKOPT_ORIGIN: Record<string, 'POSIX' | 'Linux' | 'FreeBSD' | 'Linux/FreeBSD'> = {
  SO_REUSEADDR: 'POSIX',
  SO_REUSEPORT: 'Linux/FreeBSD',
  SO_KEEPALIVE: 'POSIX',
  SO_LINGER: 'POSIX',
  SO_RCVBUF: 'POSIX',
  SO_SNDBUF: 'POSIX',
  SO_RCVLOWAT: 'POSIX',
  SO_SNDLOWAT: 'POSIX',
  SO_ERROR: 'POSIX',
  SO_TYPE: 'POSIX',
  SO_BROADCAST: 'POSIX',
  SO_OOBINLINE: 'POSIX',
  SO_RCVTIMEO: 'POSIX',
  SO_SNDTIMEO: 'POSIX',
  TCP_NODELAY: 'POSIX',
  TCP_MAXSEG: 'Linux/FreeBSD',
  TCP_KEEPIDLE: 'Linux/FreeBSD',
  TCP_KEEPINTVL: 'Linux/FreeBSD',
  TCP_KEEPCNT: 'Linux/FreeBSD',
  TCP_INFO: 'Linux/FreeBSD',
  TCP_CONGESTION: 'Linux/FreeBSD',
  TCP_FASTOPEN: 'Linux/FreeBSD',
  TCP_CORK: 'Linux',
  TCP_DEFER_ACCEPT: 'Linux',
  TCP_LINGER2: 'Linux',
  TCP_USER_TIMEOUT: 'Linux',
  TCP_QUICKACK: 'Linux',
  TCP_NOTSENT_LOWAT: 'Linux',
  TCP_INQ: 'Linux',
  IP_RECVTOS: 'Linux/FreeBSD',
  IP_RECVTTL: 'Linux/FreeBSD',
  IP_PKTINFO: 'Linux',
  IPV6_RECVTCLASS: 'POSIX',
  IPV6_RECVHOPLIMIT: 'POSIX',
  IPV6_RECVPKTINFO: 'POSIX',
  TCP_ZEROCOPY_RECEIVE: 'Linux',
  TCP_KEEPINIT: 'FreeBSD',
  TCP_NOPUSH: 'FreeBSD',
  TCP_NOOPT: 'FreeBSD',
  TCP_RACK_PACE_MAX_SEG: 'FreeBSD',
  TCP_RACK_PACE_RATE_SS: 'FreeBSD',
  TCP_RACK_PACE_ALWAYS: 'FreeBSD',
  IP_TOS: 'POSIX',
  IP_TTL: 'POSIX',
  IP_MTU_DISCOVER: 'Linux',
  IP_RECVERR: 'Linux',
  SIOCINQ: 'Linux',
  SIOCOUTQ: 'Linux',
  FIONREAD: 'POSIX',
};

/** Phrase for a skip reason: 'Linux-only option TCP_DEFER_ACCEPT'. */
export function optionSkipReason(name: string): string {
  const origin = SOCKOPT_ORIGIN[name];
  if (origin === 'Linux' || origin === 'FreeBSD')
    return `${origin}-only option ${name} not supported by the target`;
  return `option ${name} not supported by the target`;
}

export const ICMP_TYPES: Record<string, number> = {
  echo_reply: 0,
  unreachable: 3,
  destination_unreachable: 3,
  source_quench: 4,
  redirect: 5,
  echo_request: 8,
  router_advertisement: 9,
  router_solicitation: 10,
  time_exceeded: 11,
  parameter_problem: 12,
  timestamp_request: 13,
  timestamp_reply: 14,
  information_request: 15,
  information_reply: 16,
  address_mask_request: 17,
  address_mask_reply: 18,
};

export const ICMP_CODES: Record<number, Record<string, number>> = {
  3: {
    net_unreachable: 0,
    host_unreachable: 1,
    protocol_unreachable: 2,
    port_unreachable: 3,
    frag_needed: 4,
    source_route_failed: 5,
    net_unknown: 6,
    host_unknown: 7,
    source_host_isolated: 8,
    net_prohibited: 9,
    host_prohibited: 10,
    net_unreachable_for_tos: 11,
    host_unreachable_for_tos: 12,
    packet_filtered: 13,
    precedence_violation: 14,
    precedence_cutoff: 15,
  },
  5: { redirect_net: 0, redirect_host: 1, redirect_tos_net: 2, redirect_tos_host: 3 },
  11: {
    ttl_exceeded_in_transit: 0,
    ttl_exceeded: 0,
    fragment_reassembly_time_exceeded: 1,
    frag_reassembly_exceeded: 1,
    frag_reass_exceeded: 1,
  },
  12: { pointer_indicates_error: 0, missing_required_option: 1, bad_length: 2 },
};

/**
 * ICMPv6 (RFC 4443 §2.1, §3, §4) by packetdrill's names, which an `icmp` line uses when the
 * script runs over IPv6 (icmp_packet.c). `not_neighbour` is RFC 2463's name for code 2,
 * "beyond scope of source address" in RFC 4443.
 */
export const ICMPV6_TYPES: Record<string, number> = {
  unreachable: 1,
  destination_unreachable: 1,
  packet_too_big: 2,
  time_exceeded: 3,
  parameter_problem: 4,
  echo_request: 128,
  echo_reply: 129,
};

export const ICMPV6_CODES: Record<number, Record<string, number>> = {
  1: {
    no_route: 0,
    admin_prohibited: 1,
    not_neighbour: 2,
    beyond_scope: 2,
    address_unreachable: 3,
    port_unreachable: 4,
    source_address_failed: 5,
    reject_route: 6,
  },
  3: { exceeded_hop_limit: 0, exceeded_frag_time: 1 },
  4: { header_field: 0, unknown_next_header: 1, unknown_option: 2 },
};

/** ICMP type number for a name or `type_N` in the script's IP version; undefined if unknown. */
export function icmpType(name: string, ipVersion: 4 | 6 = 4): number | undefined {
  const m = /^type_(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  return (ipVersion === 6 ? ICMPV6_TYPES : ICMP_TYPES)[name];
}

/** ICMP code number for a name or `code_N` given the type; a missing code is 0; undefined if unknown. */
export function icmpCode(type: number, name: string | undefined, ipVersion: 4 | 6 = 4): number | undefined {
  if (name === undefined) return 0;
  const m = /^code_(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  return (ipVersion === 6 ? ICMPV6_CODES : ICMP_CODES)[type]?.[name];
}

// ---- TCP_INFO ---------------------------------------------------------------

/** Linux include/net/tcp_states.h (the sockets layer's table, which TCP_INFO encodes with). */
export { LINUX_TCP_STATES } from '../socket/tcp-info.ts';

/** FreeBSD netinet/tcp_fsm.h (TCPS_*), reported by its TCP_INFO as tcpi_state. */
export const FREEBSD_TCP_STATES: Record<string, number> = {
  CLOSED: 0,
  LISTEN: 1,
  'SYN-SENT': 2,
  'SYN-RECEIVED': 3,
  ESTABLISHED: 4,
  'CLOSE-WAIT': 5,
  'FIN-WAIT-1': 6,
  CLOSING: 7,
  'LAST-ACK': 8,
  'FIN-WAIT-2': 9,
  'TIME-WAIT': 10,
};

/** Constants every `%{ }%` block sees (both dialects' names; they do not collide). */
export const CODE_CONSTANTS: Record<string, number> = {
  TCP_ESTABLISHED: 1,
  TCP_SYN_SENT: 2,
  TCP_SYN_RECV: 3,
  TCP_FIN_WAIT1: 4,
  TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6,
  TCP_CLOSE: 7,
  TCP_CLOSE_WAIT: 8,
  TCP_LAST_ACK: 9,
  TCP_LISTEN: 10,
  TCP_CLOSING: 11,
  TCP_NEW_SYN_RECV: 12,
  TCP_CA_Open: 0,
  TCP_CA_Disorder: 1,
  TCP_CA_CWR: 2,
  TCP_CA_Recovery: 3,
  TCP_CA_Loss: 4,
  TCPI_OPT_TIMESTAMPS: 1,
  TCPI_OPT_SACK: 2,
  TCPI_OPT_WSCALE: 4,
  TCPI_OPT_ECN: 8,
  TCPI_OPT_ECN_SEEN: 16,
  TCPI_OPT_SYN_DATA: 32,
  TCPI_OPT_USEC_TS: 64,
  TCPI_OPT_TFO_CHILD: 128,
  TCPI_CLOSED: 0,
  TCPI_LISTEN: 1,
  TCPI_SYN_SENT: 2,
  TCPI_SYN_RECEIVED: 3,
  TCPI_ESTABLISHED: 4,
  TCPI_CLOSE_WAIT: 5,
  TCPI_FIN_WAIT_1: 6,
  TCPI_CLOSING: 7,
  TCPI_LAST_ACK: 8,
  TCPI_FIN_WAIT_2: 9,
  TCPI_TIME_WAIT: 10,
};

/** FreeBSD sockstat state names → RFC names. */
export const SOCKSTAT_STATES: Record<string, string> = {
  CLOSED: 'CLOSED',
  LISTEN: 'LISTEN',
  SYN_SENT: 'SYN-SENT',
  SYN_RCVD: 'SYN-RECEIVED',
  ESTABLISHED: 'ESTABLISHED',
  CLOSE_WAIT: 'CLOSE-WAIT',
  FIN_WAIT_1: 'FIN-WAIT-1',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST-ACK',
  FIN_WAIT_2: 'FIN-WAIT-2',
  TIME_WAIT: 'TIME-WAIT',
};
