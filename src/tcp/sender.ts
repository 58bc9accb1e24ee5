/**
 * The sender side of a connection on an arriving ACK (RFC 9293 §3.10.7.4 fifth step):
 * SND.UNA and the send buffer, RTT measurement (RFC 6298, RFC 7323 §4), duplicate ACKs,
 * fast retransmit and recovery (RFC 5681, RFC 6582 NewReno, RFC 6675 SACK), limited
 * transmit (RFC 3042), the loss-probe check (RFC 8985), congestion-control hooks, and the
 * send window update.
 */
import { type SackBlock, TCP_ECE, type TcpRepr } from '../wire/tcp.ts';
import { sndSpaceReady } from './buffers.ts';
import { ccContext } from './cc.ts';
import { ecnEchoArrived, ecnLossReduction } from './ecn.ts';
import { EV_WRITABLE } from './events.ts';
import { frtoOnAck, frtoOrigAcked } from './frto.ts';
import { retransmitFirst, sendDataAt, tsNow } from './output.ts';
import { prrOnAck, prrStart } from './prr.ts';
import { rackDetectLoss, rackEnabled, rackOnAck, rackRecoveryEnded } from './rack.ts';
import { newRateSample, rateAckBegin, rateAverage, rateGenerate } from './rate.ts';
import { recoveryPipe } from './recovery.ts';
import { type Seq, seq, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.ts';
import { T_PERSIST, T_REO, type Tcb } from './tcb.ts';
import { scheduleLossProbe, settleLossProbe, tlpProcessAck } from './tlp.ts';
import { dsackBlock, undoOnDsack, undoReduction, undoStart } from './undo.ts';

/** How far `recover` may fall behind SND.UNA (a quarter of the sequence space). */
const RECOVER_LAG_MAX = 2 ** 30;

/** Linux tcp_is_cwnd_limited (output.ts keeps the bookkeeping). */
function cwndLimitedNow(c: Tcb): boolean {
  if (c.cwndLimited) return true;
  const cc = c.cc;
  return cc.cwnd < cc.ssthresh && cc.cwnd < 2 * c.maxFlightOut;
}

/** RTT sample from an ACK of new data: RFC 7323 §4.1 timestamps, else the timed segment (RFC 6298). */
export function rttSample(c: Tcb, r: TcpRepr, ack: Seq): void {
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
    c.ackRttUs = sample;
    c.rtt.sample(sample, ack, c.sndMax);
    if (c.minRtt === 0 || sample < c.minRtt) c.minRtt = sample;
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
 * ACK processing for synchronized states (§3.10.7.4 fifth step, once the ACK is found
 * acceptable): a new cumulative ACK, or a duplicate, then the send window update. The
 * state changes an ACK of our FIN brings are the caller's (input.ts).
 */
export function processAck(c: Tcb, r: TcpRepr, segSeq: Seq, ack: Seq, textLen: number): void {
  const newWnd = r.window << c.sndWscale;
  // RFC 3168 §6.1.2: an ECN-Echo is congestion, answered before the ACK grows cwnd.
  if (c.ecnOk) ecnEchoArrived(c, r.flags, ack);
  const lossHigh = c.lossEnd;
  if (c.lossEnd !== undefined && seqGe(ack, c.lossEnd)) c.lossEnd = undefined;
  const sack = c.sackOk ? r.options.sack : undefined;
  const flightBefore = seqSub(c.sndMax, c.snd.una);
  const unaBefore = c.snd.una;
  const rateCc = c.cc.onRateSample !== undefined;
  const priorInFlight = rateCc ? (ccContext(c).inFlight ?? flightBefore) : 0;
  rateAckBegin(c);
  const sackedBefore = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
  const oldSacked = updateScoreboard(c, sack, ack);
  const rack = rackEnabled(c);
  if (rack && seqGe(ack, c.snd.una)) {
    // RFC 8985 §6.2 steps 1-3: what this ACK delivered updates RACK's state.
    const ts = r.options.timestamps;
    const tsEcr = c.tsOk && ts && ts.tsEcr !== 0 ? ts.tsEcr : undefined;
    rackOnAck(c, ack, sack, tsEcr, isDsack(sack, ack));
  }
  let newlyLost = 0;
  let dupAck = false;
  if (seqLt(c.snd.una, ack)) {
    const ssthreshBefore = c.cc.ssthresh;
    const credit = newAck(c, r, ack, sack, oldSacked, textLen, flightBefore, sackedBefore);
    if (rack) {
      newlyLost = rackLossOnAck(c, true);
      // Linux's tcp_ack finds losses (tcp_fastretrans_alert, and a loss probe's repair) before
      // it grows the window (tcp_cong_control): an ACK that starts a reduction does not grow
      // cwnd first, so the reduction starts from the window the loss happened in.
      if (credit > 0 && !c.inRecovery && c.cc.ssthresh === ssthreshBefore && cwndLimitedNow(c))
        c.cc.onAck(credit, ccContext(c));
    }
  } else if (
    ack === c.snd.una &&
    textLen === 0 &&
    newWnd === c.snd.wnd &&
    newWnd > 0 &&
    c.sndMax !== c.snd.una
  ) {
    // (Not while the peer's window is zero: those ACKs answer persist probes.) With RACK the
    // losses are found first: an ACK that starts recovery sends no limited-transmit segment.
    dupAck = true;
    if (rack) newlyLost = rackLossOnAck(c, false);
    duplicateAck(c, ack, sack, flightBefore);
  } else if (rack && ack === c.snd.una) {
    newlyLost = rackLossOnAck(c, false);
  }
  // RFC 6937: DeliveredData = change_in(snd.una) + change_in(SACKd). SACKed bytes the ACK
  // now covers cumulatively leave SACKd: they were delivered before, not now.
  const sacked = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
  if (c.frto && lossHigh !== undefined)
    frtoAck(c, ack, unaBefore, lossHigh, sack, sacked > oldSacked, dupAck);
  const change = Math.max(0, seqSub(c.snd.una, unaBefore)) + sacked - sackedBefore;
  const delivered = Math.max(0, change);
  // The delivered count (rate.ts, Linux tp->delivered) is a high-water mark of SND.UNA plus
  // the SACKed bytes: each byte counts once, also when the scoreboard forgets SACK information
  // (an RTO, a reneging peer) that the cumulative ACK later covers again.
  const unaAdv = Math.max(0, seqSub(c.snd.una, unaBefore));
  const counted = Math.max(0, unaAdv + sacked - c.deliveredAbove);
  c.deliveredAbove = Math.max(c.deliveredAbove - unaAdv, sacked);
  if (counted > 0) sampleDelivery(c, counted, newlyLost, priorInFlight, c.ecnOk && (r.flags & TCP_ECE) !== 0);
  if (c.sackOk && c.undoMarker !== undefined) {
    const d = dsackBlock(sack, ack);
    if (d !== undefined && undoOnDsack(c, d)) spuriousReduction(c);
  }
  if (c.inRecovery && c.sackOk && c.layer.config.prr) {
    prrOnAck(c, delivered, recoveryPipe(c), seqGt(c.snd.una, unaBefore), newlyLost > 0);
  }
  updateSendWindow(c, segSeq, ack, newWnd);
}

/** F-RTO (RFC 5682) on an ACK after a timeout: act on frto.ts's verdict. */
function frtoAck(
  c: Tcb,
  ack: Seq,
  unaBefore: Seq,
  high: Seq,
  sack: readonly SackBlock[] | undefined,
  newlySacked: boolean,
  dupAck: boolean,
): void {
  const verdict = frtoOnAck(c, {
    advanced: seqGt(c.snd.una, unaBefore),
    sacked: newlySacked,
    dupAck,
    origAcked: frtoOrigAcked(c, ack, high, sack, newlySacked),
    high,
  });
  if (verdict === 'spurious') {
    // §3.1 step 3b: the originals arrived; the timeout was spurious. Linux tcp_try_undo_loss
    // (frto_undo): the window before the timeout comes back and the Loss state ends.
    c.layer.stats.spuriousRtos++;
    if (c.undoMarker !== undefined) spuriousReduction(c);
    else if (c.lossEnd !== undefined) {
      c.lossEnd = undefined;
      c.snd.nxt = c.sndMax;
    }
  } else if (verdict === 'real') {
    // §3.1 step 3a: "the loss was real": conventional recovery, back to SND.UNA.
    c.snd.nxt = c.snd.una;
  }
}

/**
 * Every retransmission of the episode was D-SACKed (undo.ts): the window comes back, and a
 * recovery or RTO episode still running ends, as Linux's tcp_try_undo_dsack /
 * tcp_try_undo_loss leave Recovery and Loss. After an RTO, going back over data the peer has
 * stops: SND.NXT returns to SND.MAX.
 */
function spuriousReduction(c: Tcb): void {
  undoReduction(c);
  if (c.inRecovery) {
    c.inRecovery = false;
    c.nrInflate = 0;
    c.dupAcks = 0;
    rackRecoveryEnded(c);
  }
  if (c.lossEnd !== undefined) {
    c.lossEnd = undefined;
    c.snd.nxt = c.sndMax;
  }
  c.frto = false;
  c.frtoNewFrom = undefined;
}

/** The rate sample of an ACK no controller takes (sampleDelivery). */
const rateScratch = newRateSample();

/**
 * What the peer has received (Linux tp->delivered, delivered_ce, for TCP_INFO): the bytes an
 * ACK newly acknowledged or SACKed; then the ACK's delivery-rate sample (rate.ts), which a
 * rate-based controller (BBR) takes, and which TCP_INFO's delivery rate reports.
 */
function sampleDelivery(c: Tcb, delivered: number, lost: number, priorInFlight: number, ece: boolean): void {
  const st = c.stats;
  const now = c.layer.env.clock.now();
  st.bytesDelivered += delivered;
  if (ece) st.bytesDeliveredCe += delivered;
  // Without a controller that takes it, the sample only updates the connection's own record
  // (TCP_INFO's delivery rate): it is made in one object reused for every ACK.
  const consumer = c.cc.onRateSample !== undefined;
  const rs = rateGenerate(c, delivered, lost, priorInFlight, now, consumer ? newRateSample() : rateScratch);
  if (!c.hasTxLog || c.txLog.sent === 0) {
    // No per-segment stamps on this connection: the round-trip average (rate.ts).
    if (!rateAverage(c, now, rs)) rs.delivered = -1;
  }
  if (!consumer) return;
  const ctx = ccContext(c);
  c.cc.onRateSample!(rs, ctx);
  // Linux bbr_update_min_rtt: "Ignore low rate samples during this mode."
  if (c.cc.holdsRate) c.appLimitedUntil = st.bytesDelivered + (ctx.inFlight ?? 0) || 1;
}

/**
 * RFC 8985 §6.2 steps 4-5 after an ACK: mark what is now lost, and "If there are lost
 * segments, enter fast recovery" (not inside an RTO recovery, which resends everything
 * outstanding anyway: Linux stays in its Loss state). Returns the bytes newly marked lost.
 */
function rackLossOnAck(c: Tcb, advancing: boolean): number {
  if (c.sndMax === c.snd.una) {
    c.clearTimer(T_REO);
    return 0;
  }
  const reoBefore = c.timerArmed(T_REO);
  const lost = rackDetectLoss(c);
  // Any segment marked lost and not yet resent starts recovery (Linux tcp_time_to_recover:
  // "the loss is proven"), also one marked during a recovery that has just ended.
  if (c.txLog.lostBytes > 0 && !c.inRecovery && seqGe(c.snd.una, c.recover)) enterRecovery(c);
  // No loss probe while the reordering timer runs (it holds the retransmission timer in
  // Linux: tcp_schedule_loss_probe needs ICSK_TIME_RETRANS); one that stopped on this ACK of
  // new data lets the probe be scheduled as it would have been (RFC 8985 §7.2).
  settleLossProbe(c);
  if (advancing && reoBefore && !c.timerArmed(T_REO) && !c.ptoArmed && !c.persistArmed && c.rtxArmed)
    scheduleLossProbe(c, true);
  return lost;
}

/**
 * Records the segment's SACK blocks (RFC 2018) in the scoreboard. Returns the SACKed bytes
 * above SEG.ACK before this segment, to tell whether it brings new SACK information.
 */
function updateScoreboard(c: Tcb, sack: readonly SackBlock[] | undefined, ack: Seq): number {
  let oldSacked = 0;
  if (sack && sack.length > 0) {
    if (c.hasScoreboard) {
      oldSacked = c.scoreboard.sackedBytes;
      if (seqLt(c.snd.una, ack)) oldSacked -= c.scoreboard.sackedIn(c.snd.una, ack);
    }
    const una = seqMax(ack, c.snd.una);
    c.scoreboard.update(validSackBlocks(c, sack, una), una, c.sndMax);
  }
  return oldSacked;
}

/**
 * The SACK blocks the scoreboard may take, as Linux's tcp_is_sackblock_valid decides. A
 * block reports data we sent: one ending beyond SND.MAX is forged or broken (taken, it
 * would mark segments lost that never were, and cut cwnd). One that starts at or below
 * SND.UNA (after this ACK) SACKs nothing new: valid only as an RFC 2883 D-SACK, wholly
 * below SND.UNA, which the scoreboard ignores and the loss-probe logic reads (isDsack);
 * one across SND.UNA is neither.
 */
function validSackBlocks(c: Tcb, sack: readonly SackBlock[], una: Seq): readonly SackBlock[] {
  let valid: SackBlock[] | undefined;
  for (let i = 0; i < sack.length; i++) {
    const b = sack[i]!;
    const left = seq(b.left);
    const right = seq(b.right);
    const ok = seqLt(left, right) && seqLe(right, c.sndMax) && (seqGt(left, una) || seqLe(right, una));
    if (ok) {
      valid?.push(b);
      continue;
    }
    c.layer.stats.invalidSackBlocks++;
    valid ??= sack.slice(0, i);
  }
  return valid ?? sack;
}

/** "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK." */
function newAck(
  c: Tcb,
  r: TcpRepr,
  ack: Seq,
  sack: readonly SackBlock[] | undefined,
  oldSacked: number,
  textLen: number,
  flightBefore: number,
  sackedBefore: number,
): number {
  let deferred = 0;
  const acked = seqSub(ack, c.snd.una);
  rttSample(c, r, ack);
  c.rtxCount = 0;
  c.error = undefined;
  const dataAcked = Math.min(c.sndBuf.length, Math.max(0, seqSub(ack, c.sndBufSeq)));
  if (dataAcked > 0) {
    if (c.wantWritable) c.sndBufCheck = true;
    c.sndBuf.consume(dataAcked);
    c.sndBufSeq = seqAdd(c.sndBufSeq, dataAcked);
    c.stats.bytesAcked += dataAcked;
  }
  c.snd.una = ack;
  if (seqLt(c.snd.nxt, ack)) c.snd.nxt = ack;
  if (c.hasScoreboard) c.scoreboard.advance(ack);
  if (c.inRecovery) {
    ackInRecovery(c, ack, acked);
  } else if (
    // RFC 6675 §2: with SACK an ACK that "contains previously unknown SACK information" is a
    // duplicate, and §5 handles it "regardless of its status as a cumulative acknowledgment":
    // DupAcks is reset to zero and counts it, and "(2) If DupAcks < DupThresh but IsLost
    // (HighACK + 1) returns true ... go to step (4)" (fast retransmit, as Linux does).
    // (With RACK, losses are found by time instead: rackLossOnAck.)
    !rackEnabled(c) &&
    sack !== undefined &&
    sack.length > 0 &&
    textLen === 0 &&
    c.sndMax !== c.snd.una &&
    c.scoreboard.sackedBytes > oldSacked &&
    seqGt(ack, c.recover) &&
    c.scoreboard.isLost(c.snd.una, c.mss)
  ) {
    c.dupAcks = 1;
    c.layer.stats.dupAcks++;
    enterRecovery(c);
  } else {
    const credit = c.layer.config.creditNewlyDelivered ? newlyDelivered(c, acked, sackedBefore) : acked;
    c.dupAcks = 0;
    // Linux tcp_cong_avoid runs only when tcp_is_cwnd_limited: a sender that the application
    // (or the peer's window) limits does not grow a window it does not use (RFC 7661 §4.3:
    // "the cwnd MUST NOT be increased" while it is not validated). In slow start the window
    // may still grow to twice what was in flight. With RACK the growth waits until the
    // ACK's losses are known (processAck).
    if (rackEnabled(c)) deferred = credit;
    else if (cwndLimitedNow(c) && credit > 0) c.cc.onAck(credit, ccContext(c));
  }
  // `recover` only ever moves forward at a recovery: keep it within half the sequence space
  // behind SND.UNA, or after 2 GiB without a loss the comparisons with it would wrap and
  // read as "still in recovery".
  if (!c.inRecovery && seqSub(ack, c.recover) > RECOVER_LAG_MAX) c.recover = seqAdd(ack, -1);
  tlpProcessAck(c, ack, isDsack(sack, ack), false, flightBefore);
  // RFC 6298 §5.2/5.3: all data acknowledged -> stop the timer; else restart it, as a
  // loss probe timeout where RFC 8985 §7.2 allows one.
  if (c.sndMax === c.snd.una) c.cancelRtx();
  else if (!c.persistArmed && !scheduleLossProbe(c, true)) c.armRto(c.layer.env.clock.now() + c.rtt.rto);
  if (c.wantWritable && sndSpaceReady(c.sndBuf, c.layer.config.sndLowat)) {
    c.wantWritable = false;
    c.pending |= EV_WRITABLE;
  }
  return deferred;
}

/**
 * What a cumulative ACK of `acked` bytes newly delivered, as Linux credits window growth
 * (tcp_ack's acked_sacked, config.creditNewlyDelivered). With SACK: the SND.UNA advance plus
 * the change in SACKed bytes, so data SACKed earlier counts once, when it was SACKed
 * (tcp_sacktag_write_queue), and newly SACKed data counts now. Without SACK each duplicate
 * ACK counted one segment (tcp_add_reno_sack); "One ACK acked hole. The rest eat duplicate
 * ACKs." (tcp_remove_reno_sacks): at least one segment, or all that was acked if less.
 */
function newlyDelivered(c: Tcb, acked: number, sackedBefore: number): number {
  if (c.sackOk) {
    const sackedNow = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
    return Math.max(0, acked + sackedNow - sackedBefore);
  }
  return Math.max(Math.min(acked, c.mss), acked - c.dupAcks * c.mss);
}

/** A new cumulative ACK during fast recovery: full (leave recovery) or partial. */
function ackInRecovery(c: Tcb, ack: Seq, acked: number): void {
  if (seqGe(ack, c.recover)) {
    // RFC 6582 §3.2 step 3 (full acknowledgment) / RFC 6675 §5: leave recovery.
    c.inRecovery = false;
    c.nrInflate = 0;
    c.dupAcks = 0;
    const ctx = ccContext(c);
    if (c.sackOk && c.layer.config.prr) ctx.prrExit = true;
    c.cc.onExitRecovery(ctx);
    rackRecoveryEnded(c);
  } else if (!c.sackOk) {
    // RFC 6582 §3.2 step 3 (partial acknowledgment): "retransmit the first unacknowledged
    // segment ... deflate the congestion window by the amount of new data acknowledged ...
    // If the partial ACK acknowledges at least one SMSS of new data, then add back SMSS".
    retransmitFirst(c);
    c.layer.stats.partialAckRetransmits++;
    c.nrInflate -= acked;
    if (acked >= c.mss) c.nrInflate += c.mss;
    if (c.cc.cwnd + c.nrInflate < c.mss) c.nrInflate = c.mss - c.cc.cwnd;
    c.armRto(c.layer.env.clock.now() + c.rtt.rto);
  }
}

/** RFC 5681 §2 duplicate ACK. */
function duplicateAck(c: Tcb, ack: Seq, sack: readonly SackBlock[] | undefined, flightBefore: number): void {
  c.dupAcks++;
  c.layer.stats.dupAcks++;
  tlpProcessAck(c, ack, isDsack(sack, ack), !(sack && sack.length > 0), flightBefore);
  if (c.inRecovery) {
    if (!c.sackOk) c.nrInflate += c.mss; // RFC 6582 §3.2 step 4 / RFC 5681 §3.2 step 4
  } else if (
    // With RACK a SACK connection finds losses by time (rackLossOnAck), not by counting.
    !rackEnabled(c) &&
    (c.dupAcks >= 3 || (c.sackOk && c.hasScoreboard && c.scoreboard.isLost(c.snd.una, c.mss))) &&
    seqGt(ack, c.recover)
  ) {
    enterRecovery(c);
  } else if (c.dupAcks <= 2) {
    limitedTransmit(c);
  }
  settleLossProbe(c);
}

/**
 * Window update: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK), set
 * SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK." A window that
 * opens ends zero-window probing (the persist timer).
 */
function updateSendWindow(c: Tcb, segSeq: Seq, ack: Seq, newWnd: number): void {
  if (seqLt(c.snd.wl1, segSeq) || (c.snd.wl1 === segSeq && seqLe(c.snd.wl2, ack))) {
    c.snd.wnd = newWnd;
    c.snd.wl1 = segSeq;
    c.snd.wl2 = ack;
    if (newWnd > c.maxSndWnd) c.maxSndWnd = newWnd;
    if (newWnd > 0 && c.persistArmed) {
      c.clearTimer(T_PERSIST);
      c.persistCount = 0;
      if (c.sndMax !== c.snd.una) c.armRto(c.layer.env.clock.now() + c.rtt.rto);
    }
  }
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

/**
 * Fast retransmit (RFC 5681 §3.2 step 2-4, RFC 6582 §3.2 step 2, RFC 6675 §5 step 4). With
 * RACK the segments it marked lost go out from the recovery sender (output.ts), as PRR
 * allows, rather than SND.UNA at once here.
 */
export function enterRecovery(c: Tcb): void {
  const stats = c.layer.stats;
  stats.fastRetransmits++;
  c.stats.fastRetransmits++;
  c.inRecovery = true;
  c.recover = c.sndMax;
  c.tlpEndSeq = undefined; // recovery takes over from any probe (Linux tcp_init_cwnd_reduction)
  undoStart(c);
  c.cc.onEnterRecovery(ccContext(c));
  ecnLossReduction(c);
  c.highRxt = c.snd.una;
  c.rttTiming = false;
  if (c.sackOk) {
    stats.sackRecoveries++;
    c.nrInflate = 0;
    if (c.layer.config.prr) prrStart(c, recoveryPipe(c));
    if (rackEnabled(c)) return;
  } else {
    // RFC 5681 §3.2 step 3: "cwnd = ssthresh + 3*SMSS" (inflation kept separately).
    c.nrInflate = 3 * c.mss;
  }
  retransmitFirst(c);
}
