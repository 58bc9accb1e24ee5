/**
 * ICMP errors for a connection (RFC 5927, RFC 1122 §4.2.3.9, RFC 5461): path MTU updates
 * (RFC 1191), and unreachables that end a handshake or become the connection's soft error.
 */
import type { TcpCloseReason } from './errors.ts';
import { reasonCode } from './errors.ts';
import { terminate } from './lifecycle.ts';
import { sendDataAt, tcpOutput } from './output.ts';
import { type Seq, seqAdd, seqLe, seqLt } from './seq.ts';
import { isHandshaking } from './state.ts';
import type { Tcb } from './tcb.ts';

export type TcpIcmpKind =
  | 'unreachable'
  | 'port-unreachable'
  | 'proto-unreachable'
  | 'host-unreachable'
  | 'net-unreachable'
  | 'frag-needed'
  | 'time-exceeded';

/** FreeBSD's net.inet.tcp.mssdflt: t_maxseg before the peer's MSS is known. */
const FREEBSD_MSSDFLT = 536;

/** An ICMP error quoting a segment of `c` whose sequence number is `s`. */
export function connectionIcmpError(c: Tcb, kind: TcpIcmpKind, s: Seq, nextHopMtu: number | undefined): void {
  const stats = c.layer.stats;
  // RFC 5927 §4.1: only believe errors quoting a sequence number we have in flight.
  if (!(seqLe(c.snd.una, s) && seqLt(s, seqAdd(c.sndMax, c.sndMax === c.snd.una ? 1 : 0)))) {
    stats.icmpOutOfWindow++;
    return;
  }
  if (kind === 'frag-needed') {
    // RFC 1191 §6.5: lower the MSS to fit the next-hop MTU and retransmit at once.
    if (nextHopMtu === undefined) return;
    // FreeBSD tcp_ctlinput takes an IPv4 fragmentation-needed only when "mtu < tp->t_maxseg +
    // sizeof(struct tcpiphdr)", and t_maxseg is tcp_mssdflt (536) until the SYN-ACK: during
    // the handshake a larger MTU is ignored (config.mssOptionPerSyn, profile synMssOption).
    if (
      c.layer.config.mssOptionPerSyn &&
      c.remote.address.family === 4 &&
      isHandshaking(c.state) &&
      nextHopMtu >= FREEBSD_MSSDFLT + 40
    ) {
      stats.icmpIgnored++;
      return;
    }
    // RFC 5927 §4.1: validated, so the network layer may now record the path MTU (it clamps
    // it, Linux min_pmtu); TCP follows what the route then says (Linux tcp_v4_mtu_reduced).
    const mtu = c.layer.env.learnPathMtu?.(c.remote.address, nextHopMtu) ?? nextHopMtu;
    const hdr = c.remote.address.family === 4 ? 40 : 60;
    const mss = Math.max(c.layer.config.minMss, mtu - hdr);
    if (mss < c.mss) {
      c.mss = mss;
      stats.pmtuUpdates++;
      if (c.sndMax !== c.snd.una && !isHandshaking(c.state)) {
        c.snd.nxt = c.snd.una;
        const used = sendDataAt(c, c.snd.una, c.mss, true);
        c.snd.nxt = seqAdd(c.snd.una, used);
        tcpOutput(c);
      }
    }
    c.flush();
    return;
  }
  // Protocol unreachable refuses like port unreachable: FreeBSD (icmp_may_rst, PRC_UNREACH_PROTOCOL
  // -> ECONNREFUSED) and Linux (icmp_err_convert: ENOPROTOOPT, reported as ECONNREFUSED
  // by tcp_v4_err's "connection refused" class) agree.
  const reason: TcpCloseReason =
    kind === 'port-unreachable' || kind === 'proto-unreachable'
      ? 'refused'
      : kind === 'net-unreachable'
        ? 'net-unreachable'
        : kind === 'host-unreachable' || kind === 'time-exceeded'
          ? 'host-unreachable'
          : 'unreachable';
  const handshake = isHandshaking(c.state);
  const hard = kind === 'port-unreachable' || kind === 'proto-unreachable';
  if (handshake && (!c.layer.config.icmpMayReset || (c.layer.config.icmpSoftUnreachable && !hard))) {
    // FreeBSD: with icmp_may_rst=0, or for an error other than port/protocol unreachable,
    // the handshake error is only noted (t_softerror) and the SYN retransmissions go on.
    // RFC 1122 §4.2.3.9: net/host unreachable (codes 0, 1, 5) "indicate soft error
    // conditions, TCP MUST NOT abort the connection". Deviation: FreeBSD also aborts on TTL
    // exceeded in transit (not on reassembly timeout); the code does not reach this layer,
    // so time exceeded is soft here.
    stats.icmpSoftErrors++;
  } else if (handshake) {
    // Like Linux (tcp_v4_err): an ICMP error while the handshake is in progress ends it
    // (ECONNREFUSED for port unreachable, EHOSTUNREACH/ENETUNREACH otherwise).
    stats.icmpAborts++;
    terminate(c, reason);
  } else {
    // RFC 5461 §4 (and RFC 1122 §4.2.3.9 for soft errors): once synchronized, keep the
    // connection and report the error through SO_ERROR.
    stats.icmpSoftErrors++;
    c.error = reasonCode(reason);
  }
  c.flush();
}
