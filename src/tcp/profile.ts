/**
 * Dialect profiles: one value per system whose TCP the stack can behave as. Each field names
 * a behaviour by its mechanism, with the Linux and FreeBSD setting or source it mirrors.
 * config.ts resolves a profile into the layer-wide TcpConfig flags that TCP code reads
 * (`tcpConfigFor(FREEBSD, overrides)`, or `config: { tcp: { profile: 'freebsd' } }` on a
 * Stack); Linux is the default.
 */

import type { Duration } from '../time/instant.ts';
import { millis, seconds } from '../time/instant.ts';
import type { SlowStartExit } from './congestion/hystart.ts';
import type { CongestionName, RenoSsthresh } from './congestion/types.ts';

export type TcpProfileName = 'linux' | 'freebsd';

export interface TcpProfile {
  readonly name: TcpProfileName;

  // ---- retransmission timers

  /**
   * Floor of the RTO computed from RTT samples. Linux: TCP_RTO_MIN (200 ms). FreeBSD:
   * net.inet.tcp.rexmit_min (TCPTV_MIN, hz/33: 30 ms; tcp_timer.h).
   */
  readonly rtoMin: Duration;
  /**
   * Added to every RTO by FreeBSD's TCPT_RANGESET (net.inet.tcp.rexmit_slop, TCPTV_CPU_VAR
   * hz/5: 200 ms); the stack folds it into the RTO floor (exact while the RTT is small).
   * Linux: none.
   */
  readonly rtoSlop: Duration;
  /**
   * How the RTO follows the RTT samples. 'rfc6298': SRTT + 4·RTTVAR, floored at rtoMin
   * (FreeBSD tcp_xmit_timer with its TCPT_RANGESET). 'linux-rtt-estimator': SRTT + rttvar,
   * rttvar being the round trip's largest mean deviation ×4 but at least rtoMin (Linux
   * tcp_rtt_estimator, __tcp_set_rto): at least SRTT + 200 ms.
   */
  readonly rtoEstimator: 'rfc6298' | 'linux-rtt-estimator';
  /**
   * SYN retransmission schedule in SYN-SENT. 'rfc6298-doubling': RFC 6298 §5.5 doubles the
   * RTO each time (Linux tcp_retransmit_timer). 'freebsd-tcp-backoff-table': tcp_timer_rexmt's
   * SYN-SENT rule, initial RTO * tcp_backoff[shift] + rexmit_slop, capped at TCPTV_REXMTMAX (64 s).
   */
  readonly synRetransmitBackoff: 'rfc6298-doubling' | 'freebsd-tcp-backoff-table';
  /**
   * SYN retransmissions before connect() times out. Linux: net.ipv4.tcp_syn_retries (6).
   * FreeBSD: TCP_MAXRXTSHIFT (12, tcp_timer.h).
   */
  readonly synRetries: number;
  /**
   * Connection-establishment timer: an active open not established this long after its
   * first SYN fails, whatever synRetries allows. FreeBSD: net.inet.tcp.keepinit
   * (TCPTV_KEEP_INIT, 75 s). Linux: none (0; the SYN retries alone decide).
   */
  readonly keepInit: Duration;

  // ---- acknowledgements

  /**
   * The delayed-ACK timer (RFC 9293 §3.8.6.3: "MUST be less than 0.5 seconds"). Linux:
   * TCP_DELACK_MIN (40 ms). FreeBSD: net.inet.tcp.delacktime (TCPTV_DELACK, hz/10: 100 ms).
   */
  readonly delayedAckTimeout: Duration;
  /**
   * 'linux-quickack': the first data segments, and those after an idle gap longer than the
   * RTO, are ACKed at once (Linux tcp_incr_quickack / tcp_in_quickack_mode). 'none': every
   * data segment may be delayed (FreeBSD).
   */
  readonly quickAck: 'linux-quickack' | 'none';
  /**
   * When the peer's FIN is acknowledged. 'ack-now': at once (RFC 9293 §3.10.7.4's eighth
   * step; FreeBSD tcp_input's TF_ACKNOW). 'linux-pingpong': tcp_fin puts an ESTABLISHED
   * connection in pingpong mode, so the FIN's ACK waits for the delayed-ACK timer once data
   * has been received (icsk_ack.ato, TCP_ATO_MIN from the first data on) and leaves at once
   * before (ato 0).
   */
  readonly finAck: 'ack-now' | 'linux-pingpong';
  /**
   * Which segments count towards the immediate ACK for every second segment.
   * 'second-full-sized-segment': full-sized ones only (RFC 9293 §3.8.6.3; Linux
   * __tcp_ack_snd_check). 'second-segment': any data segment arriving while an ACK is
   * delayed is ACKed at once (FreeBSD tcp_input's DELAY_ACK).
   */
  readonly ackEvery: 'second-full-sized-segment' | 'second-segment';
  /** RFC 2883 D-SACK blocks (Linux net.ipv4.tcp_dsack = 1; FreeBSD since 13). */
  readonly dsack: 'rfc2883' | 'none';

  // ---- sending

  /**
   * Where PSH goes (RFC 1122 §4.2.2.2 leaves the placement open beyond the last buffered
   * segment; RFC 9293 §3.9.1.2 "PUSH flag" on SEND). 'linux-tcp-push': on the segment that
   * ends a write (Linux tcp_sendmsg_locked -> tcp_push -> tcp_mark_push, not under MSG_MORE),
   * on a full skb when more than half the peer's largest window went unpushed (forced_push),
   * the mark kept on that byte through splits and retransmissions (tcp_fragment moves PSH to
   * the second part), and on the last segment of a burst the windows cut short (push.ts).
   * 'buffer-empty': only on the segment that empties the send buffer (FreeBSD tcp_output:
   * "off + len == sbused").
   */
  readonly pushPlacement: 'linux-tcp-push' | 'buffer-empty';
  /**
   * An ACK sent while our FIN is sent but not acknowledged (FIN-WAIT-1, CLOSING, LAST-ACK).
   * 'rfc9293-bare-ack': <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 9293 §3.10.7.4; Linux).
   * 'freebsd-outflags-fin': the FIN goes again with it, <SEQ=FIN><CTL=FIN,ACK>: FreeBSD's
   * tcp_output takes its flags from tcp_outflags[state], which holds TH_FIN in those three
   * states, keeps FIN on a segment that reaches the end of the send buffer, and pulls
   * snd_nxt back onto an already sent FIN ("TF_SENTFIN && snd_nxt == snd_max: snd_nxt--").
   * Replies built by tcp_respond (challenge ACKs, keepalives) carry no FIN.
   */
  readonly ackWhileFinOutstanding: 'rfc9293-bare-ack' | 'freebsd-outflags-fin';
  /**
   * 'rfc8985-tlp': a tail loss probe after about two round trips of silence (Linux
   * net.ipv4.tcp_early_retrans >= 3, the default). 'none': FreeBSD's default stack has none
   * (its RACK stack does).
   */
  readonly tailLossProbe: 'rfc8985-tlp' | 'none';
  /**
   * How a SACK sender finds lost segments. 'rfc8985-rack': by time, RACK (Linux
   * net.ipv4.tcp_recovery = 1, the default since 4.18). 'rfc6675-dupthresh': by counting,
   * DupThresh SACKed segments above a hole (FreeBSD's default stack; its RACK stack is not
   * the default).
   */
  readonly lossDetection: 'rfc8985-rack' | 'rfc6675-dupthresh';
  /**
   * The congestion window during fast recovery. 'rfc6937-prr-ssrb': Proportional Rate
   * Reduction with the slow-start reduction bound (Linux tcp_cwnd_reduction, since 3.2).
   * 'rfc6675-cwnd': cwnd = ssthresh at once, sending while pipe < cwnd (the stack's
   * behaviour under the FreeBSD profile so far).
   */
  readonly recoveryWindow: 'rfc6937-prr-ssrb' | 'rfc6675-cwnd';
  /**
   * How CUBIC leaves the first slow start before a loss (congestion/hystart.ts).
   * 'linux-hystart': tcp_cubic's HyStart, ACK train and delay (hystart = 1, hystart_detect =
   * 3, the defaults). 'none': FreeBSD's default stack (cc_cubic's RFC 9406 HyStart++ runs only
   * when a stack allows it, CCF_HYSTART_ALLOWED, which the default stack does not set).
   * 'rfc9406-hystart++' is there to choose by config.
   */
  readonly slowStartExit: SlowStartExit;
  /**
   * CUBIC's first multiplicative decrease. 'rfc9438-beta': β_cubic = 0.7 every time (RFC 9438
   * §4.6, Linux tcp_cubic). 'freebsd-half': the first congestion event sets ssthresh to half
   * and W_max to β·cwnd, later ones use β (FreeBSD cc_cubic's cubic_ssthresh_update).
   */
  readonly cubicFirstDecrease: 'rfc9438-beta' | 'freebsd-half';
  /**
   * NewReno's ssthresh after a loss. 'linux-cwnd-half': half of cwnd in whole segments, at
   * least 2, on fast retransmit and timeout alike (Linux tcp_reno_ssthresh). 'freebsd-cwnd-half':
   * the same on fast retransmit, half of min(SND.WND, cwnd) after a timeout (FreeBSD
   * cc_newreno's newreno_cong_signal, CC_NDUPACK and CC_RTO). 'rfc5681-flight-size':
   * max(FlightSize / 2, 2·SMSS) (RFC 5681 equation 4), there to choose by config.
   */
  readonly renoSsthresh: RenoSsthresh;
  /**
   * Slow start's growth per ACK. 'rfc3465-abc-l2': at most 2 SMSS (RFC 3465 L = 2; FreeBSD
   * net.inet.tcp.abc_l_var = 2). 'linux-all-acked': everything the ACK acknowledged (Linux
   * tcp_slow_start since ABC's removal in 3.9: cwnd = min(cwnd + acked, ssthresh)).
   */
  readonly slowStartGrowth: 'rfc3465-abc-l2' | 'linux-all-acked';
  /**
   * What a cumulative ACK credits to the window's growth (slow start and congestion
   * avoidance). 'bytes-acked': the bytes SND.UNA advanced (RFC 3465 bytes_acked; FreeBSD
   * cc_ack_received's bytes_this_ack). 'linux-newly-delivered': what this ACK newly
   * delivered (tcp_ack's acked_sacked, the tp->delivered delta handed to tcp_cong_avoid):
   * bytes it covers that SACK blocks already reported are not counted again and those it
   * newly SACKs are; without SACK each duplicate ACK already counted one segment
   * (tcp_add_reno_sack), so the ACK after them credits max(acked - dupacks, 1) segments
   * (tcp_remove_reno_sacks).
   */
  readonly ackCredit: 'bytes-acked' | 'linux-newly-delivered';

  /**
   * The congestion controller a connection starts with (TCP_CONGESTION changes it). Linux:
   * net.ipv4.tcp_congestion_control, 'cubic' (the default since 2.6.19). FreeBSD:
   * net.inet.tcp.cc.algorithm, 'cubic' since FreeBSD 14.0 (NewReno before); cc_cubic's
   * HyStart++ stays off in the default stack (slowStartExit 'none').
   */
  readonly congestion: CongestionName;
  /**
   * The window after an idle period longer than the RTO (with slow start after idle on).
   * 'linux-cwnd-restart': tcp_cwnd_restart halves cwnd once per RTO of idle time, down to the
   * restart window. 'restart-window': cwnd = min(IW, cwnd) at once (RFC 5681 §4.1; FreeBSD
   * newreno_after_idle). Both raise ssthresh to 3/4 of the old window first.
   */
  readonly idleRestart: 'linux-cwnd-restart' | 'restart-window';

  // ---- receive window

  /**
   * 'rfc1122-receiver-sws': the right edge stays put, also on piggybacked windows, until
   * the increase is worth it (RFC 1122 §4.2.3.3; Linux __tcp_select_window). 'free-space':
   * every segment offers min(free space, 65535 << shift), never shrinking the edge, and the
   * receiver SWS rule only decides when a pure window update is sent (FreeBSD tcp_output).
   */
  readonly windowAdvertisement: 'rfc1122-receiver-sws' | 'free-space';
  /** Default SO_RCVBUF. The stack's own default on Linux; FreeBSD: net.inet.tcp.recvspace (65536). */
  readonly recvSpace: number;
  /**
   * The receive window a segment is checked and trimmed against on arrival (RFC 9293
   * §3.10.7.4's RCV.WND). 'advertised': the window we offered, RCV.ADV - RCV.NXT (Linux
   * tcp_sequence / tcp_receive_window). 'freebsd-max-sbspace-advertised': the larger of that
   * and the free receive-buffer space, which can exceed what the 16-bit field carried
   * (FreeBSD tcp_input: "Receive window is amount of space in rcv queue, but not less than
   * advertised window", tp->rcv_wnd = imax(sbspace(&so->so_rcv), rcv_adv - rcv_nxt)); the
   * RFC 5961 RST check and the trim of data beyond the window use it.
   */
  readonly inputWindow: 'advertised' | 'freebsd-max-sbspace-advertised';
  /** Default SO_SNDBUF. The stack's own default on Linux; FreeBSD: net.inet.tcp.sendspace (32768). */
  readonly sendSpace: number;
  /**
   * The largest receive buffer, which the offered window scale covers (RFC 7323 §2.3).
   * Linux: max(tcp_rmem[2], rmem_max), 6 MiB (shift 7). FreeBSD: kern.ipc.maxsockbuf
   * (sb_max), 2 MiB (shift 6).
   */
  readonly maxRecvBuffer: number;
  /**
   * Send-buffer autotuning (sndbuf-auto.ts), off for a connection whose SO_SNDBUF was set.
   * 'linux-sndbuf-expand': when ACKs free room a writer was waiting for and the flight does
   * not fill cwnd, the buffer grows to twice max(cwnd, 10 segments) (tcp_new_space,
   * tcp_sndbuf_expand). 'freebsd-sendbuf-auto': while the buffer is 7/8 full and the windows
   * could take all of it, it grows by net.inet.tcp.sendbuf_inc, 8 KiB (tcp_output's
   * SB_AUTOSIZE). 'none': it stays as set.
   */
  readonly sendBufferAutotuning: 'linux-sndbuf-expand' | 'freebsd-sendbuf-auto' | 'none';
  /**
   * When a full send buffer has room again: a blocked writer wakes, poll and epoll report
   * POLLOUT, the async API drains. 'linux-min-wspace': once the free room is at least half
   * of what is queued (sk_stream_is_writeable: sk_stream_wspace >= sk_stream_min_wspace,
   * tcp_poll and sk_stream_write_space), a third of the buffer. 'freebsd-sb-lowat': once it
   * is at least the send low-water mark, MCLBYTES (2048) or the whole buffer if smaller
   * (sowriteable: sbspace >= so_snd.sb_lowat, soreserve's default).
   */
  readonly sendBufferWake: 'linux-min-wspace' | 'freebsd-sb-lowat';
  /** The most autotuning gives a send buffer. Linux: tcp_wmem[2], 4 MiB. FreeBSD: net.inet.tcp.sendbuf_max, 2 MiB. */
  readonly maxSendBuffer: number;
  /**
   * Receive-buffer autotuning (rcvbuf-auto.ts), off for a connection whose SO_RCVBUF was set.
   * 'linux-drs': per receiver-measured RTT the buffer grows to twice what the application
   * read in it, up to maxRecvBuffer (tcp_moderate_rcvbuf: tcp_rcv_space_adjust). 'none': it
   * stays as set. Deviation: FreeBSD's own rule (tcp_autorcvbuf) is not built; its profile
   * says 'none'.
   */
  readonly receiveBufferAutotuning: 'linux-drs' | 'none';
  /**
   * 'mss-multiple': once the MSS is known (the connection is established) both socket
   * buffers are rounded up to a whole number of segments (FreeBSD tcp_mss(): 65536 -> 65700
   * for MSS 1460; buffers.ts). 'none': sizes stay as set (Linux).
   */
  readonly sockBufRounding: 'none' | 'mss-multiple';

  // ---- connection life

  /**
   * An RST in TIME-WAIT. 'rfc9293-rst-ends-time-wait': it ends TIME-WAIT (RFC 9293
   * §3.10.7.4; Linux net.ipv4.tcp_rfc1337 = 0). 'rfc1337-ignore-rst': it is dropped, no
   * TIME-WAIT assassination (FreeBSD tcp_twcheck).
   */
  readonly timeWaitRst: 'rfc9293-rst-ends-time-wait' | 'rfc1337-ignore-rst';
  /**
   * 'so-keepalive': keepalives only on connections with SO_KEEPALIVE (Linux). 'always':
   * on every connection (FreeBSD net.inet.tcp.always_keepalive = 1).
   */
  readonly keepalive: 'so-keepalive' | 'always';
  /**
   * shutdown(SHUT_RD). 'flush': buffered and later data are discarded (acknowledged, never
   * queued) and reads return end of stream (FreeBSD soshutdown: socantrcvmore and sorflush;
   * POSIX "further receives are disallowed"). 'linux-keep-receiving': reads return end of
   * stream only once the buffer is empty, and arriving data is still acknowledged, queued and
   * readable (Linux marks RCV_SHUTDOWN, which tcp_shutdown ignores and the receive path does
   * not check).
   */
  readonly shutRd: 'flush' | 'linux-keep-receiving';
  /**
   * Which ICMP destination unreachables end a connection still in its handshake (RFC 1122
   * §4.2.3.9 makes codes 0, 1 and 5 soft). 'every-unreachable': all of them (Linux
   * tcp_v4_err). 'port-protocol-unreachable': only port and protocol
   * unreachable; the others are soft errors (FreeBSD tcp_ctlinput with
   * net.inet.tcp.icmp_may_rst = 1; FreeBSD also aborts on TTL exceeded in transit, which the
   * stack treats as soft: see TcpLayer.icmpError).
   */
  readonly icmpHandshakeAbort: 'every-unreachable' | 'port-protocol-unreachable';
  /**
   * The MSS option of a SYN or SYN-ACK. 'route-advmss': what the interface can receive,
   * computed once for the connection and repeated by retransmissions (RFC 6691 §2; Linux
   * tcp_advertise_mss, the route's advmss). 'freebsd-tcp-mssopt': recomputed for every SYN
   * from the smaller of the interface MTU and the host cache's MTU for the peer (tcp_mssopt,
   * tcp_hc_getmtu). FreeBSD's host cache learns a validated ICMPv6 Packet Too Big in the
   * ICMPv6 layer (icmp6_mtudisc_update), but an IPv4 fragmentation-needed only through
   * tcp_ctlinput when the MTU is below t_maxseg + 40, and t_maxseg is tcp_mssdflt (536)
   * until the SYN-ACK: during an IPv4 handshake such an error is ignored unless below 576.
   */
  readonly synMssOption: 'route-advmss' | 'freebsd-tcp-mssopt';
  /**
   * RFC 5961 §7 ACK throttling per connection: at most `count` replies to invalid segments
   * (challenge ACKs, and duplicate ACKs for segments out of window, acknowledging unsent
   * data or failing PAWS) per `window`. Linux: one per net.ipv4.tcp_invalid_ratelimit
   * (500 ms; tcp_oow_rate_limited, tcp_send_challenge_ack). FreeBSD: net.inet.tcp.ack_war_cnt
   * (5) per net.inet.tcp.ack_war_timewindow (1000 ms; tcp_send_challenge_ack's epoch).
   * Deviation: FreeBSD's epoch counts the challenge ACKs its default stack sends; the stack
   * applies each profile's limit to the duplicate ACKs for invalid segments too (Linux's
   * scope), which is what ends an ACK storm.
   */
  readonly invalidReplyLimit: { readonly count: number; readonly window: Duration };
  /**
   * A SYN with FIN set to a listening port. 'drop': silently dropped (Linux
   * tcp_rcv_state_process, LISTEN: "if (th->fin) goto discard"). 'syn': processed as a SYN
   * (FreeBSD tcp_input with its default net.inet.tcp.drop_synfin = 0).
   */
  readonly synFinToListener: 'drop' | 'syn';
  /**
   * A non-<RST> segment without TSopt on a connection that negotiated timestamps.
   * 'rfc7323-drop': silently dropped (RFC 7323 §3.2 SHOULD; FreeBSD tcp_input with its
   * default net.inet.tcp.tolerate_missing_ts = 0). 'accept': processed, PAWS skipped (Linux:
   * tcp_validate_incoming checks PAWS only when the option is there).
   */
  readonly missingTimestamp: 'rfc7323-drop' | 'accept';
  /**
   * A data segment below RCV.NXT that PAWS drops (a reordered original arriving after its
   * retransmission moved TS.Recent). 'dsack': its ACK reports it as a D-SACK (Linux
   * tcp_send_dupack, so the sender can undo the needless retransmission). 'ack': a plain ACK
   * (FreeBSD tcp_input: dropafterack).
   */
  readonly pawsDuplicate: 'dsack' | 'ack';
  /**
   * A segment on a synchronized connection whose ACK acknowledges data not yet sent
   * (SEG.ACK > SND.NXT). 'rfc9293-ack': "send an ACK, drop the segment, and return" (RFC
   * 9293 §3.10.7.4, RFC 5961 §5.2; FreeBSD tcp_input: tcps_rcvacktoomuch, dropafterack).
   * 'linux-discard': dropped without a reply (Linux tcp_ack returns
   * SKB_DROP_REASON_TCP_ACK_UNSENT_DATA and the segment is discarded; its challenge ACK is
   * only for an ACK too old). In SYN-RECEIVED both answer with a reset.
   */
  readonly ackOfUnsentData: 'rfc9293-ack' | 'linux-discard';
  /**
   * Spurious retransmission timeouts. 'rfc5682-frto': F-RTO, SACK-enhanced (Linux
   * net.ipv4.tcp_frto = 2, the default). 'none': go-back-N after every RTO (FreeBSD's default
   * stack has no F-RTO; its timestamp-based bad-retransmit undo is not modelled).
   */
  readonly spuriousRtoDetection: 'rfc5682-frto' | 'none';
}

/** Linux (the default): the behaviour of a current kernel with its default sysctls. */
export const LINUX: TcpProfile = Object.freeze({
  name: 'linux',
  rtoMin: millis(200),
  rtoSlop: 0,
  rtoEstimator: 'linux-rtt-estimator',
  synRetransmitBackoff: 'rfc6298-doubling',
  synRetries: 6,
  keepInit: 0,
  delayedAckTimeout: millis(40),
  quickAck: 'linux-quickack',
  finAck: 'linux-pingpong',
  ackEvery: 'second-full-sized-segment',
  dsack: 'rfc2883',
  pushPlacement: 'linux-tcp-push',
  ackWhileFinOutstanding: 'rfc9293-bare-ack',
  tailLossProbe: 'rfc8985-tlp',
  lossDetection: 'rfc8985-rack',
  recoveryWindow: 'rfc6937-prr-ssrb',
  slowStartExit: 'linux-hystart',
  cubicFirstDecrease: 'rfc9438-beta',
  renoSsthresh: 'linux-cwnd-half',
  slowStartGrowth: 'linux-all-acked',
  congestion: 'cubic',
  idleRestart: 'linux-cwnd-restart',
  ackCredit: 'linux-newly-delivered',
  windowAdvertisement: 'rfc1122-receiver-sws',
  recvSpace: 256 * 1024,
  inputWindow: 'advertised',
  sendSpace: 256 * 1024,
  maxRecvBuffer: 6 * 1024 * 1024,
  sendBufferAutotuning: 'linux-sndbuf-expand',
  sendBufferWake: 'linux-min-wspace',
  maxSendBuffer: 4 * 1024 * 1024,
  receiveBufferAutotuning: 'linux-drs',
  sockBufRounding: 'none',
  timeWaitRst: 'rfc9293-rst-ends-time-wait',
  keepalive: 'so-keepalive',
  shutRd: 'linux-keep-receiving',
  icmpHandshakeAbort: 'every-unreachable',
  synMssOption: 'route-advmss',
  invalidReplyLimit: Object.freeze({ count: 1, window: millis(500) }),
  synFinToListener: 'drop',
  missingTimestamp: 'accept',
  pawsDuplicate: 'dsack',
  ackOfUnsentData: 'linux-discard',
  spuriousRtoDetection: 'rfc5682-frto',
});

/** FreeBSD's default stack with its default sysctls (tcp_timer.h, tcp_usrreq.c, tcp_input.c). */
export const FREEBSD: TcpProfile = Object.freeze({
  name: 'freebsd',
  rtoMin: millis(30),
  rtoSlop: millis(200),
  rtoEstimator: 'rfc6298',
  synRetransmitBackoff: 'freebsd-tcp-backoff-table',
  synRetries: 12,
  keepInit: seconds(75),
  delayedAckTimeout: millis(100),
  quickAck: 'none',
  finAck: 'ack-now',
  ackEvery: 'second-segment',
  dsack: 'rfc2883',
  pushPlacement: 'buffer-empty',
  ackWhileFinOutstanding: 'freebsd-outflags-fin',
  tailLossProbe: 'none',
  lossDetection: 'rfc6675-dupthresh',
  recoveryWindow: 'rfc6675-cwnd',
  slowStartExit: 'none',
  cubicFirstDecrease: 'freebsd-half',
  renoSsthresh: 'freebsd-cwnd-half',
  slowStartGrowth: 'rfc3465-abc-l2',
  congestion: 'cubic',
  idleRestart: 'restart-window',
  ackCredit: 'bytes-acked',
  windowAdvertisement: 'free-space',
  recvSpace: 65536,
  inputWindow: 'freebsd-max-sbspace-advertised',
  sendSpace: 32768,
  maxRecvBuffer: 2 * 1024 * 1024,
  sendBufferAutotuning: 'freebsd-sendbuf-auto',
  sendBufferWake: 'freebsd-sb-lowat',
  maxSendBuffer: 2 * 1024 * 1024,
  receiveBufferAutotuning: 'none',
  sockBufRounding: 'mss-multiple',
  timeWaitRst: 'rfc1337-ignore-rst',
  keepalive: 'always',
  shutRd: 'flush',
  icmpHandshakeAbort: 'port-protocol-unreachable',
  synMssOption: 'freebsd-tcp-mssopt',
  invalidReplyLimit: Object.freeze({ count: 5, window: millis(1000) }),
  synFinToListener: 'syn',
  missingTimestamp: 'rfc7323-drop',
  pawsDuplicate: 'ack',
  ackOfUnsentData: 'rfc9293-ack',
  spuriousRtoDetection: 'none',
});

export const TCP_PROFILES: Readonly<Record<TcpProfileName, TcpProfile>> = Object.freeze({
  linux: LINUX,
  freebsd: FREEBSD,
});
