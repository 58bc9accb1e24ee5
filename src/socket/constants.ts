/**
 * Socket constants with their Linux values, so numbers printed by a program match
 * what Python's `socket` module and `strace` show on Linux.
 */

// Address families.
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

// Socket types.
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;

// Protocols.
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;

// Option levels and socket-level options (<asm-generic/socket.h>).
export const SOL_SOCKET = 1;
export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SO_ACCEPTCONN = 30;
/**
 * Linux socket(7): the most bytes per second the socket sends (TCP paces its segments);
 * -1 (~0U) is unlimited, the default. The stack backend paces; the os backend records it.
 */
export const SO_MAX_PACING_RATE = 47;

// TCP-level options (<netinet/tcp.h>).
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_INFO = 11;
/**
 * Linux: TCP Fast Open (RFC 7413). TCP_FASTOPEN on a listener is the bound on pending Fast
 * Open connections (0: off); TCP_FASTOPEN_CONNECT makes connect() return at once and send
 * the SYN with the first write; TCP_FASTOPEN_NO_COOKIE sends or takes data in a SYN without
 * a cookie. MSG_FASTOPEN on sendto() connects with the data in the SYN.
 */
export const TCP_FASTOPEN = 23;
/** Linux: the socket is writable only while fewer than this many bytes are unsent (-1 / ~0U: no limit). */
export const TCP_NOTSENT_LOWAT = 25;
export const TCP_FASTOPEN_CONNECT = 30;
export const TCP_FASTOPEN_NO_COOKIE = 34;
/**
 * Linux: the congestion-control algorithm by name ("reno", "cubic", "bbr"; at most 16 bytes,
 * TCP_CA_NAME_MAX); an unknown name is ENOENT. getsockopt gives the name, NUL-padded.
 */
export const TCP_CONGESTION = 13;
/** TCP_CA_NAME_MAX: the longest congestion-control name, with its NUL. */
export const TCP_CA_NAME_MAX = 16;
/** Linux: milliseconds transmitted data may stay unacknowledged before ETIMEDOUT (RFC 5482 semantics). */
export const TCP_USER_TIMEOUT = 18;
/** FreeBSD: seconds an active open may take before ETIMEDOUT (connection-establishment timer). */
export const TCP_KEEPINIT = 128;
/**
 * FreeBSD: the peer's UDP port for TCP over UDP (the stack's TcpConfig.udpTunnelingPort must
 * be set); only before connect(). The stack backend only: Linux has no such tunnelling.
 */
export const TCP_REMOTE_UDP_ENCAPS_PORT = 71;
/**
 * Linux: recvmsg() on the stream adds a TCP_CM_INQ control message (an int): the bytes left
 * to read after the call, plus one once the peer's FIN is in (tcp_inq_hint).
 */
export const TCP_INQ = 36;
export const TCP_CM_INQ = TCP_INQ;

// IPv4-level options (Linux <linux/in.h> numbers).
/** The TOS byte (DSCP << 2 | ECN) of the socket's IPv4 datagrams; TCP keeps the ECN bits. */
export const IP_TOS = 1;
/** The TTL of the socket's unicast IPv4 datagrams: 1..255, or -1 for the default (64). */
export const IP_TTL = 2;
/**
 * Receive options (ip(7)): recvmsg() on a datagram socket adds, in this order, IP_PKTINFO
 * (struct in_pktinfo: ifindex, local address, header destination), IP_TTL (an int) and
 * IP_TOS (one byte) control messages for each IPv4 datagram.
 */
export const IP_PKTINFO = 8;
export const IP_RECVTTL = 12;
export const IP_RECVTOS = 13;
/** Path MTU discovery mode: IP_PMTUDISC_DONT 0, WANT 1, DO 2, PROBE 3, INTERFACE 4, OMIT 5. */
export const IP_MTU_DISCOVER = 10;
export const IP_PMTUDISC_DONT = 0;
export const IP_PMTUDISC_WANT = 1;
export const IP_PMTUDISC_DO = 2;
export const IP_PMTUDISC_PROBE = 3;
/**
 * Multicast (ip(7)): the outgoing interface (struct in_addr, ip_mreq or ip_mreqn), the TTL
 * of group datagrams (default 1), whether they loop back to local members (default 1).
 */
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
/** struct ip_mreq (group, interface address) or ip_mreqn (group, address, interface index). */
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;
/** struct ip_mreq_source (group, interface address, source): source-specific membership (RFC 3678). */
export const IP_ADD_SOURCE_MEMBERSHIP = 39;
export const IP_DROP_SOURCE_MEMBERSHIP = 40;

// IPv6-level options (Linux in6.h).
export const IPV6_V6ONLY = 26;
/** Multicast (RFC 3493 §5.2): the outgoing interface index, hop limit, loopback. */
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
/** struct ipv6_mreq: the group's 16 bytes, then the interface index (0: by route). */
export const IPV6_JOIN_GROUP = 20;
export const IPV6_LEAVE_GROUP = 21;
/**
 * Receive options (RFC 3542 §6): recvmsg() adds IPV6_PKTINFO (struct in6_pktinfo: address,
 * ifindex), IPV6_HOPLIMIT and IPV6_TCLASS (ints) control messages, in this order.
 */
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_RECVTCLASS = 66;
export const IPV6_TCLASS = 67;

// shutdown(how).
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

// recv/send flags. MSG_PEEK, MSG_DONTWAIT and MSG_TRUNC (recv side) are honoured, and on the
// stack backend's TCP sockets MSG_FASTOPEN (sendto), MSG_MORE and MSG_EOR (send).
export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTROUTE = 0x4;
export const MSG_TRUNC = 0x20;
/** recvmsg's msg_flags: control data was cut to the ancillary buffer. */
export const MSG_CTRUNC = 0x8;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
/** Terminates a record: the data is not merged with later writes (Linux tcp_sendmsg's TCPCB_EOR). */
export const MSG_EOR = 0x80;
/** More data follows: hold a partial segment as TCP_CORK does (Linux tcp_sendmsg). */
export const MSG_MORE = 0x8000;
/** Connect with the data in the SYN (RFC 7413 TCP Fast Open; sendto on an unconnected stream). */
export const MSG_FASTOPEN = 0x20000000;

/** Linux's SOMAXCONN (since 5.4). */
export const SOMAXCONN = 4096;

export const INADDR_ANY = '0.0.0.0';
export const INADDR_LOOPBACK = '127.0.0.1';
export const INADDR_BROADCAST = '255.255.255.255';

export type AddressFamily = typeof AF_UNIX | typeof AF_INET | typeof AF_INET6;
export type SocketKind = typeof SOCK_STREAM | typeof SOCK_DGRAM;

export function familyName(f: number): string {
  return f === AF_INET ? 'AF_INET' : f === AF_INET6 ? 'AF_INET6' : f === AF_UNIX ? 'AF_UNIX' : `AF_${f}`;
}

export function typeName(t: number): string {
  return t === SOCK_STREAM ? 'SOCK_STREAM' : t === SOCK_DGRAM ? 'SOCK_DGRAM' : `SOCK_${t}`;
}
