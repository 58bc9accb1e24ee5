/**
 * Segment arrival for an existing connection, RFC 9293 §3.10.7.3 (SYN-SENT) and
 * §3.10.7.4 (all other states), with RFC 5961 (blind attacks), RFC 7323 (PAWS),
 * RFC 2018/6675 (SACK) and RFC 5681/6582 (fast retransmit, NewReno).
 */
import {
  type SackBlock,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  type TcpOptions,
  type TcpRepr,
} from '../wire/tcp.ts';
import { ccContext } from './cc.ts';
import { EV_END, EV_ESTABLISHED, EV_READABLE, EV_WRITABLE } from './events.ts';
import { armFinWait2, armKeepalive, enterTimeWait, terminate } from './lifecycle.ts';
import { applySynOptions } from './options.ts';
import {
  refuseSegment,
  retransmitFirst,
  sendAck,
  sendDataAt,
  sendRst,
  sendSyn,
  tcpOutput,
  tsNow,
} from './output.ts';
import { type Seq, seq, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.ts';
import { canReceiveData } from './state.ts';
import type { Tcb } from './tcb.ts';
import { scheduleLossProbe, settleLossProbe, tlpProcessAck } from './tlp.ts';

/** RFC 7323 §5.5: TS.Recent is invalid after 24 days idle. */
const PAWS_IDLE = 24 * 24 * 3600 * 1_000_000;

function rttSample(c: Tcb, r: TcpRepr, ack: Seq): void {
  const ts = r.options.timestamps;
  let sample = -1;
  if (c.tsOk && ts && ts.tsEcr !== 0) {
    // RFC 7323 §4.1: RTTM from the echoed timestamp (ms ticks).
    const ms = (tsNow(c) - ts.tsEcr) | 0;
    if (ms >= 0) sample = Math.max(ms, 0) * 1000;
  } else if (c.rttTiming && seqGt(ack, c.rttSeq)) {
    sample = c.layer.env.clock.now() - c.rttStart;
  }
  if (c.rttTiming && seqGt(ack, c.rttSeq)) c.rttTiming = false;
  if (sample >= 0) {
    c.rtt.sample(sample);
    if (c.minRtt === 0 || sample < c.minRtt) c.minRtt = sample;
  }
}

/** RFC 5961 §7: challenge ACKs are rate-limited layer-wide. */
function challengeAck(c: Tcb): void {
  if (c.layer.allowChallengeAck()) {
    c.layer.stats.challengeAcks++;
    sendAck(c);
  }
}

/** §3.10.7.3: SYN-SENT. */
function synSent(c: Tcb, r: TcpRepr, payload: Uint8Array): void {
  const layer = c.layer;
  const flags = r.flags;
  const ack = seq(r.ack);
  // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if
  // so drop the segment and return)"
  if (flags & TCP_ACK && (seqLe(ack, c.iss) || seqGt(ack, c.sndMax))) {
    layer.stats.badAck++;
    refuseSegment(c, r, payload.length);
    return;
  }
  if (flags & TCP_RST) {
    // "If the ACK was acceptable, then signal to the user "error: connection reset", drop
    // the segment, enter CLOSED state ... Otherwise (no ACK), drop the segment and return."
    if (flags & TCP_ACK) {
      layer.stats.rstReceived++;
      terminate(c, 'refused');
    }
    return;
  }
  if (!(flags & TCP_SYN)) return; // "If neither of the SYN or RST bits is set, then drop"
  c.irs = seq(r.seq);
  c.rcv.nxt = seqAdd(c.irs, 1);
  c.lastAckSent = c.rcv.nxt;
  applySynOptions(c, r.options, true);
  if (flags & TCP_ACK) {
    rttSample(c, r, ack);
    c.snd.una = ack;
    c.rtxCount = 0;
    // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to ESTABLISHED"
    c.state = 'ESTABLISHED';
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
    c.layer.stats.established++;
    armKeepalive(c);
    c.ackNow = true;
    // "form an ACK segment ... If there are other controls or text in the segment, then
    // continue processing at the sixth step below where the URG bit is checked"
    if (payload.length > 0 || flags & TCP_FIN)
      receiveText(c, seqAdd(c.irs, 1), payload, (flags & TCP_FIN) !== 0);
    tcpOutput(c);
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

/** Segment arrival for a connection in any state but CLOSED and LISTEN. */
export function segmentArrives(c: Tcb, r: TcpRepr, payload: Uint8Array): void {
  const layer = c.layer;
  const stats = layer.stats;
  const now = layer.env.clock.now();
  c.stats.segsIn++;
  c.lastRecv = now;
  c.keepaliveProbes = 0;
  if (c.state === 'SYN-SENT') {
    synSent(c, r, payload);
    return;
  }
  const flags = r.flags;
  let segSeq = seq(r.seq);
  const ack = seq(r.ack);
  const rst = (flags & TCP_RST) !== 0;
  let fin = (flags & TCP_FIN) !== 0;
  let syn = (flags & TCP_SYN) !== 0;
  const ts = r.options.timestamps;

  if (c.tsOk && !rst) {
    if (!ts) {
      // RFC 7323 §3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD
      // silently drop the segment."
      stats.missingTimestamp++;
      return;
    }
    // RFC 7323 §5.3 R1 (PAWS): "If ... SEG.TSval < TS.Recent, TS.Recent is valid ..., and the
    // RST bit is not set, then treat the arriving segment as not acceptable".
    if (((ts.tsVal - c.tsRecent) | 0) < 0) {
      if (now - c.tsRecentAge > PAWS_IDLE) {
        c.tsRecent = ts.tsVal; // R3: invalid (stale) TS.Recent
      } else {
        stats.pawsDrops++;
        sendAck(c);
        return;
      }
    }
  }

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

  // ---- first: check sequence number (§3.10.7.4, the four-case acceptability test)
  const segLen = payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
  const wnd = Math.max(0, seqSub(c.rcvAdv, c.rcv.nxt));
  let acceptable: boolean;
  let zeroWindowProbe = false;
  if (segLen === 0) {
    acceptable =
      wnd === 0 ? segSeq === c.rcv.nxt : seqLe(c.rcv.nxt, segSeq) && seqLt(segSeq, seqAdd(c.rcv.nxt, wnd));
  } else if (wnd === 0) {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
    // made to accept valid ACKs, URGs, and RSTs." A probe at RCV.NXT keeps its ACK.
    acceptable = false;
    if (segSeq === c.rcv.nxt && !syn) zeroWindowProbe = true;
  } else {
    const end = seqAdd(c.rcv.nxt, wnd);
    const last = seqAdd(segSeq, segLen - 1);
    acceptable =
      (seqLe(c.rcv.nxt, segSeq) && seqLt(segSeq, end)) || (seqLe(c.rcv.nxt, last) && seqLt(last, end));
  }
  if (!acceptable && !zeroWindowProbe) {
    stats.outOfWindow++;
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
    // (unless the RST bit is set, if so drop the segment and return)"
    if (rst) return;
    if (c.state === 'TIME-WAIT' && fin) {
      // §3.10.7.4 eighth: "TIME-WAIT STATE: Remain in the TIME-WAIT state. Restart the 2 MSL time-out."
      enterTimeWait(c);
    }
    if (payload.length > 0) noteDuplicate(c, segSeq, payload.length);
    if (c.tsOk && ts && segLen > 0 && seqLe(seqAdd(segSeq, segLen), c.rcv.nxt)) {
      // A retransmission of data we already have (our ACKs were lost). RFC 7323 §4.3 (2)
      // holds for it ("SEG.SEQ <= Last.ACK.sent"), and echoing its TSval in the duplicate ACK
      // is what lets the sender measure the real RTT: echoing the stale TS.Recent instead
      // makes the sender sample an RTT that includes its backed-off timeouts, and SRTT
      // balloons. Linux accepts such a segment when it ends at RCV.NXT (tcp_sequence checks
      // the end against rcv_wup) and updates ts_recent; we take any duplicate no more than
      // a receive buffer behind RCV.NXT (blind injection would need that much guessing).
      if (((ts.tsVal - c.tsRecent) | 0) >= 0 && seqSub(c.rcv.nxt, segSeq) <= c.rcvBuf.limit + 0xffff) {
        c.tsRecent = ts.tsVal;
        c.tsRecentAge = now;
      }
    }
    sendAck(c);
    return;
  }
  if (zeroWindowProbe) {
    stats.zeroWindowDrops++;
    payload = payload.subarray(0, 0);
    fin = false;
    c.ackNow = true;
  }
  // ---- second: check the RST bit (RFC 5961 §3.2)
  if (rst) {
    if (segSeq !== c.rcv.nxt) {
      // "If the RST bit is set and the sequence number does not exactly match the next
      // expected sequence value, yet is within the current receive window, then the receiver
      // MUST send an ACK (challenge ACK)"
      challengeAck(c);
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
        if (layer.config.rfc1337) {
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

  // ---- fourth: check the SYN bit (RFC 5961 §4.2)
  if (syn) {
    if (c.state === 'SYN-RECEIVED' && !c.active) {
      // §3.10.7.4: "If the connection was initiated with a passive OPEN, then return this
      // connection to the LISTEN state and return."
      terminate(c, 'reset');
      return;
    }
    // RFC 5961 §4.2: "the receiver MUST send an ACK (challenge ACK) to the remote peer"
    challengeAck(c);
    return;
  }

  // ---- fifth: check the ACK field
  if (!(flags & TCP_ACK)) return; // "if the ACK bit is off, drop the segment and return"
  if (c.state === 'SYN-RECEIVED') {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
    // acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>"
    if (!(seqLt(c.snd.una, ack) && seqLe(ack, c.sndMax))) {
      stats.badAck++;
      refuseSegment(c, r, payload.length);
      return;
    }
    const defer = c.opts.deferAccept ?? 0;
    if (c.parent && defer > 0 && payload.length === 0 && !fin && c.rtxCount < defer) {
      // TCP_DEFER_ACCEPT (Linux tcp_check_req): a bare ACK does not complete the handshake
      // while the deferring period lasts; data (or a later ACK) will.
      c.deferAcked = true;
      stats.deferredAcks++;
      return;
    }
    if (c.parent && !c.parent.hasAcceptRoom()) {
      // Like Linux: drop the completing ACK while the accept queue is full; our SYN-ACK
      // retransmission gives the application time to accept.
      stats.backlogDrops++;
      return;
    }
    updateTsRecent(c, ts, segSeq, now);
    rttSample(c, r, ack);
    c.rtxCount = 0;
    c.state = c.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED';
    c.snd.una = ack;
    c.cancelRtx();
    c.snd.wnd = r.window << c.sndWscale;
    c.maxSndWnd = Math.max(c.maxSndWnd, c.snd.wnd);
    c.snd.wl1 = segSeq;
    c.snd.wl2 = ack;
    stats.established++;
    armKeepalive(c);
    c.pending |= EV_ESTABLISHED | EV_WRITABLE;
    if (c.parent) c.parent.established(c);
  } else {
    // RFC 5961 §5.2: "(SND.UNA - MAX.SND.WND) <= SEG.ACK <= SND.NXT" else "discarded and an
    // ACK sent back". §3.10.7.4: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT)
    // then send an ACK, drop the segment, and return."
    if (seqGt(ack, c.sndMax)) {
      stats.ackOfUnsent++;
      sendAck(c);
      return;
    }
    if (seqLt(ack, seqAdd(c.snd.una, -Math.max(c.maxSndWnd, 65535)))) {
      stats.ackTooOld++;
      challengeAck(c);
      return;
    }
    updateTsRecent(c, ts, segSeq, now);
    if (processAck(c, r, segSeq, ack, payload.length + (fin ? 1 : 0))) return;
  }

  // ---- sixth: URG. Deviation: urgent data is not supported; the pointer is ignored and the
  // bytes are delivered inline (as with SO_OOBINLINE).

  // ---- seventh and eighth: segment text, FIN
  if (payload.length > 0 || fin) {
    const st = c.state;
    if (canReceiveData(st)) {
      if (c.orphan && payload.length > 0 && seqGe(seqAdd(segSeq, payload.length), c.rcv.nxt)) {
        // RFC 1122 §4.2.2.13: "if new data is received after CLOSE is called, its TCP SHOULD
        // send a RST to show that data was lost." It takes the form RFC 9293 §3.10.7.1 gives
        // a reset answering a segment, <SEQ=SEG.ACK><CTL=RST>, as Linux (tcp_v4_send_reset)
        // and FreeBSD (tcp_dropwithreset) send it: SEG.ACK is the one sequence number this
        // peer is sure to find acceptable, even when it has not yet seen our FIN.
        stats.dataAfterClose++;
        sendRst(c, ack);
        terminate(c, 'aborted');
        return;
      }
      segSeq = receiveText(c, segSeq, payload, fin);
    }
    // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has been
    // received from the remote side. Ignore the segment text." (acceptability already acked
    // any retransmitted FIN).
  }
  tcpOutput(c);
  // Data received but not yet acknowledged: the delayed-ACK timer owes the peer an ACK.
  if (c.rcv.nxt !== c.lastAckSent && !c.ackNow && !c.delackArmed && c.state !== 'CLOSED') {
    c.delackTimer.set(now + layer.config.delayedAckTimeout);
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
  if (c.tsOk && ts && ((ts.tsVal - c.tsRecent) | 0) >= 0 && seqLe(segSeq, c.lastAckSent)) {
    c.tsRecent = ts.tsVal;
    c.tsRecentAge = now;
  }
}

/**
 * RFC 2883 §4: the first SACK block is a D-SACK when it lies at or below SEG.ACK, or inside
 * the second block.
 */
function isDsack(sack: readonly SackBlock[] | undefined, ack: Seq): boolean {
  if (!sack || sack.length === 0) return false;
  const b = sack[0]!;
  if (seqLe(seq(b.right), ack)) return true;
  const n = sack[1];
  return n !== undefined && seqGe(seq(b.left), seq(n.left)) && seqLe(seq(b.right), seq(n.right));
}

/**
 * ACK processing for synchronized states (§3.10.7.4 fifth step). Returns true when the
 * segment is finished with (connection closed).
 */
function processAck(c: Tcb, r: TcpRepr, segSeq: Seq, ack: Seq, textLen: number): boolean {
  const layer = c.layer;
  const stats = layer.stats;
  const newWnd = r.window << c.sndWscale;
  const sack = c.sackOk ? r.options.sack : undefined;
  const flightBefore = seqSub(c.sndMax, c.snd.una);
  // SACKed bytes above SEG.ACK before this segment, to tell whether it brings new SACK information.
  let oldSacked = 0;
  if (sack && sack.length > 0) {
    if (c.hasScoreboard) {
      oldSacked = c.scoreboard.sackedBytes;
      if (seqLt(c.snd.una, ack)) oldSacked -= c.scoreboard.sackedIn(c.snd.una, ack);
    }
    c.scoreboard.update(sack, seqMax(ack, c.snd.una));
  }
  if (seqLt(c.snd.una, ack)) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK."
    const acked = seqSub(ack, c.snd.una);
    rttSample(c, r, ack);
    c.rtxCount = 0;
    c.error = undefined;
    const dataAcked = Math.min(c.sndBuf.length, Math.max(0, seqSub(ack, c.sndBufSeq)));
    if (dataAcked > 0) {
      c.sndBuf.consume(dataAcked);
      c.sndBufSeq = seqAdd(c.sndBufSeq, dataAcked);
      c.stats.bytesAcked += dataAcked;
    }
    c.snd.una = ack;
    if (seqLt(c.snd.nxt, ack)) c.snd.nxt = ack;
    if (c.hasScoreboard) c.scoreboard.advance(ack);
    if (c.inRecovery) {
      if (seqGe(ack, c.recover)) {
        // RFC 6582 §3.2 step 3 (full acknowledgment) / RFC 6675 §5: leave recovery.
        c.inRecovery = false;
        c.nrInflate = 0;
        c.dupAcks = 0;
        c.cc.onExitRecovery(ccContext(c));
      } else if (!c.sackOk) {
        // RFC 6582 §3.2 step 3 (partial acknowledgment): "retransmit the first unacknowledged
        // segment ... deflate the congestion window by the amount of new data acknowledged ...
        // If the partial ACK acknowledges at least one SMSS of new data, then add back SMSS".
        retransmitFirst(c);
        stats.partialAckRetransmits++;
        c.nrInflate -= acked;
        if (acked >= c.mss) c.nrInflate += c.mss;
        if (c.cc.cwnd + c.nrInflate < c.mss) c.nrInflate = c.mss - c.cc.cwnd;
        c.armRto(layer.env.clock.now() + c.rtt.rto);
      }
    } else if (
      // RFC 6675 §2: with SACK an ACK that "contains previously unknown SACK information" is a
      // duplicate, and §5 handles it "regardless of its status as a cumulative acknowledgment":
      // DupAcks is reset to zero and counts it, and "(2) If DupAcks < DupThresh but IsLost
      // (HighACK + 1) returns true ... go to step (4)" (fast retransmit, as Linux does).
      sack !== undefined &&
      sack.length > 0 &&
      textLen === 0 &&
      c.sndMax !== c.snd.una &&
      c.scoreboard.sackedBytes > oldSacked &&
      seqGt(ack, c.recover) &&
      c.scoreboard.isLost(c.snd.una, c.mss)
    ) {
      c.dupAcks = 1;
      stats.dupAcks++;
      enterRecovery(c);
    } else {
      c.dupAcks = 0;
      c.cc.onAck(acked, ccContext(c));
    }
    tlpProcessAck(c, ack, isDsack(sack, ack), false, flightBefore);
    // RFC 6298 §5.2/5.3: all data acknowledged -> stop the timer; else restart it, as a
    // loss probe timeout where RFC 8985 §7.2 allows one.
    if (c.sndMax === c.snd.una) c.cancelRtx();
    else if (!c.persistArmed && !scheduleLossProbe(c, true)) c.armRto(layer.env.clock.now() + c.rtt.rto);
    if (c.wantWritable && (c.sndBuf.length === 0 || c.sndBuf.space >= c.sndBuf.limit >> 2)) {
      c.wantWritable = false;
      c.pending |= EV_WRITABLE;
    }
  } else if (
    ack === c.snd.una &&
    textLen === 0 &&
    newWnd === c.snd.wnd &&
    newWnd > 0 &&
    c.sndMax !== c.snd.una
  ) {
    // (Not while the peer's window is zero: those ACKs answer persist probes.)
    // RFC 5681 §2 duplicate ACK.
    c.dupAcks++;
    stats.dupAcks++;
    tlpProcessAck(c, ack, isDsack(sack, ack), !(sack && sack.length > 0), flightBefore);
    if (c.inRecovery) {
      if (!c.sackOk) c.nrInflate += c.mss; // RFC 6582 §3.2 step 4 / RFC 5681 §3.2 step 4
    } else if (
      (c.dupAcks >= 3 || (c.sackOk && c.hasScoreboard && c.scoreboard.isLost(c.snd.una, c.mss))) &&
      seqGt(ack, c.recover)
    ) {
      enterRecovery(c);
    } else if (c.dupAcks <= 2) {
      limitedTransmit(c);
    }
    settleLossProbe(c);
  }
  // Window update: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK), set
  // SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
  if (seqLt(c.snd.wl1, segSeq) || (c.snd.wl1 === segSeq && seqLe(c.snd.wl2, ack))) {
    c.snd.wnd = newWnd;
    c.snd.wl1 = segSeq;
    c.snd.wl2 = ack;
    if (newWnd > c.maxSndWnd) c.maxSndWnd = newWnd;
    if (newWnd > 0 && c.persistArmed) {
      c.persistTimer.cancel();
      c.persistCount = 0;
      if (c.sndMax !== c.snd.una) c.armRto(layer.env.clock.now() + c.rtt.rto);
    }
  }
  switch (c.state) {
    case 'FIN-WAIT-1':
      // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and continue processing"
      if (c.finAcked) {
        c.state = 'FIN-WAIT-2';
        armFinWait2(c);
      }
      break;
    case 'CLOSING':
      // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the segment"
      if (c.finAcked) enterTimeWait(c);
      break;
    case 'LAST-ACK':
      // "The only thing that can arrive in this state is an acknowledgment of our FIN. If our FIN
      // is now acknowledged, delete the TCB, enter the CLOSED state, and return."
      if (c.finAcked) {
        terminate(c, undefined);
        return true;
      }
      break;
    case 'TIME-WAIT':
      // "The only thing that can arrive in this state is a retransmission of the remote FIN.
      // Acknowledge it". Like Linux (tcp_timewait_state_process) and FreeBSD (tcp_twcheck),
      // anything but a bare duplicate ACK at RCV.NXT is acknowledged too.
      if (segSeq !== c.rcv.nxt || textLen > 0 || ack !== c.sndMax) c.ackNow = true;
      return false;
    default:
      break;
  }
  return false;
}

/**
 * RFC 3042 limited transmit: "a TCP SHOULD send a new data segment in response to each of the
 * first two duplicate acknowledgments ... provided that the receiver's advertised window
 * allows, the total FlightSize would remain less than or equal to cwnd plus 2*SMSS, and
 * that new data is available for transmission." The congestion window itself is unchanged.
 */
function limitedTransmit(c: Tcb): void {
  if (c.snd.nxt !== c.sndMax) return;
  const avail = c.sndBuf.length - seqSub(c.snd.nxt, c.sndBufSeq);
  if (avail <= 0) return;
  const flight = seqSub(c.sndMax, c.snd.una);
  const full = c.mss - (c.tsOk ? 12 : 0);
  const len = Math.min(avail, full, c.snd.wnd - flight);
  // A full segment, or (TCP_NODELAY) the rest of the data: Nagle still holds a runt.
  if (len <= 0 || (len < full && !(len === avail && c.opts.noDelay))) return;
  if (flight + len > c.cc.cwnd + 2 * c.mss) return;
  const used = sendDataAt(c, c.snd.nxt, len, false);
  c.snd.nxt = seqAdd(c.snd.nxt, used);
}

/** Fast retransmit (RFC 5681 §3.2 step 2-4, RFC 6582 §3.2 step 2, RFC 6675 §5 step 4). */
function enterRecovery(c: Tcb): void {
  const stats = c.layer.stats;
  stats.fastRetransmits++;
  c.stats.fastRetransmits++;
  c.inRecovery = true;
  c.recover = c.sndMax;
  c.tlpEndSeq = undefined; // recovery takes over from any probe (Linux tcp_init_cwnd_reduction)
  c.cc.onEnterRecovery(ccContext(c));
  c.highRxt = c.snd.una;
  c.rttTiming = false;
  if (c.sackOk) {
    stats.sackRecoveries++;
    c.nrInflate = 0;
  } else {
    // RFC 5681 §3.2 step 3: "cwnd = ssthresh + 3*SMSS" (inflation kept separately).
    c.nrInflate = 3 * c.mss;
  }
  retransmitFirst(c);
}

/**
 * Seventh/eighth steps for ESTABLISHED, FIN-WAIT-1/2 (and SYN-SENT's continuation): trims to
 * the window, delivers in-order bytes, queues the rest, then handles an in-order FIN.
 * Returns the (possibly advanced) sequence number.
 */
export function receiveText(c: Tcb, segSeq: Seq, data: Uint8Array, fin: boolean): Seq {
  const stats = c.layer.stats;
  // Trim the left edge (already received).
  const dup = seqSub(c.rcv.nxt, segSeq);
  if (dup > 0 && data.length > 0) noteDuplicate(c, segSeq, data.length);
  if (dup > 0) {
    if (dup >= data.length) {
      // All bytes are old; a FIN right after them is new only if it sits at rcv.nxt.
      fin = fin && dup === data.length;
      data = data.subarray(data.length);
    } else data = data.subarray(dup);
    segSeq = c.rcv.nxt;
    c.ackNow = true;
  }
  // Trim the right edge to the offered window (and the buffer).
  const room = seqSub(c.rcvAdv, segSeq);
  if (data.length > room) {
    data = data.subarray(0, Math.max(0, room));
    fin = false;
    stats.truncatedToWindow++;
  }
  if (data.length > 0 && !admitData(c, segSeq, data.length)) {
    // Over the layer's memory limit (memory.ts): drop it, ACK, and let the peer retransmit.
    c.ackNow = true;
    return segSeq;
  }
  if (segSeq !== c.rcv.nxt) {
    // Out of order: hold it, and ACK at once (RFC 5681 §4.2: "A TCP receiver SHOULD send an
    // immediate duplicate ACK when an out-of-order segment arrives").
    if (data.length > 0 || fin) {
      const res = c.reasm.insert(segSeq, data, fin);
      if (res === 'dropped-limit') stats.reassemblyDrops++;
      else if (res === 'stored') stats.outOfOrder++;
    }
    c.ackNow = true;
    return segSeq;
  }
  let delivered = deliver(c, data);
  if (delivered < data.length) fin = false;
  if (c.hasReasm) {
    // RFC 5681 §4.2: "an immediate ACK SHOULD be generated when a segment arrives that fills
    // in all or part of a gap in the sequence space."
    const got = c.reasm.take(c.rcv.nxt);
    for (const chunk of got.chunks) delivered += deliver(c, chunk);
    if (got.fin) fin = true;
    c.ackNow = true;
  } else if (delivered > 0) {
    // RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every second full-sized
    // segment"; otherwise the delayed-ACK timer sends it. Smaller segments do not count
    // (RFC 1122 §4.2.3.2: "in a stream of full-sized segments there SHOULD be an ACK for at
    // least every second segment").
    const len = data.length;
    const cap = c.rcvMss - (c.tsOk ? 12 : 0);
    let full = c.rcvMssEst < cap ? c.rcvMssEst : cap;
    if (len > full) full = c.rcvMssEst = len < cap ? len : cap;
    // config.ackEverySegmentPair (FreeBSD DELAY_ACK): any second segment is ACKed at once.
    if ((len >= full || c.layer.config.ackEverySegmentPair) && ++c.delackSegs >= 2) c.ackNow = true;
    if (c.layer.config.quickAck && quickAckDue(c)) c.ackNow = true;
  }
  if (delivered > 0) c.pending |= EV_READABLE;
  if (fin) receiveFin(c);
  return c.rcv.nxt;
}

/**
 * Linux quick-ACK mode (tcp_event_data_recv / tcp_incr_quickack): the first in-order data of
 * a connection, or data after a gap longer than the RTO ("apparently sender failed to
 * restart window, so that we send ACKs quickly"), starts a run of immediate ACKs: one per
 * two MSS of the window we offer, at least 2 and at most 16. Each ACK of data spends one
 * (emit). Returns whether this segment is to be acknowledged at once.
 */
function quickAckDue(c: Tcb): boolean {
  const now = c.layer.env.clock.now();
  if (!c.dataSeen || now - c.lastDataRecv > c.rtt.rto) {
    c.dataSeen = true;
    let q = Math.floor(c.rcv.wnd / (2 * c.rcvMssEst));
    if (q === 0) q = 2;
    if (q > 16) q = 16;
    if (q > c.quickAcks) c.quickAcks = q;
  }
  c.lastDataRecv = now;
  return c.quickAcks > 0;
}

/**
 * RFC 2883 §4 (D-SACK): data received again below RCV.NXT is reported as the first SACK
 * block of the next ACK: "the first SACK block MUST specify the contiguous block of data
 * containing the duplicate segment". Only the part below RCV.NXT is a duplicate.
 */
function noteDuplicate(c: Tcb, segSeq: Seq, len: number): void {
  if (!c.sackOk || !c.layer.config.dsack) return;
  const end = seqAdd(segSeq, len);
  if (!seqLt(segSeq, c.rcv.nxt)) return;
  c.dsack = { left: segSeq, right: seqLt(end, c.rcv.nxt) ? end : c.rcv.nxt };
}

function deliver(c: Tcb, data: Uint8Array): number {
  if (data.length === 0) return 0;
  // Everything here lies inside the window we advertised (receiveText trims to rcvAdv), so
  // it is kept even when that window was rounded up to the scale granularity (RFC 7323
  // §2.3) or SO_RCVBUF shrank since: the buffer may exceed its limit by that much.
  const n = c.readShut ? data.length : c.rcvBuf.push(data, true);
  c.rcv.nxt = seqAdd(c.rcv.nxt, n);
  c.stats.bytesReceived += n;
  return n;
}

/** Eighth step: an in-order FIN. */
function receiveFin(c: Tcb): void {
  c.rcv.nxt = seqAdd(c.rcv.nxt, 1);
  c.finReceived = true;
  c.ackNow = true;
  c.pending |= EV_END | EV_READABLE;
  switch (c.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      c.state = 'CLOSE-WAIT';
      break;
    case 'FIN-WAIT-1':
      // "If our FIN has been ACKed ... enter TIME-WAIT ... otherwise, enter the CLOSING state."
      if (c.finAcked) enterTimeWait(c);
      else c.state = 'CLOSING';
      break;
    case 'FIN-WAIT-2':
      enterTimeWait(c);
      break;
    default:
      break;
  }
}

/**
 * Receive side: may `len` new bytes at `segSeq` be held? When not, the connection's
 * out-of-order data above the segment is pruned first (RFC 2018 §8 lets a receiver discard
 * SACKed data; the sender keeps it until it is cumulatively acknowledged); if that is not
 * enough, the caller drops the segment and ACKs, and the peer retransmits (RFC 9293 §3.8.6:
 * "If more data arrives than can be accepted, it will be discarded").
 */
export function admitData(c: Tcb, segSeq: Seq, len: number): boolean {
  const mem = c.layer.memory;
  if (len <= mem.available) return true;
  // In-order data on a connection shut for reading is discarded, not held.
  if (c.readShut && segSeq === c.rcv.nxt) return true;
  if (c.hasReasm) {
    const before = c.reasm.bytes;
    c.reasm.clear(seqAdd(segSeq, len));
    if (c.reasm.bytes < before) c.layer.stats.memoryPrunes++;
    if (len <= mem.available) return true;
  }
  c.layer.stats.memoryDrops++;
  return false;
}
