/**
 * Segment arrival for an existing connection, RFC 9293 §3.10.7.3 (SYN-SENT) and
 * §3.10.7.4 (all other states), in the RFC's order: check the sequence number, the RST
 * bit, the SYN bit, the ACK field (the sender side, sender.ts), URG, the segment text and
 * the FIN (the receiver side, receiver.ts); with RFC 5961 (blind attacks) and RFC 7323
 * (PAWS).
 */
import { superSegmentGsoSize } from '../wire/gso.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOptions, type TcpRepr } from '../wire/tcp.ts';
import { sizeBuffersOnEstablished } from './buffers.ts';
import { ccContext } from './cc.ts';
import { ecnDataArrived, ecnSynArrived } from './ecn.ts';
import { EV_ESTABLISHED, EV_WRITABLE } from './events.ts';
import { armFinWait2, armKeepalive, enterTimeWait, terminate } from './lifecycle.ts';
import { applySynOptions } from './options.ts';
import { refuseSegment, sendAbortRst, sendAck, sendBareAck, sendRst, sendSyn, tcpOutput } from './output.ts';
import { armDelayedAck, inputWindow, noteDuplicate, receiveText } from './receiver.ts';
import { processAck, rttSample } from './sender.ts';
import { type Seq, seq, seqAdd, seqGe, seqGt, seqLe, seqLt } from './seq.ts';
import { tuneSendBuffer } from './sndbuf-auto.ts';
import { canReceiveData } from './state.ts';
import type { Tcb } from './tcb.ts';
import { releaseAcked, tfoSynAckArrived } from './tfo.ts';

/** RFC 7323 §5.5: TS.Recent is invalid after 24 days idle. */
const PAWS_IDLE = 24 * 24 * 3600 * 1_000_000;

/** Outcomes of the sequence number check. */
const ACCEPTABLE = 0;
const NOT_ACCEPTABLE = 1;
/** Not acceptable, but a zero-window probe at RCV.NXT: its ACK is processed, its text dropped. */
const ZERO_WINDOW_PROBE = 2;

/**
 * Segment arrival for a connection in any state but CLOSED and LISTEN; `ecn`: its IP ECN field;
 * `gso`: the gso size of a super-segment (TSO received whole, or GRO's), 0 for one segment.
 */
export function segmentArrives(
  c: Tcb,
  r: TcpRepr,
  payload: Uint8Array,
  ecn = 0,
  gso = payload.length > 1 ? superSegmentGsoSize(payload) : 0,
): void {
  const now = c.layer.env.clock.now();
  c.segEcn = ecn;
  // A super-segment received whole counts as its segments (Linux tcp_segs_in: gso_segs), by
  // its gso size when known, else by our MSS.
  const len = payload.length;
  c.stats.segsIn += gso > 0 ? Math.ceil(len / gso) : len > c.rcvMss ? Math.ceil(len / c.rcvMss) : 1;
  c.lastRecv = now;
  c.keepaliveProbes = 0;
  if (c.state === 'SYN-SENT') {
    synSent(c, r, payload);
    return;
  }
  const flags = r.flags;
  let segSeq = seq(r.seq);
  const rst = (flags & TCP_RST) !== 0;
  let fin = (flags & TCP_FIN) !== 0;
  let syn = (flags & TCP_SYN) !== 0;
  if (c.tsOk && !rst && !timestampAcceptable(c, r, payload.length, now)) return;

  if (syn && segSeq === c.irs && c.state === 'SYN-RECEIVED') {
    // The peer's SYN again. Without ACK: it lost our SYN-ACK, so send it again. With ACK
    // (simultaneous open, RFC 9293 Figure 8 line 5: "<SEQ=100><ACK=301><CTL=SYN,ACK> -->
    // ESTABLISHED"): the SYN is old; trim it and process the ACK.
    if (!(flags & TCP_ACK)) {
      sendSyn(c);
      return;
    }
    syn = false;
    segSeq = seqAdd(segSeq, 1);
  }

  // ---- first: check sequence number
  const segLen = payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
  let check = checkSequence(c, segSeq, segLen, syn);
  if (check === NOT_ACCEPTABLE && endsAtRcvNxt(c, segSeq, payload.length, flags)) {
    // Deviation from RFC 9293 §3.10.7.4's test (whose last byte must reach RCV.NXT), as
    // Linux does (tcp_sequence accepts a segment whose end_seq is not before rcv_wup): a
    // retransmission ending exactly at RCV.NXT (our ACK of it was lost) is acceptable, so
    // its ACK field is processed (a peer that resends old data with a newer ACK moves our
    // SND.UNA and window at once). Its text is all duplicate: receiveText reports it
    // (D-SACK) and it is acknowledged at once, as before.
    check = ACCEPTABLE;
    c.layer.stats.duplicateAtRcvNxt++;
    if (payload.length > 0) noteDuplicate(c, segSeq, payload.length);
    fin = false; // a FIN ending at RCV.NXT is the one already received
    c.ackNow = true;
  }
  if (check === NOT_ACCEPTABLE) {
    notAcceptable(c, r, segSeq, payload.length, segLen, now);
    return;
  }
  if (check === ZERO_WINDOW_PROBE) {
    c.layer.stats.zeroWindowDrops++;
    payload = payload.subarray(0, 0);
    fin = false;
    c.ackNow = true;
  }
  // ---- second: check the RST bit
  if (rst) {
    rstArrives(c, segSeq);
    return;
  }
  // ---- third: security (RFC 9293 §3.10.7.4): no IP security compartments here.
  // ---- fourth: check the SYN bit
  if (syn) {
    synArrives(c, segSeq);
    return;
  }
  // ---- fifth: check the ACK field
  if (!(flags & TCP_ACK)) return; // "if the ACK bit is off, drop the segment and return"
  if (!ackArrives(c, r, segSeq, payload.length, fin, now)) return;

  // ---- sixth: URG. Deviation: urgent data is not supported; the pointer is ignored and the
  // bytes are delivered inline (as with SO_OOBINLINE).

  // ---- seventh and eighth: segment text, FIN
  // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has been
  // received from the remote side. Ignore the segment text." (acceptability already acked
  // any retransmitted FIN).
  if ((payload.length > 0 || fin) && canReceiveData(c.state)) {
    if (dataAfterClose(c, r, segSeq, payload.length)) return;
    if (payload.length > 0 && c.ecnOk) ecnDataArrived(c, flags, ecn);
    receiveText(c, segSeq, payload, fin);
  }
  // What this segment lets us send (new data the ACK opened the window for, a window
  // update) goes out in the layer's output pass, once per connection after the whole
  // receive batch; an ACK the receiver's policy wants now (every second full-sized
  // segment, quick ACKs, out-of-order data: receiver.ts) goes at once, as before.
  if (c.ackNow || !c.layer.deferOutput(c)) outputAfterInput(c, now);
}

/** The output step of segment arrival: send what may go now, then the delayed-ACK timer. */
export function outputAfterInput(c: Tcb, now: number): void {
  tcpOutput(c);
  // Linux tcp_data_snd_check: tcp_push_pending_frames, then tcp_check_space.
  if (c.sndBufCheck) tuneSendBuffer(c);
  armDelayedAck(c, now);
}

/**
 * RFC 5961 §7: "An implementation SHOULD include an ACK throttling mechanism". Like Linux
 * since 4.7 (tcp_send_challenge_ack): first the connection's own limit, shared with the
 * other replies to invalid segments, then the host-wide one, randomised per second
 * (challenge.ts) so that counting challenge ACKs on another connection tells an off-path
 * attacker nothing (CVE-2016-5696).
 */
function challengeAck(c: Tcb, now: number): void {
  if (oowRateLimited(c, now)) {
    c.layer.stats.challengeAcksSuppressed++;
    return;
  }
  if (c.layer.allowChallengeAck()) {
    c.layer.stats.challengeAcks++;
    sendBareAck(c);
  }
}

/**
 * The connection's limit on replies to invalid segments: at most config.invalidRateBurst
 * per config.invalidRateLimit (Linux __tcp_oow_rate_limited: one per 500 ms; FreeBSD
 * tcp_send_challenge_ack: five per one-second epoch). Returns true when this reply is to be
 * held back.
 */
function oowRateLimited(c: Tcb, now: number): boolean {
  const { invalidRateLimit: window, invalidRateBurst: burst } = c.layer.config;
  if (!(window > 0)) return false;
  if (c.oowWindowEnd === undefined || now >= c.oowWindowEnd) {
    c.oowWindowEnd = now + window;
    c.oowReplies = 0;
  }
  if (c.oowReplies >= burst) return true;
  c.oowReplies++;
  return false;
}

/**
 * The duplicate ACK that answers an invalid segment (out of window, acknowledging unsent
 * data, or failing PAWS), rate-limited per connection so that two ends answering each
 * other's ACKs cannot keep an ACK storm going (RFC 5961 §7; Linux tcp_oow_rate_limited).
 * As in Linux, a segment that occupies sequence space without SYN is answered at once:
 * "Data packets without SYNs are not likely part of an ACK loop", and its duplicate ACK is
 * what a retransmitting sender needs.
 */
function ackInvalid(c: Tcb, occupiesSpace: boolean, syn: boolean, now: number): void {
  if ((!occupiesSpace || syn) && oowRateLimited(c, now)) {
    c.layer.stats.invalidAcksSuppressed++;
    return;
  }
  sendAck(c);
}

/** §3.10.7.3: SYN-SENT. */
function synSent(c: Tcb, r: TcpRepr, payload: Uint8Array): void {
  const flags = r.flags;
  const ack = seq(r.ack);
  // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if
  // so drop the segment and return)"
  if (flags & TCP_ACK && (seqLe(ack, c.iss) || seqGt(ack, c.sndMax))) {
    c.layer.stats.badAck++;
    refuseSegment(c, r, payload.length);
    return;
  }
  if (flags & TCP_RST) {
    // "If the ACK was acceptable, then signal to the user "error: connection reset", drop
    // the segment, enter CLOSED state ... Otherwise (no ACK), drop the segment and return."
    if (flags & TCP_ACK) {
      c.layer.stats.rstReceived++;
      terminate(c, 'refused');
    }
    return;
  }
  if (!(flags & TCP_SYN)) return; // "If neither of the SYN or RST bits is set, then drop"
  c.irs = seq(r.seq);
  c.rcv.nxt = seqAdd(c.irs, 1);
  c.lastAckSent = c.rcv.nxt;
  applySynOptions(c, r.options, true);
  ecnSynArrived(c, flags, (flags & TCP_ACK) !== 0);
  if (flags & TCP_ACK) {
    synAckArrives(c, r, ack, payload);
    return;
  }
  // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>"
  // (simultaneous open). Deviation: text on the bare SYN is dropped; the peer resends it.
  c.state = 'SYN-RECEIVED';
  c.snd.wnd = r.window;
  c.snd.wl1 = c.irs;
  c.snd.wl2 = c.iss;
  c.snd.nxt = c.iss;
  c.cancelRtx();
  sendSyn(c);
}

/** §3.10.7.3: SYN-SENT, an acceptable SYN-ACK: "our SYN has been ACKed". */
function synAckArrives(c: Tcb, r: TcpRepr, ack: Seq, payload: Uint8Array): void {
  const layer = c.layer;
  rttSample(c, r, ack);
  c.snd.una = ack;
  c.rtxCount = 0;
  // RFC 7413: what the SYN-ACK says of our SYN's data and cookie (tfo.ts).
  if (c.tfoSyn || seqGt(ack, seqAdd(c.iss, 1))) tfoSynAckArrived(c, r, ack);
  // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to ESTABLISHED"
  c.state = 'ESTABLISHED';
  sizeBuffersOnEstablished(c); // the MSS is now known (profile sockBufRounding)
  c.cancelRtx();
  // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
  // implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to
  // 3 seconds when data transmission begins".
  if (c.rtt.srtt === undefined && c.stats.retransmits > 0)
    c.rtt.reset(Math.max(3_000_000, layer.config.initialRto));
  else c.rtt.resetBackoff();
  // RFC 7323 §2.2: the SYN-ACK's window is not scaled.
  c.snd.wnd = r.window;
  c.maxSndWnd = Math.max(c.maxSndWnd, c.snd.wnd);
  c.snd.wl1 = c.irs;
  c.snd.wl2 = ack;
  c.rcvAdv = seqAdd(c.rcv.nxt, c.rcv.wnd);
  c.pending |= EV_ESTABLISHED | EV_WRITABLE;
  c.cc.init?.(ccContext(c)); // Linux tcp_init_transfer → tcp_init_congestion_control
  layer.stats.established++;
  armKeepalive(c);
  c.ackNow = true;
  // "form an ACK segment ... If there are other controls or text in the segment, then
  // continue processing at the sixth step below where the URG bit is checked"
  if (payload.length > 0 || r.flags & TCP_FIN)
    receiveText(c, seqAdd(c.irs, 1), payload, (r.flags & TCP_FIN) !== 0);
  else if (c.sndBuf.length === 0 && c.events?.onEstablished !== undefined) {
    // "Data or controls that were queued for transmission MAY be included." Linux holds this
    // ACK while a writer waits for the connection (tcp_rcv_synsent_state_process,
    // sk_write_pending: "Save one ACK"). Here that writer is the established event's
    // callback, run in this poll at this same instant: the ACK waits for it
    // (TcpConnection.deliverEvents) and rides on what it sends, or goes bare after it.
    c.handshakeAckHeld = true;
    return;
  }
  tcpOutput(c);
}

/**
 * Timestamps on a non-<RST> segment of a connection that negotiated them (RFC 7323 §3.2,
 * §5.3 PAWS). Returns false when the segment is to be dropped (after an ACK, for PAWS).
 */
function timestampAcceptable(c: Tcb, r: TcpRepr, textLen: number, now: number): boolean {
  const ts = r.options.timestamps;
  if (!ts) {
    // RFC 7323 §3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD
    // silently drop the segment." Linux processes it (PAWS needs the option), so a blind SYN
    // without one still draws its challenge ACK there (profile missingTimestamp).
    if (c.layer.config.tolerateMissingTs) return true;
    c.layer.stats.missingTimestamp++;
    return false;
  }
  // RFC 7323 §5.3 R1 (PAWS): "If ... SEG.TSval < TS.Recent, TS.Recent is valid ..., and the
  // RST bit is not set, then treat the arriving segment as not acceptable".
  if (((ts.tsVal - c.tsRecent) | 0) < 0) {
    if (now - c.tsRecentAge > PAWS_IDLE) {
      // §5.5: a TS.Recent idle that long is invalid, so PAWS does not apply. It is not
      // replaced here: like any other, this segment moves it only if it passes the
      // sequence and ACK checks (updateTsRecent), as in Linux (tcp_paws_check, then
      // tcp_replace_ts_recent), so a blind segment cannot poison it.
      c.layer.stats.pawsStaleAccepted++;
    } else {
      c.layer.stats.pawsDrops++;
      const syn = (r.flags & TCP_SYN) !== 0;
      if (syn && synChallengeState(c)) {
        // RFC 5961 §4.2, as Linux (tcp_validate_incoming: a SYN failing PAWS goes to
        // syn_challenge): the challenge ACK, under both its limits.
        c.layer.stats.synChallenges++;
        challengeAck(c, now);
        return false;
      }
      // Linux tcp_send_dupack: the dropped text below RCV.NXT is reported as a D-SACK (RFC
      // 2883 §4), so the sender can undo the retransmission that overtook this original.
      if (textLen > 0 && c.layer.config.pawsDsack) noteDuplicate(c, seq(r.seq), textLen);
      ackInvalid(c, textLen > 0 || syn || (r.flags & TCP_FIN) !== 0, syn, now);
      return false;
    }
  }
  return true;
}

/**
 * The states where a SYN that fails the sequence or PAWS check is challenged (RFC 5961 §4.2):
 * the synchronized ones but TIME-WAIT, which Linux answers with a plain ACK under the
 * connection's own limit (tcp_timewait_state_process), as before.
 */
function synChallengeState(c: Tcb): boolean {
  return c.state !== 'SYN-RECEIVED' && c.state !== 'TIME-WAIT';
}

/**
 * A duplicate (text, a FIN, or both; no SYN or RST) whose end, the FIN included, is exactly
 * RCV.NXT, in a state that still takes the peer's data or its duplicates (TIME-WAIT keeps its
 * own rules). Linux's tcp_sequence measures end_seq with the FIN; FreeBSD's tcp_input trims a
 * duplicate FIN ("Any valid FIN must be to the left of the window") and still processes the ACK.
 */
function endsAtRcvNxt(c: Tcb, segSeq: Seq, textLen: number, flags: number): boolean {
  const fin = (flags & TCP_FIN) !== 0;
  return (
    (textLen > 0 || fin) &&
    (flags & (TCP_SYN | TCP_RST)) === 0 &&
    c.state !== 'TIME-WAIT' &&
    c.state !== 'SYN-RECEIVED' &&
    seqAdd(segSeq, textLen + (fin ? 1 : 0)) === c.rcv.nxt
  );
}

/** §3.10.7.4 first: the four-case acceptability test against RCV.NXT and RCV.WND (inputWindow). */
function checkSequence(c: Tcb, segSeq: Seq, segLen: number, syn: boolean): number {
  const wnd = inputWindow(c);
  if (segLen === 0) {
    const ok =
      wnd === 0 ? segSeq === c.rcv.nxt : seqLe(c.rcv.nxt, segSeq) && seqLt(segSeq, seqAdd(c.rcv.nxt, wnd));
    return ok ? ACCEPTABLE : NOT_ACCEPTABLE;
  }
  if (wnd === 0) {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
    // made to accept valid ACKs, URGs, and RSTs." A probe at RCV.NXT keeps its ACK.
    return segSeq === c.rcv.nxt && !syn ? ZERO_WINDOW_PROBE : NOT_ACCEPTABLE;
  }
  const end = seqAdd(c.rcv.nxt, wnd);
  const last = seqAdd(segSeq, segLen - 1);
  const ok = (seqLe(c.rcv.nxt, segSeq) && seqLt(segSeq, end)) || (seqLe(c.rcv.nxt, last) && seqLt(last, end));
  return ok ? ACCEPTABLE : NOT_ACCEPTABLE;
}

/**
 * "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
 * (unless the RST bit is set, if so drop the segment and return)"
 */
function notAcceptable(c: Tcb, r: TcpRepr, segSeq: Seq, textLen: number, segLen: number, now: number): void {
  c.layer.stats.outOfWindow++;
  if (r.flags & TCP_RST) return;
  if (r.flags & TCP_SYN && synChallengeState(c)) {
    // RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence number, TCP MUST
    // send an ACK (also referred to as challenge ACK) to the remote peer". Like Linux
    // (tcp_validate_incoming's syn_challenge), an out-of-window SYN in a synchronized
    // state takes the challenge-ACK path, under both its limits.
    c.layer.stats.synChallenges++;
    challengeAck(c, now);
    return;
  }
  if (c.state === 'TIME-WAIT' && r.flags & TCP_FIN) {
    // §3.10.7.4 eighth: "TIME-WAIT STATE: Remain in the TIME-WAIT state. Restart the 2 MSL time-out."
    enterTimeWait(c);
  }
  if (textLen > 0) noteDuplicate(c, segSeq, textLen);
  const ts = r.options.timestamps;
  if (
    c.tsOk &&
    ts &&
    segLen > 0 &&
    seqLe(segSeq, c.lastAckSent) &&
    seqLe(c.lastAckSent, seqAdd(segSeq, segLen)) &&
    ackAcceptable(c, r)
  ) {
    // A retransmission of the data our last ACK covered (that ACK was lost). RFC 7323 §4.3
    // (2): TS.Recent takes the TSval of a segment that covers Last.ACK.sent ("SEG.SEQ <=
    // Last.ACK.sent < SEG.SEQ + SEG.LEN", here with the end inclusive, as Linux's
    // tcp_sequence accepts a segment ending at rcv_wup), and echoing it in the duplicate
    // ACK is what lets the sender measure the real RTT: echoing the stale TS.Recent makes it
    // sample an RTT that includes its backed-off timeouts, and SRTT balloons. As in Linux
    // (tcp_replace_ts_recent, called from tcp_ack), only when its ACK is acceptable: a blind
    // segment that merely lands below RCV.NXT must not move TS.Recent, or PAWS would then
    // drop everything the real peer sends.
    if (tsNotOlder(c, ts.tsVal, now)) {
      c.tsRecent = ts.tsVal;
      c.tsRecentAge = now;
    }
  }
  ackInvalid(c, segLen > 0, (r.flags & TCP_SYN) !== 0, now);
}

/**
 * RFC 5961 §5.2 and RFC 9293 §3.10.7.4 fifth: an ACK bit with "(SND.UNA - MAX.SND.WND) <=
 * SEG.ACK <= SND.NXT" (as ackArrives tests it).
 */
function ackAcceptable(c: Tcb, r: TcpRepr): boolean {
  if (!(r.flags & TCP_ACK)) return false;
  const ack = seq(r.ack);
  return seqLe(ack, c.sndMax) && seqGe(ack, seqAdd(c.snd.una, -Math.max(c.maxSndWnd, 65535)));
}

/** §3.10.7.4 second: check the RST bit (RFC 5961 §3.2). */
function rstArrives(c: Tcb, segSeq: Seq): void {
  const stats = c.layer.stats;
  // config.rfc5961Rst off (FreeBSD net.inet.tcp.insecure_rst): RFC 793's rule, any RST in the
  // window resets.
  if (segSeq !== c.rcv.nxt && c.layer.config.rfc5961Rst) {
    // "If the RST bit is set and the sequence number does not exactly match the next
    // expected sequence value, yet is within the current receive window, then the receiver
    // MUST send an ACK (challenge ACK)"
    challengeAck(c, c.layer.env.clock.now());
    return;
  }
  stats.rstReceived++;
  switch (c.state) {
    case 'SYN-RECEIVED':
      // "If this connection was initiated with a passive OPEN ... return this connection to
      // LISTEN state" (the listener stays; this embryo goes). Active: "connection refused".
      terminate(c, c.active ? 'refused' : 'reset');
      return;
    case 'ESTABLISHED':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
    case 'CLOSE-WAIT':
      stats.resets++;
      terminate(c, 'reset');
      return;
    case 'TIME-WAIT':
      if (c.layer.config.rfc1337) {
        // RFC 1337 §3 (TIME-WAIT Assassination): "ignore RST segments in TIME-WAIT state".
        stats.timeWaitRstIgnored++;
        return;
      }
      // §3.10.7.4: "enter the CLOSED state, delete the TCB, and return"
      terminate(c, undefined);
      return;
    default:
      // CLOSING, LAST-ACK: "enter the CLOSED state, delete the TCB, and return". The user
      // may still hold the socket (after shutdown()): like Linux and FreeBSD, it reads
      // ECONNRESET (SO_ERROR) rather than an orderly end.
      terminate(c, 'reset');
      return;
  }
}

/** §3.10.7.4 fourth: check the SYN bit (RFC 5961 §4.2). */
function synArrives(c: Tcb, segSeq: Seq): void {
  if (c.state === 'SYN-RECEIVED' && !c.active) {
    // §3.10.7.4: "If the connection was initiated with a passive OPEN, then return this
    // connection to the LISTEN state and return."
    terminate(c, 'reset');
    return;
  }
  if (!c.layer.config.rfc5961Syn && seqGe(segSeq, c.rcv.nxt) && seqLt(segSeq, c.rcvAdv)) {
    // FreeBSD net.inet.tcp.insecure_syn (RFC 793's rule): an in-window SYN is an error that
    // ends the connection, with a RST to the peer (tcp_drop).
    c.layer.stats.resets++;
    sendAbortRst(c);
    terminate(c, 'reset');
    return;
  }
  // RFC 5961 §4.2: "the receiver MUST send an ACK (challenge ACK) to the remote peer"
  challengeAck(c, c.layer.env.clock.now());
}

/**
 * §3.10.7.4 fifth: check the ACK field (the ACK bit is on). Returns whether processing goes
 * on to the text (false: the segment was dropped, or the connection ended).
 */
function ackArrives(c: Tcb, r: TcpRepr, segSeq: Seq, textLen: number, fin: boolean, now: number): boolean {
  const ack = seq(r.ack);
  if (c.state === 'SYN-RECEIVED') return synReceivedAck(c, r, segSeq, ack, textLen, fin, now);
  // RFC 5961 §5.2: "(SND.UNA - MAX.SND.WND) <= SEG.ACK <= SND.NXT" else "discarded and an
  // ACK sent back". §3.10.7.4: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT)
  // then send an ACK, drop the segment, and return."
  if (seqGt(ack, c.sndMax)) {
    c.layer.stats.ackOfUnsent++;
    // config.silentAckOfUnsent: Linux discards it without a reply (tcp_ack:
    // SKB_DROP_REASON_TCP_ACK_UNSENT_DATA); neither its data nor its timestamp is taken.
    if (!c.layer.config.silentAckOfUnsent) ackInvalid(c, textLen > 0 || fin, false, now);
    return false;
  }
  if (seqLt(ack, seqAdd(c.snd.una, -Math.max(c.maxSndWnd, 65535)))) {
    c.layer.stats.ackTooOld++;
    challengeAck(c, now);
    return false;
  }
  updateTsRecent(c, r.options.timestamps, segSeq, now);
  const segTextLen = textLen + (fin ? 1 : 0);
  processAck(c, r, segSeq, ack, segTextLen);
  return ackInClosingStates(c, segSeq, ack, segTextLen);
}

/** §3.10.7.4 fifth, SYN-RECEIVED: the ACK that completes the handshake. */
function synReceivedAck(
  c: Tcb,
  r: TcpRepr,
  segSeq: Seq,
  ack: Seq,
  textLen: number,
  fin: boolean,
  now: number,
): boolean {
  const stats = c.layer.stats;
  // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
  // acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>"
  if (!(seqLt(c.snd.una, ack) && seqLe(ack, c.sndMax))) {
    stats.badAck++;
    refuseSegment(c, r, textLen);
    return false;
  }
  const defer = c.opts.deferAccept ?? 0;
  // A Fast Open child sits in the accept queue already (listen.ts): nothing is held back.
  const held = c.parent !== undefined && !c.tfoChild;
  if (held && defer > 0 && textLen === 0 && !fin && c.rtxCount < defer) {
    // TCP_DEFER_ACCEPT (Linux tcp_check_req): a bare ACK does not complete the handshake
    // while the deferring period lasts; data (or a later ACK) will.
    c.deferAcked = true;
    stats.deferredAcks++;
    return false;
  }
  if (held && !c.parent!.hasAcceptRoom()) {
    // Like Linux: drop the completing ACK while the accept queue is full; our SYN-ACK
    // retransmission gives the application time to accept.
    stats.backlogDrops++;
    return false;
  }
  updateTsRecent(c, r.options.timestamps, segSeq, now);
  rttSample(c, r, ack);
  c.rtxCount = 0;
  c.state = c.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED';
  sizeBuffersOnEstablished(c); // the MSS is now known (profile sockBufRounding)
  c.snd.una = ack;
  // A Fast Open server may have sent data after its SYN-ACK (tfo.ts): what this acknowledges goes.
  if (seqGt(ack, seqAdd(c.iss, 1))) releaseAcked(c, ack);
  c.cancelRtx();
  c.snd.wnd = r.window << c.sndWscale;
  c.maxSndWnd = Math.max(c.maxSndWnd, c.snd.wnd);
  c.snd.wl1 = segSeq;
  c.snd.wl2 = ack;
  stats.established++;
  armKeepalive(c);
  c.pending |= EV_ESTABLISHED | EV_WRITABLE;
  c.cc.init?.(ccContext(c)); // Linux tcp_init_transfer → tcp_init_congestion_control
  if (held) c.parent!.established(c);
  // Data a Fast Open server sent before this ACK and that is still unacknowledged is timed again.
  if (c.tfoChild && seqGt(c.sndMax, c.snd.una)) c.armRto(now + c.rtt.rto);
  return true;
}

/**
 * §3.10.7.4 fifth, the states after our FIN: what its acknowledgment changes. Returns false
 * when the connection ended.
 */
function ackInClosingStates(c: Tcb, segSeq: Seq, ack: Seq, textLen: number): boolean {
  switch (c.state) {
    case 'FIN-WAIT-1':
      // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and continue processing"
      if (c.finAcked) {
        c.state = 'FIN-WAIT-2';
        armFinWait2(c);
      }
      return true;
    case 'CLOSING':
      // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the segment"
      if (c.finAcked) enterTimeWait(c);
      return true;
    case 'LAST-ACK':
      // "The only thing that can arrive in this state is an acknowledgment of our FIN. If our FIN
      // is now acknowledged, delete the TCB, enter the CLOSED state, and return."
      if (c.finAcked) {
        terminate(c, undefined);
        return false;
      }
      return true;
    case 'TIME-WAIT':
      // "The only thing that can arrive in this state is a retransmission of the remote FIN.
      // Acknowledge it". Like Linux (tcp_timewait_state_process) and FreeBSD (tcp_twcheck),
      // anything but a bare duplicate ACK at RCV.NXT is acknowledged too.
      if (segSeq !== c.rcv.nxt || textLen > 0 || ack !== c.sndMax) c.ackNow = true;
      return true;
    default:
      return true;
  }
}

/**
 * RFC 7323 §4.3: "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent then SEG.TSval is
 * copied to TS.Recent; otherwise, it is ignored." Like Linux (tcp_ack's
 * FLAG_UPDATE_TS_RECENT) and unlike a literal reading of the RFC's order, only once the
 * segment's ACK was found acceptable: a segment that acknowledges unsent (or ancient) data
 * is dropped and must not move TS.Recent, or a blind or broken one could poison it.
 */
function updateTsRecent(c: Tcb, ts: TcpOptions['timestamps'], segSeq: Seq, now: number): void {
  if (c.tsOk && ts && tsNotOlder(c, ts.tsVal, now) && seqLe(segSeq, c.lastAckSent)) {
    c.tsRecent = ts.tsVal;
    c.tsRecentAge = now;
  }
}

/** SEG.TSval >= TS.Recent, or TS.Recent is invalid (RFC 7323 §5.5: idle over 24 days). */
function tsNotOlder(c: Tcb, tsVal: number, now: number): boolean {
  return ((tsVal - c.tsRecent) | 0) >= 0 || now - c.tsRecentAge > PAWS_IDLE;
}

/**
 * RFC 1122 §4.2.2.13: "if new data is received after CLOSE is called, its TCP SHOULD send a
 * RST to show that data was lost." It takes the form RFC 9293 §3.10.7.1 gives a reset
 * answering a segment, <SEQ=SEG.ACK><CTL=RST>, as Linux (tcp_v4_send_reset) and FreeBSD
 * (tcp_dropwithreset) send it: SEG.ACK is the one sequence number this peer is sure to find
 * acceptable, even when it has not yet seen our FIN. Returns true when the connection ended.
 */
function dataAfterClose(c: Tcb, r: TcpRepr, segSeq: Seq, textLen: number): boolean {
  // New data only (Linux: after(end_seq - fin, rcv_nxt)): a duplicate ending at RCV.NXT is not.
  if (!(c.orphan && textLen > 0 && seqGt(seqAdd(segSeq, textLen), c.rcv.nxt))) return false;
  c.layer.stats.dataAfterClose++;
  sendRst(c, seq(r.ack));
  terminate(c, 'aborted');
  return true;
}
