/**
 * A TCP_INFO-like snapshot of one connection (modelled on Linux `struct tcp_info`
 * and FreeBSD's). Types only: the connection fills it in on request.
 */
import type { Duration, Instant } from '../time/instant.ts';

export interface TcpInfo {
  /** RFC 9293 state name, e.g. 'ESTABLISHED'. */
  state: string;
  /** Smoothed RTT (SRTT), once a sample exists. */
  rtt?: Duration;
  /** RTT variation (RTTVAR), once a sample exists. */
  rttvar?: Duration;
  /** Current retransmission timeout, including backoff. */
  rto: Duration;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** Send MSS (the most we put in one segment). */
  mss: number;
  /** Largest segment the peer has sent us / our advertised MSS estimate. */
  rcvMss: number;
  /** Retransmissions of the current head-of-line segment (timer backoffs). */
  retransmits: number;
  /** Segments retransmitted over the connection's life. */
  totalRetrans: number;
  /** Segments currently considered lost (RFC 6675 IsLost). */
  lost: number;
  /** Bytes currently SACKed by the peer above snd.una. */
  sacked: number;
  /** Bytes sent and not yet acknowledged (snd.nxt - snd.una). */
  unacked: number;
  /** Peer's advertised window, scaled, bytes. */
  sndWnd: number;
  /** Our advertised window, bytes. */
  rcvWnd: number;
  options: {
    timestamps: boolean;
    sack: boolean;
    /** Negotiated shift counts, when window scaling is on. */
    windowScale?: { snd: number; rcv: number };
  };
  /** RTO backoff count. */
  backoff: number;
  /** Zero-window / keepalive probes sent without answer. */
  probes: number;
  /** Bytes acknowledged by the peer (like Linux tcpi_bytes_acked). */
  bytesAcked: number;
  /** Bytes received in order (like Linux tcpi_bytes_received). */
  bytesReceived: number;
  segsOut: number;
  segsIn: number;
  lastDataSent?: Instant;
  lastDataRecv?: Instant;
  /** Congestion control algorithm name: 'newreno' | 'cubic'. */
  congestion: string;
}
