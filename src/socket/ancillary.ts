/**
 * recvmsg() control messages (cmsg(3)): the ones a socket's receive options ask for, built
 * from what the stack knows of a datagram or a stream, and cut to the caller's buffer as
 * Linux's put_cmsg cuts them.
 */
import type { IpAddress } from '../wire/address.ts';
import {
  IP_PKTINFO,
  IP_RECVTOS,
  IP_RECVTTL,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_HOPLIMIT,
  IPV6_PKTINFO,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_RECVTCLASS,
  IPV6_TCLASS,
  MSG_CTRUNC,
  TCP_CM_INQ,
  TCP_INQ,
} from './constants.ts';
import { SocketError } from './errno.ts';

/** One control message, `[cmsg_level, cmsg_type, cmsg_data]`, as Python's recvmsg gives it. */
export type Ancillary = [level: number, type: number, data: Uint8Array];

/** What a received datagram's IP header and arrival said (the stack backend fills it). */
export interface DatagramMeta {
  /** TTL / hop limit as received. */
  readonly ttl: number;
  /** The TOS byte / Traffic Class as received (DSCP and ECN). */
  readonly tos: number;
  /** Linux's index of the interface it arrived on. */
  readonly ifindex: number;
  /** The header's destination address. */
  readonly dstAddr: IpAddress;
  /** in_pktinfo's ipi_spec_dst when not `dstAddr` (a broadcast's: the interface's address). */
  readonly specDst?: number;
}

/** Options that only choose recvmsg()'s control messages (the front keeps their values). */
export function isReceiveOption(level: number, name: number): boolean {
  if (level === IPPROTO_TCP) return name === TCP_INQ;
  if (level === IPPROTO_IP) return name === IP_PKTINFO || name === IP_RECVTTL || name === IP_RECVTOS;
  return (
    level === IPPROTO_IPV6 &&
    (name === IPV6_RECVPKTINFO || name === IPV6_RECVHOPLIMIT || name === IPV6_RECVTCLASS)
  );
}

/** sizeof(struct cmsghdr) on 64-bit Linux; CMSG_SPACE aligns data to 8 bytes. */
const CMSG_HDR = 16;

/** An int as the host writes it (x86 and ARM: little-endian, as stack-dgram reads struct ints). */
function int(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
}

/** An IPv4 address in network order at `at`. */
function putV4(b: Uint8Array, at: number, a: number): void {
  new DataView(b.buffer).setUint32(at, a >>> 0);
}

/**
 * The control messages for a datagram, in Linux's order: udpv6_recvmsg's IPV6_PKTINFO (an
 * IPv4 datagram's address v4-mapped), then for IPv4 ip_cmsg_recv_offset's IP_PKTINFO, IP_TTL,
 * IP_TOS, for IPv6 ip6_datagram_recv_specific_ctl's IPV6_HOPLIMIT, IPV6_TCLASS.
 */
export function datagramAncillary(
  on: (level: number, name: number) => boolean,
  m: DatagramMeta,
  v6Socket: boolean,
): Ancillary[] {
  const out: Ancillary[] = [];
  const d = m.dstAddr;
  if (v6Socket && on(IPPROTO_IPV6, IPV6_RECVPKTINFO)) {
    // RFC 3542 §6.1 struct in6_pktinfo: the address, then the interface index.
    const b = new Uint8Array(20);
    if (d.family === 6) b.set(d.v6);
    else {
      b[10] = b[11] = 0xff;
      putV4(b, 12, d.v4);
    }
    b.set(int(m.ifindex), 16);
    out.push([IPPROTO_IPV6, IPV6_PKTINFO, b]);
  }
  if (d.family === 4) {
    if (on(IPPROTO_IP, IP_PKTINFO)) {
      // ip(7) struct in_pktinfo: ipi_ifindex, ipi_spec_dst (the local address), ipi_addr.
      const b = new Uint8Array(12);
      b.set(int(m.ifindex));
      putV4(b, 4, m.specDst ?? d.v4);
      putV4(b, 8, d.v4);
      out.push([IPPROTO_IP, IP_PKTINFO, b]);
    }
    if (on(IPPROTO_IP, IP_RECVTTL)) out.push([IPPROTO_IP, IP_TTL, int(m.ttl)]);
    // ip_cmsg_recv_tos: the TOS byte itself, one byte.
    if (on(IPPROTO_IP, IP_RECVTOS)) out.push([IPPROTO_IP, IP_TOS, Uint8Array.of(m.tos)]);
  } else {
    if (on(IPPROTO_IPV6, IPV6_RECVHOPLIMIT)) out.push([IPPROTO_IPV6, IPV6_HOPLIMIT, int(m.ttl)]);
    if (on(IPPROTO_IPV6, IPV6_RECVTCLASS)) out.push([IPPROTO_IPV6, IPV6_TCLASS, int(m.tos)]);
  }
  return out;
}

/** TCP_INQ's message (Linux tcp_recvmsg): the bytes left to read, as tcp_inq_hint counts them. */
export function inqAncillary(inq: number): Ancillary {
  return [IPPROTO_TCP, TCP_CM_INQ, int(inq)];
}

/**
 * The messages that fit a `size`-byte control buffer, and MSG_CTRUNC if any did not: Linux's
 * put_cmsg keeps what fits of a message's data and drops those with no room for a header.
 */
export function fitAncillary(list: readonly Ancillary[], size: number): [Ancillary[], number] {
  const out: Ancillary[] = [];
  let room = size;
  for (const [level, type, data] of list) {
    if (room < CMSG_HDR) return [out, MSG_CTRUNC];
    if (room < CMSG_HDR + data.length) {
      out.push([level, type, data.subarray(0, room - CMSG_HDR)]);
      return [out, MSG_CTRUNC];
    }
    out.push([level, type, data]);
    room -= Math.min(room, CMSG_HDR + ((data.length + 7) & ~7));
  }
  return [out, 0];
}

/** What sendmsg()'s control messages set for one datagram: its TTL / hop limit and TOS / Traffic Class. */
export interface SendControl {
  ttl?: number;
  tos?: number;
}

/**
 * sendmsg()'s control messages for a datagram, checked as Linux's ip_cmsg_send (IP_TTL 1..255,
 * IP_TOS 0..255 as an int or a byte) and ip6_datagram_send_ctl (IPV6_HOPLIMIT, IPV6_TCLASS
 * -1..255, -1 the default) check them; other levels are not the IP layer's and are skipped.
 */
export function sendControl(list: readonly Ancillary[]): SendControl {
  const out: SendControl = {};
  for (const [level, type, d] of list) {
    if (level !== IPPROTO_IP && level !== IPPROTO_IPV6) continue;
    const v4 = level === IPPROTO_IP;
    const n =
      d.length === 4
        ? new DataView(d.buffer, d.byteOffset, 4).getInt32(0, true)
        : v4 && type === IP_TOS && d.length === 1
          ? d[0]!
          : Number.NaN;
    const key =
      type === (v4 ? IP_TTL : IPV6_HOPLIMIT) ? 'ttl' : type === (v4 ? IP_TOS : IPV6_TCLASS) ? 'tos' : '';
    // Deviation: IP_PKTINFO / IPV6_PKTINFO (the source address and interface) are EINVAL here.
    if (!key || !(n >= (v4 ? +(key === 'ttl') : -1) && n <= 255))
      throw new SocketError('EINVAL', { detail: `control message level ${level} type ${type}` });
    if (n >= 0) out[key] = n;
  }
  return out;
}
