import type { Duration } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { SlowStartExit } from './congestion/hystart.ts';
import type { CongestionName, RenoSsthresh } from './congestion/types.ts';
import { LINUX, TCP_PROFILES, type TcpProfile, type TcpProfileName } from './profile.ts';

/** net.ipv4.tcp_recovery bits (Linux include/net/tcp.h TCP_RACK_*). */
export const RECOVERY_RACK = 1;
export const RECOVERY_RACK_STATIC_REO_WND = 2;
export const RECOVERY_RACK_NO_DUPTHRESH = 4;

/**
 * Layer-wide TCP settings (the equivalent of Linux's net.ipv4.tcp_* sysctls). The flags that
 * differ between systems come from a TcpProfile (profile.ts); `tcpConfigFor` resolves one.
 */
export interface TcpConfig {
  /**
   * The system whose defaults this config was resolved from (profile.ts). Given to a layer
   * (`config: { tcp: { profile: 'freebsd' } }`), it picks the defaults the other fields
   * override; changing it on a live config changes nothing.
   */
  profile: TcpProfileName;
  /** Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2). */
  msl: Duration;
  /** How long an orphaned connection may sit in FIN-WAIT-2 (Linux tcp_fin_timeout). */
  finWait2Timeout: Duration;
  initialRto: Duration;
  minRto: Duration;
  /** The RTO from Linux's estimator (SRTT + max(4·mdev, minRto)) rather than RFC 6298's (profile rtoEstimator). */
  linuxRto: boolean;
  maxRto: Duration;
  /** SYN retransmissions before connect() fails with 'timed-out' (Linux tcp_syn_retries). */
  synRetries: number;
  /** SYN-ACK retransmissions before an embryonic connection is dropped. */
  synAckRetries: number;
  /** Data retransmissions before the connection fails with 'timed-out' (Linux tcp_retries2). */
  retries: number;
  /** Delayed ACK timer (RFC 9293 §3.8.6.3: "MUST be less than 0.5 seconds"). */
  delayedAckTimeout: Duration;
  /**
   * Linux quick-ACK mode: the first data segments of a connection, and those after an idle
   * gap longer than the RTO, are acknowledged at once (up to 16, or one per two MSS of the
   * offered window), so a sender in slow start is not held up by delayed ACKs. RFC 1122
   * §4.2.3.2 makes delaying a SHOULD, not a MUST. FreeBSD has no such mode.
   */
  quickAck: boolean;
  /** A FIN after data waits for the delayed-ACK timer (profile finAck; Linux pingpong mode). */
  finAckDelayed: boolean;
  /**
   * PSH also on the last segment of a burst that the congestion or peer window cuts short,
   * not only on the one that empties the send buffer (Linux; RFC 1122 §4.2.2.2 leaves PSH
   * placement beyond the last buffered segment to the implementation). FreeBSD: off.
   */
  pushBurstEnd: boolean;
  /**
   * PSH where a write ends (not under MSG_MORE) and on forced pushes, kept on that byte when
   * it is resent (Linux tcp_push / tcp_mark_push; push.ts). Off: PSH on the segment that
   * empties the send buffer (FreeBSD tcp_output).
   */
  pushWriteEnd: boolean;
  /**
   * While our FIN is sent and unacknowledged, the ACKs tcpOutput sends (delayed, immediate,
   * and those answering out-of-window segments) repeat the FIN (FreeBSD tcp_output's
   * tcp_outflags; profile ackWhileFinOutstanding). Off: bare ACKs at SND.NXT (RFC 9293, Linux).
   */
  finOnAcks: boolean;
  /**
   * RFC 1337: TIME-WAIT ignores RST segments (no "TIME-WAIT assassination"). FreeBSD does;
   * Linux's net.ipv4.tcp_rfc1337 defaults to 0 (an RST ends TIME-WAIT, RFC 9293 §3.10.7.4).
   */
  rfc1337: boolean;
  /**
   * RFC 2883 D-SACK: report duplicate segments in the first SACK block (Linux tcp_dsack=1,
   * FreeBSD). On by default, as on Linux.
   */
  dsack: boolean;
  /**
   * RFC 8985 §7 tail loss probe: with SACK, a probe after about two round trips of silence
   * turns a tail loss into a fast recovery instead of an RTO (Linux tcp_early_retrans >= 3,
   * the default). FreeBSD's default stack has none.
   */
  tlp: boolean;
  /**
   * Linux net.ipv4.tcp_recovery, a bit mask: RECOVERY_RACK (1) finds losses with RACK
   * (RFC 8985) on SACK connections instead of DupThresh; RECOVERY_RACK_STATIC_REO_WND (2)
   * keeps the reordering window at min_RTT/4 (no D-SACK adaptation); RECOVERY_RACK_NO_DUPTHRESH
   * (4) keeps the window open even with DupThresh segments SACKed. Linux: 1; FreeBSD: 0.
   */
  recovery: number;
  /** RFC 6937 PRR-SSRB sets the window during fast recovery (Linux); off: cwnd = ssthresh (RFC 6675). */
  prr: boolean;
  /** CUBIC's early slow-start exit (profile slowStartExit; congestion/hystart.ts). */
  hystart: SlowStartExit;
  /** CUBIC's first congestion event halves the window (profile cubicFirstDecrease; FreeBSD). */
  cubicFirstHalves: boolean;
  /** NewReno's ssthresh on a congestion event (profile renoSsthresh; congestion/types.ts). */
  renoSsthresh: RenoSsthresh;
  /** Slow start's growth per ACK at most this many segments (profile slowStartGrowth; RFC 3465 L). */
  slowStartLimit: number;
  /**
   * A cumulative ACK credits window growth with what it newly delivered (Linux
   * acked_sacked: minus what SACK blocks or duplicate ACKs already reported, plus what it
   * newly SACKs; profile ackCredit). Off: with the bytes SND.UNA advanced (RFC 3465, FreeBSD).
   */
  creditNewlyDelivered: boolean;
  /**
   * ECN (RFC 3168), as Linux net.ipv4.tcp_ecn and FreeBSD net.inet.tcp.ecn.enable count it:
   * 0 off; 1 ask for it on our SYNs and accept it on the peer's; 2 (both systems' default)
   * accept it when a peer asks, ask only on sockets that request it (TcpSocketOptions.ecn).
   */
  ecn: number;
  /**
   * FreeBSD's TCP-over-UDP tunnelling (net.inet.tcp.udp_tunneling_port; the SCTP scheme of
   * RFC 6951 applied to TCP): the local UDP port on which tunnelled segments arrive and from
   * which they leave. 0: off. A connection tunnels when its udpEncapsPort is set, by
   * TCP_REMOTE_UDP_ENCAPS_PORT before connect() or by a SYN that arrived tunnelled.
   */
  udpTunnelingPort: number;
  /**
   * Keepalives on every connection, not only those with SO_KEEPALIVE (FreeBSD's
   * net.inet.tcp.always_keepalive, default 1 there; Linux has no such setting).
   */
  alwaysKeepalive: boolean;
  /**
   * After shutdown(SHUT_RD) arriving data is still queued and readable (Linux; profile
   * shutRd). Off: buffered and later data are discarded (FreeBSD's sorflush).
   */
  shutRdKeepsReceiving: boolean;
  /** Bytes the tunnel adds per segment (net.inet.tcp.udp_tunneling_overhead, 8: the UDP header); the MSS shrinks by it. */
  udpTunnelingOverhead: number;
  /**
   * Every segment advertises min(free space, 65535 << shift), never shrinking the edge; the
   * receiver SWS rule (RFC 9293 §3.8.6.2.2) then only decides when a pure window update is
   * sent (FreeBSD tcp_output). Off: the edge also stays put on piggybacked windows until
   * the increase is worth it (RFC 1122 §4.2.3.3, Linux __tcp_select_window).
   */
  advertiseFreeSpace: boolean;
  /**
   * Arriving segments are checked and trimmed against the larger of the offered window and
   * the free receive-buffer space (FreeBSD tcp_input's tp->rcv_wnd; profile inputWindow).
   * Off: against the offered window, RCV.ADV - RCV.NXT (RFC 9293 §3.10.7.4, Linux).
   */
  inputWindowFromBuffer: boolean;
  /**
   * Count every data segment, not only full-sized ones, towards the ACK for every second
   * segment (FreeBSD's DELAY_ACK: a segment arriving while an ACK is delayed is ACKed at
   * once). RFC 9293 §3.8.6.3 asks for at least every second full-sized segment; more is allowed.
   */
  ackEverySegmentPair: boolean;
  /**
   * An ICMP hard error (port/protocol/host/net unreachable) ends a connection still in its
   * handshake (Linux; FreeBSD net.inet.tcp.icmp_may_rst=1). Off: it is only counted.
   */
  icmpMayReset: boolean;
  /**
   * During the handshake only port/protocol unreachable and TTL exceeded abort; other
   * unreachables are soft errors (FreeBSD tcp_ctlinput; RFC 1122 §4.2.3.9 codes 0, 1, 5).
   * Off (Linux tcp_v4_err): every unreachable ends a connection still in its handshake.
   */
  icmpSoftUnreachable: boolean;
  /**
   * Each SYN and SYN-ACK announces the MSS the path's MTU now allows, and an IPv4
   * fragmentation-needed during the handshake counts only below 576 bytes (FreeBSD
   * tcp_mssopt and tcp_ctlinput; profile synMssOption). Off: the option is computed once and
   * repeated (Linux).
   */
  mssOptionPerSyn: boolean;
  /** Default SO_SNDBUF / SO_RCVBUF in bytes. */
  sndBuf: number;
  rcvBuf: number;
  /**
   * What happens to a connection's buffer sizes once its MSS is known (buffers.ts):
   * 'mss-multiple' rounds both up to whole segments (FreeBSD tcp_mss()); 'none' keeps them.
   */
  sockBufRounding: 'none' | 'mss-multiple';
  /**
   * The largest receive buffer a connection may grow to: the window scale we offer covers
   * it (RFC 7323 §2.3 "the maximum receive buffer space"), whatever SO_RCVBUF is now. Linux:
   * max(tcp_rmem[2], rmem_max) (default 6 MiB: shift 7); FreeBSD: kern.ipc.maxsockbuf.
   */
  maxRcvBuf: number;
  /**
   * Send-buffer autotuning for connections whose SO_SNDBUF was not set (sndbuf-auto.ts;
   * profile sendBufferAutotuning), or 'none'. The buffer grows from `sndBuf`
   * to at most `maxSndBuf` (Linux tcp_wmem[2]; FreeBSD net.inet.tcp.sendbuf_max).
   */
  sndBufAuto: 'linux-sndbuf-expand' | 'freebsd-sendbuf-auto' | 'none';
  /**
   * The send low-water mark in bytes (FreeBSD so_snd.sb_lowat): a full send buffer is writable
   * again with this much room. 0: Linux's rule instead, free room >= half of what is queued
   * (profile sendBufferWake; buffers.ts sndSpaceReady).
   */
  sndLowat: number;
  maxSndBuf: number;
  /** Receive-buffer autotuning up to `maxRcvBuf` (rcvbuf-auto.ts; profile receiveBufferAutotuning 'linux-drs'). */
  rcvBufAuto: boolean;
  /**
   * Bytes all connections' send buffers, receive buffers and out-of-order queues may hold
   * together (memory.ts; Linux tcp_mem[2]). Arriving data beyond it is dropped (and
   * retransmitted by the peer). Infinity: no bound.
   */
  memoryLimit: number;
  /**
   * Fraction of memoryLimit where memory pressure starts (Linux tcp_mem[1]): receive windows
   * then grow slowly and write() takes no more, keeping the rest for arriving data.
   */
  memoryPressure: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
  congestion: CongestionName;
  /** 'auto': cookies only when the SYN queue is full. */
  synCookies: 'auto' | 'always' | 'never';
  /** Default SYN-queue bound per listener. */
  synBacklog: number;
  /**
   * RFC 5961 §7: challenge ACKs per second, host-wide, on average: each second allows a
   * random count in [limit/2, limit*3/2) (Linux net.ipv4.tcp_challenge_ack_limit since 4.7;
   * challenge.ts). 0: none.
   */
  challengeAckLimit: number;
  /**
   * RFC 5961 §7 per connection: at most invalidRateBurst replies per invalidRateLimit to
   * invalid segments (out of window, acknowledging unsent data, failing PAWS) and challenge
   * ACKs. Linux: one per net.ipv4.tcp_invalid_ratelimit (500 ms; tcp_oow_rate_limited);
   * FreeBSD: ack_war_cnt (5) per ack_war_timewindow (1 s). Replies to segments that carry
   * data (and no SYN) are not limited. 0: no limit.
   */
  invalidRateLimit: Duration;
  invalidRateBurst: number;
  /**
   * F-RTO (RFC 5682) after a retransmission timeout, as Linux's net.ipv4.tcp_frto: 0 off, 1
   * basic, 2 SACK-enhanced (both run the same here, frto.ts). Linux: 2; FreeBSD: 0.
   */
  frto: number;
  /**
   * RFC 5961 §3 for RST: an in-window RST that is not exactly at RCV.NXT draws a challenge
   * ACK instead of ending the connection. On in Linux (always) and FreeBSD (default); off as
   * FreeBSD's net.inet.tcp.insecure_rst = 1: any in-window RST resets (RFC 793).
   */
  rfc5961Rst: boolean;
  /**
   * RFC 5961 §4 for SYN: a SYN on a synchronized connection draws a challenge ACK. Off as
   * FreeBSD's net.inet.tcp.insecure_syn = 1: an in-window SYN resets the connection (RFC 793).
   */
  rfc5961Syn: boolean;
  /**
   * A SYN with FIN to a listener is dropped (Linux tcp_rcv_state_process; FreeBSD with
   * net.inet.tcp.drop_synfin = 1), rather than answered as a SYN.
   */
  dropSynFin: boolean;
  /**
   * A non-<RST> segment without TSopt on a timestamped connection is processed (Linux), not
   * dropped (RFC 7323 §3.2; FreeBSD's net.inet.tcp.tolerate_missing_ts = 0). Profile
   * missingTimestamp.
   */
  tolerateMissingTs: boolean;
  /** A PAWS-dropped duplicate below RCV.NXT is D-SACKed (Linux). Profile pawsDuplicate. */
  pawsDsack: boolean;
  /**
   * A segment acknowledging data not yet sent is discarded without a reply (Linux tcp_ack;
   * profile ackOfUnsentData). Off: it draws a duplicate ACK (RFC 9293 §3.10.7.4, FreeBSD).
   */
  silentAckOfUnsent: boolean;
  keepIdle: Duration;
  keepInterval: Duration;
  keepCount: number;
  /**
   * Connection-establishment timer (FreeBSD net.inet.tcp.keepinit / TCP_KEEPINIT, TCPTV_KEEP_INIT):
   * an active open not established this long after its first SYN fails with 'timed-out',
   * whatever synRetries allows. 0: off (Linux has no such timer; synRetries alone decides).
   */
  keepInit: Duration;
  /**
   * SYN retransmission schedule in SYN-SENT. 'double': RFC 6298 §5.5 doubling of the RTO (Linux).
   * 'freebsd': tcp_timer_rexmt's SYN-SENT rule, initialRto * tcp_backoff[shift] + synRtoSlop
   * (net.inet.tcp.rexmit_slop), capped at TCPTV_REXMTMAX (64 s), whatever the minimum/maximum RTO.
   */
  synBackoff: 'double' | 'freebsd';
  /** FreeBSD TCPT_RANGESET's rexmit_slop, added to each SYN timeout under synBackoff 'freebsd'. */
  synRtoSlop: Duration;
  /**
   * TCP Fast Open (RFC 7413), a bit mask as Linux's net.ipv4.tcp_fastopen (fastopen.ts
   * TFO_*): 0x1 client (MSG_FASTOPEN, TCP_FASTOPEN_CONNECT), 0x2 server (listeners with
   * TCP_FASTOPEN), 0x4 client sends data in the SYN without a cookie, 0x200 server accepts
   * data in the SYN without a cookie, 0x400 every listener does Fast Open (queue = backlog)
   * without TCP_FASTOPEN. Linux's default: 1 (client only).
   */
  fastOpen: number;
  /**
   * The server's cookie key (net.ipv4.tcp_fastopen_key), 16 bytes; undefined: a random key
   * from the layer's Rng. Cookies are SipHash-2-4 of the client and server addresses.
   */
  fastOpenKey: Uint8Array | undefined;
  /**
   * Slow start after idle (Linux net.ipv4.tcp_slow_start_after_idle, default 1): a connection
   * that sent nothing for an RTO restarts from the restart window (RFC 5681 §4.1, as Linux
   * tcp_cwnd_restart decays it, RFC 7661 §4.1 where it differs). Off: cwnd survives idleness.
   */
  slowStartAfterIdle: boolean;
  /** After idle, halve cwnd per RTO of idle time (Linux tcp_cwnd_restart) rather than drop to the restart window at once (profile idleRestart). */
  idleCwndDecay: boolean;
  /**
   * Linux net.ipv4.tcp_notsent_lowat: the default TCP_NOTSENT_LOWAT, in bytes (a socket is
   * writable while fewer unsent bytes are queued). Infinity (Linux's UINT_MAX): no limit.
   */
  notSentLowat: number;
  /**
   * Linux net.ipv4.tcp_min_tso_segs: the fewest segments in one of Linux's GSO packets
   * (tcp_tso_autosize), which places PSH under config.pushBurstEnd (push.ts gsoSegs).
   */
  minTsoSegs: number;
  /** Upper bound of the zero-window probe interval. */
  persistMax: Duration;
  /** Lower bound for the send MSS after ICMP frag-needed (RFC 1191). */
  minMss: number;
}

/** The TcpConfig fields a profile decides. */
type ProfileDecided =
  | 'profile'
  | 'minRto'
  | 'linuxRto'
  | 'synBackoff'
  | 'synRtoSlop'
  | 'synRetries'
  | 'keepInit'
  | 'delayedAckTimeout'
  | 'quickAck'
  | 'finAckDelayed'
  | 'ackEverySegmentPair'
  | 'dsack'
  | 'pushBurstEnd'
  | 'pushWriteEnd'
  | 'finOnAcks'
  | 'tlp'
  | 'recovery'
  | 'prr'
  | 'hystart'
  | 'cubicFirstHalves'
  | 'renoSsthresh'
  | 'slowStartLimit'
  | 'creditNewlyDelivered'
  | 'advertiseFreeSpace'
  | 'inputWindowFromBuffer'
  | 'rcvBuf'
  | 'sndBuf'
  | 'maxRcvBuf'
  | 'sndBufAuto'
  | 'sndLowat'
  | 'maxSndBuf'
  | 'rcvBufAuto'
  | 'sockBufRounding'
  | 'rfc1337'
  | 'alwaysKeepalive'
  | 'shutRdKeepsReceiving'
  | 'icmpSoftUnreachable'
  | 'mssOptionPerSyn'
  | 'dropSynFin'
  | 'tolerateMissingTs'
  | 'pawsDsack'
  | 'silentAckOfUnsent'
  | 'invalidRateLimit'
  | 'invalidRateBurst'
  | 'frto'
  | 'congestion'
  | 'idleCwndDecay';

/** A profile's mechanisms as the flags TCP reads. */
function profileSettings(p: TcpProfile): Pick<TcpConfig, ProfileDecided> {
  return {
    profile: p.name,
    // FreeBSD's rexmit_slop is folded into the floor (TCPT_RANGESET adds it to every RTO).
    minRto: p.rtoMin + p.rtoSlop,
    linuxRto: p.rtoEstimator === 'linux-rtt-estimator',
    synBackoff: p.synRetransmitBackoff === 'freebsd-tcp-backoff-table' ? 'freebsd' : 'double',
    synRtoSlop: p.rtoSlop,
    synRetries: p.synRetries,
    keepInit: p.keepInit,
    delayedAckTimeout: p.delayedAckTimeout,
    quickAck: p.quickAck === 'linux-quickack',
    finAckDelayed: p.finAck === 'linux-pingpong',
    ackEverySegmentPair: p.ackEvery === 'second-segment',
    dsack: p.dsack === 'rfc2883',
    pushBurstEnd: p.pushPlacement === 'linux-tcp-push',
    pushWriteEnd: p.pushPlacement === 'linux-tcp-push',
    finOnAcks: p.ackWhileFinOutstanding === 'freebsd-outflags-fin',
    tlp: p.tailLossProbe === 'rfc8985-tlp',
    recovery: p.lossDetection === 'rfc8985-rack' ? RECOVERY_RACK : 0,
    prr: p.recoveryWindow === 'rfc6937-prr-ssrb',
    hystart: p.slowStartExit,
    cubicFirstHalves: p.cubicFirstDecrease === 'freebsd-half',
    renoSsthresh: p.renoSsthresh,
    slowStartLimit: p.slowStartGrowth === 'linux-all-acked' ? Number.POSITIVE_INFINITY : 2,
    creditNewlyDelivered: p.ackCredit === 'linux-newly-delivered',
    advertiseFreeSpace: p.windowAdvertisement === 'free-space',
    inputWindowFromBuffer: p.inputWindow === 'freebsd-max-sbspace-advertised',
    rcvBuf: p.recvSpace,
    sndBuf: p.sendSpace,
    maxRcvBuf: p.maxRecvBuffer,
    sndBufAuto: p.sendBufferAutotuning,
    sndLowat: p.sendBufferWake === 'freebsd-sb-lowat' ? 2048 : 0,
    maxSndBuf: p.maxSendBuffer,
    rcvBufAuto: p.receiveBufferAutotuning === 'linux-drs',
    sockBufRounding: p.sockBufRounding,
    rfc1337: p.timeWaitRst === 'rfc1337-ignore-rst',
    alwaysKeepalive: p.keepalive === 'always',
    shutRdKeepsReceiving: p.shutRd === 'linux-keep-receiving',
    icmpSoftUnreachable: p.icmpHandshakeAbort === 'port-protocol-unreachable',
    mssOptionPerSyn: p.synMssOption === 'freebsd-tcp-mssopt',
    dropSynFin: p.synFinToListener === 'drop',
    tolerateMissingTs: p.missingTimestamp === 'accept',
    pawsDsack: p.pawsDuplicate === 'dsack',
    silentAckOfUnsent: p.ackOfUnsentData === 'linux-discard',
    invalidRateLimit: p.invalidReplyLimit.window,
    invalidRateBurst: p.invalidReplyLimit.count,
    frto: p.spuriousRtoDetection === 'rfc5682-frto' ? 2 : 0,
    congestion: p.congestion,
    idleCwndDecay: p.idleRestart === 'linux-cwnd-restart',
  };
}

/** Settings no profile decides (the same on every system the stack imitates). */
const COMMON_SETTINGS: Readonly<Omit<TcpConfig, ProfileDecided>> = {
  msl: seconds(30),
  finWait2Timeout: seconds(60),
  initialRto: seconds(1),
  maxRto: seconds(120),
  synAckRetries: 5,
  retries: 15,
  udpTunnelingPort: 0,
  udpTunnelingOverhead: 8,
  ecn: 2,
  icmpMayReset: true,
  memoryLimit: 64 * 1024 * 1024,
  memoryPressure: 0.75,
  windowScaling: true,
  timestamps: true,
  sack: true,
  synCookies: 'auto',
  synBacklog: 256,
  challengeAckLimit: 1000,
  keepIdle: seconds(7200),
  keepInterval: seconds(75),
  keepCount: 9,
  persistMax: seconds(60),
  minMss: 64,
  fastOpen: 1,
  fastOpenKey: undefined,
  slowStartAfterIdle: true,
  notSentLowat: Number.POSITIVE_INFINITY,
  minTsoSegs: 2,
  rfc5961Rst: true,
  rfc5961Syn: true,
};

/**
 * A complete TcpConfig for a profile (a value or its name), with `overrides` on top:
 * `tcpConfigFor(FREEBSD, { synRetries: 3 })`. An `overrides.profile` is ignored here.
 */
export function tcpConfigFor(
  profile: TcpProfile | TcpProfileName = LINUX,
  overrides: Partial<TcpConfig> = {},
): TcpConfig {
  const p = typeof profile === 'string' ? TCP_PROFILES[profile] : profile;
  if (!p) throw new TypeError(`unknown TCP profile ${String(profile)}`);
  return { ...COMMON_SETTINGS, ...profileSettings(p), ...overrides, profile: p.name };
}

/** A layer's config from what it was given: the named profile (default Linux) plus the rest. */
export function resolveTcpConfig(config: Partial<TcpConfig> = {}): TcpConfig {
  return tcpConfigFor(config.profile ?? LINUX, config);
}

/** The Linux profile's config: the stack's defaults. */
export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = Object.freeze(tcpConfigFor(LINUX));

/** Per-connection options (socket options). */
export interface TcpSocketOptions {
  /** TCP_NODELAY: disables Nagle. */
  noDelay: boolean;
  /** SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT. */
  keepAlive: boolean;
  keepIdle: Duration;
  keepInterval: Duration;
  keepCount: number;
  /** SO_LINGER: undefined = off; 0 = close() sends RST. */
  linger: Duration | undefined;
  rcvBuf: number;
  sndBuf: number;
  /** TCP_MAXSEG: caps the MSS we announce and use. */
  maxSeg: number | undefined;
  congestion: CongestionName;
  /** TCP_LINGER2: this socket's FIN-WAIT-2 lifetime once closed (default config.finWait2Timeout). */
  finWait2Timeout?: Duration;
  /**
   * TCP_DEFER_ACCEPT on a listener, as Linux counts it: SYN-ACK timeouts during which a bare
   * ACK does not complete the handshake (the connection waits for data); see deferAcceptRetries.
   */
  deferAccept?: number;
  /**
   * TCP_USER_TIMEOUT (RFC 5482 "User Timeout Option" semantics, as Linux tcp(7) applies them):
   * how long transmitted data may stay unacknowledged (retransmissions or zero-window probes
   * going unanswered) before the connection aborts with ETIMEDOUT. 0 / undefined: off, the
   * retry counts (config.retries, synRetries) decide instead.
   */
  userTimeout?: Duration;
  /** TCP_KEEPINIT (FreeBSD): this socket's connection-establishment time limit (default config.keepInit). */
  keepInit?: Duration;
  /**
   * IP_TOS (ip(7)): the TOS byte (DSCP << 2) of every IPv4 datagram the connection sends. As on
   * Linux, TCP owns the two ECN bits (RFC 3168 §5), so they are kept clear here. Default 0.
   */
  tos?: number;
  /**
   * IP_MTU_DISCOVER (ip(7)): IP_PMTUDISC_DONT 0, WANT 1 (the default), DO 2, PROBE 3, INTERFACE 4,
   * OMIT 5. As Linux's ip_dont_fragment decides, DF is set on the connection's segments for WANT
   * and DO only (RFC 1191 path MTU discovery); DONT, PROBE, INTERFACE and OMIT send without DF.
   */
  pmtuDisc?: number;
  /**
   * IP_TTL (ip(7)): the TTL of the connection's datagrams; undefined: the IP layer's default
   * (64, Linux's ip_default_ttl).
   */
  ttl?: number;
  /**
   * TCP_REMOTE_UDP_ENCAPS_PORT (FreeBSD tcp(4)): the peer's UDP port when the connection runs
   * tunnelled in UDP (config.udpTunnelingPort); undefined: plain TCP. Fixed once the
   * connection exists.
   */
  udpEncapsPort?: number;
  /**
   * Pacing (Linux SO_MAX_PACING_RATE; FreeBSD RACK's TCP_RACK_PACE_RATE_*): new data leaves
   * at no more than this many bytes per second, in bursts of `pacingBurst` segments spaced
   * so that each burst's bytes take their time at the rate. undefined / 0: no pacing.
   * Retransmissions are not paced.
   */
  pacingRate?: number;
  /** Segments per paced burst (FreeBSD TCP_RACK_PACE_MAX_SEG). Default 2. */
  pacingBurst?: number;
  /**
   * TCP_FASTOPEN on a listener (RFC 7413 §5.1's bound on pending Fast Open connections, Linux
   * fastopenq.max_qlen): SYNs with data and a valid cookie make connections accept() returns
   * at once, while fewer than this many are still in SYN-RECEIVED. 0 / undefined: off.
   */
  fastOpenQlen?: number;
  /**
   * TCP_FASTOPEN_CONNECT (Linux 4.11): connect() returns at once when a cookie is cached for
   * the peer, and the SYN leaves with the first write's data and the cookie.
   */
  fastOpenConnect?: boolean;
  /**
   * TCP_CORK (tcp(7)): partial segments wait until the option is cleared (or, as Linux's
   * window probe timer does, until a persist timeout, at least 200 ms); full ones go.
   */
  cork?: boolean;
  /**
   * TCP_NOTSENT_LOWAT (Linux 3.12): the socket is writable only while fewer than this many
   * written bytes wait unsent (poll: twice that many fewer, Linux's wake factor);
   * undefined: config.notSentLowat.
   */
  notSentLowat?: number;
  /** TCP_FASTOPEN_NO_COOKIE: data in the SYN without a cookie (client), or accepted without one (server). */
  fastOpenNoCookie?: boolean;
  /**
   * Ask for ECN (RFC 3168) on this connection's SYN even when config.ecn is 2 (Linux does so
   * per route, `ip route ... features ecn`, which also overrides tcp_ecn = 0; here per socket).
   */
  ecn?: boolean;
}

/** IP_MTU_DISCOVER values (<linux/in.h>). */
export const IP_PMTUDISC_DONT = 0;
export const IP_PMTUDISC_WANT = 1;
export const IP_PMTUDISC_DO = 2;
export const IP_PMTUDISC_PROBE = 3;
export const IP_PMTUDISC_OMIT = 5;

/** Whether a connection with this IP_MTU_DISCOVER mode sets DF (Linux ip_dont_fragment). */
export function pmtuDontFragment(mode: number | undefined): boolean {
  return mode === undefined || mode === IP_PMTUDISC_WANT || mode === IP_PMTUDISC_DO;
}

/**
 * Linux's secs_to_retrans for TCP_DEFER_ACCEPT: how many SYN-ACK timeouts (1 s, doubling,
 * at most 120 s each) cover `seconds`.
 */
export function deferAcceptRetries(seconds: number): number {
  if (!(seconds > 0)) return 0;
  let timeout = 1;
  let period = 1;
  let n = 1;
  while (seconds > period && n < 255) {
    n++;
    timeout = Math.min(timeout * 2, 120);
    period += timeout;
  }
  return n;
}
