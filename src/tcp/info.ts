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
  /** Send MSS (the peer's MSS as the path allows, options included). */
  mss: number;
  /**
   * The most payload one segment carries: `mss` less the timestamp option (Linux mss_cache,
   * tcpi_snd_mss). Linux counts tcpi_snd_cwnd, tcpi_unacked and the like in such packets.
   */
  sndMss: number;
  /** Largest segment the peer has sent us / our advertised MSS estimate. */
  rcvMss: number;
  /** Retransmissions of the current head-of-line segment (timer backoffs). */
  retransmits: number;
  /** Segments retransmitted over the connection's life. */
  totalRetrans: number;
  /**
   * Segments marked lost by RACK (RFC 8985) and not yet retransmitted (Linux lost_out keeps
   * them until acknowledged; 0 without RACK, whose RFC 6675 scoreboard marks nothing).
   */
  lost: number;
  /**
   * The congestion-control state, as Linux's tcpi_ca_state names it: 'open'; 'disorder'
   * (SACKed, lost or duplicate-ACKed data outstanding); 'cwr' (an ECN-Echo reduced the
   * window, RFC 3168); 'recovery' (fast recovery); 'loss' (after an RTO, until the data
   * outstanding then is acknowledged).
   */
  caState: 'open' | 'disorder' | 'cwr' | 'recovery' | 'loss';
  /** Reordering degree in segments (Linux tcpi_reordering: 3, raised when RACK sees reordering). */
  reordering: number;
  /** Bytes the peer newly acknowledged or SACKed, and those on ACKs with ECN-Echo (Linux tcpi_delivered / _ce, in bytes). */
  bytesDelivered: number;
  bytesDeliveredCe: number;
  /**
   * The delivery rate of the last sample kept (rate.ts, Linux tcp_rate.c: the last one not
   * application-limited, or a higher application-limited one), bytes/s; 0 before a sample.
   */
  deliveryRate: number;
  /** That sample was application-limited (tcpi_delivery_rate_app_limited). */
  deliveryRateAppLimited: boolean;
  /** The rate new data is paced at, bytes/s (the controller's, capped by SO_MAX_PACING_RATE); 0: not paced. */
  pacingRate: number;
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
    /** RFC 3168 ECN negotiated; and an ECT or CE segment has arrived (Linux TCPI_OPT_ECN_SEEN). */
    ecn: boolean;
    ecnSeen: boolean;
    /** RFC 7413: our SYN's data was acknowledged (TCPI_OPT_SYN_DATA); made from a Fast Open SYN (TCPI_OPT_TFO_CHILD). */
    synData: boolean;
    tfoChild: boolean;
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
  /** When data last went out, and when in-order data last arrived (undefined: never). */
  lastDataSent?: Instant;
  lastDataRecv?: Instant;
  /** Congestion control algorithm name: 'newreno' | 'cubic' | 'bbr'. */
  congestion: string;
}
