/**
 * Documented deviations of sockstack's stack from the behaviour a script expects, where the
 * stack follows an RFC and the script records one system's own choice (dialect behaviour
 * the stack has no knob for). A script that fails exactly at the listed line with a message
 * containing `match` is reported as skipped with the reason; any other failure (or a
 * failure elsewhere) still fails, so a deviation cannot hide a new bug.
 */
export interface Deviation {
  /** A short name, the same for every script the same behaviour explains (kebab-case). */
  readonly id: string;
  /** Path suffix of the script (as under the corpus root). */
  readonly script: string;
  readonly line: number;
  /** A substring of the failure message. */
  readonly match: string;
  readonly reason: string;
}

/**
 * A FreeBSD script and its IPv6 twin (`...-ipv4.pkt` and `...-ipv6.pkt`, the same test over
 * `--ip_version=ipv6`): the stack behaves the same in both families, so one reason covers both.
 */
function bothFamilies(d: Deviation): Deviation[] {
  return [d, { ...d, script: d.script.replace(/-ipv4\.pkt$/, '-ipv6.pkt') }];
}

export const STACK_DEVIATIONS: readonly Deviation[] = [
  ...['close-read-data-fin.pkt', 'close-unread-data-rst.pkt'].map((s) => ({
    id: 'delayed-ack-timer-not-callout-tick',
    script: `nplab-packetdrill/gtests/net/packetdrill/tests/bsd/tcp/close/${s}`,
    line: 19,
    match: 'timing mismatch: packet sent at 0.310s, expected at 0.350s',
    reason:
      "the delayed ACK leaves when the 100 ms timer (FreeBSD's delacktime) expires after the data (RFC 1122 §4.2.3.2 allows up to 500 ms); the script expects FreeBSD's callout-tick timing of +140 ms",
  })),
  ...bothFamilies({
    id: 'syn-ack-to-listener-reset',
    script:
      'freebsd-tcp-testsuite/state-event-engine/rcv-syn-ack-listen/rcv-syn-ack-without-data-listen-ipv4.pkt',
    line: 51,
    match: 'unexpected outbound packet at 0.100s before this event: R 34:34(0)',
    reason:
      'a SYN-ACK to a listener gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2 "any acknowledgment is bad ... an acceptable reset segment should be formed"), as Linux does and as FreeBSD\'s own tcp_input does ("(SYN|ACK) is bogus on a listen socket": BANDLIM_RST_OPENPORT, dropwithreset) and nplab\'s bsd/tcp/listen/listen-incoming-syn-ack.pkt expects under the same profile; this script expects no reply, which that source does not produce',
  }),
  {
    id: 'handshake-ack-does-not-grow-iw',
    script: 'nplab-packetdrill/gtests/net/packetdrill/tests/bsd/tcp/ack_processing/tcp_dup_acks.pkt',
    line: 16,
    match: 'assert tcpi_snd_cwnd == 11000 (tcpi_snd_cwnd=10000)',
    reason:
      "the initial window is 10 segments (RFC 6928) and the ACK of our SYN-ACK, which acknowledges no data, does not grow it (RFC 5681 §3.1), as today's FreeBSD does (tcp_input's incforsyn: \"Adjust for the SYN bit in sequence space, but don't account for it in cwnd calculations\"); the script records an older FreeBSD that counted that ACK as a slow-start ACK (IW + 1 MSS)",
  },
  {
    id: 'send-buffer-not-truesize-booked',
    script: 'google-packetdrill/gtests/net/tcp/blocking/blocking-write.pkt',
    line: 24,
    match: 'blocking write() still blocked',
    reason:
      "the send buffer counts payload bytes against SO_SNDBUF, not skb truesize against twice it (Linux: payload plus ~832 bytes per skb; RFC 9293 §3.9.1.2 leaves SEND's buffering to the implementation); the writer wakes by Linux's rule, free room >= half of what is queued (sk_stream_is_writeable), so 21000 bytes fit, the ACKs of 10000 and 30000 let more in and 51000 of the 61000 are written when the ACK of 36000 arrives (the rest at 40000). The script records an older kernel's skb layout: Linux 6.18 replaying its segments (a veth pair, a raw-socket peer) keeps the write blocked at 36001 as well (sk_wmem_queued 33984 of 42000: 24000 bytes in 12 skbs) and wakes it at the ACK of 45000 (28320 queued after 40001)",
  },
];

/** The documented deviation a failure matches, if any. */
export function findDeviation(
  path: string | undefined,
  line: number,
  message: string,
): Deviation | undefined {
  if (path === undefined) return undefined;
  const p = path.replace(/\\/g, '/');
  return STACK_DEVIATIONS.find((d) => p.endsWith(d.script) && d.line === line && message.includes(d.match));
}
