/**
 * RACK, the time-based half of RACK-TLP (RFC 8985 §6; Linux tcp_recovery.c), for SACK
 * connections under config.recovery & RECOVERY_RACK.
 *
 * Every segment sent carries its transmit time (rack-log.ts). When an ACK shows a segment
 * delivered (cumulatively or by SACK), RACK remembers the most recently *sent* of those
 * (RACK.xmit_ts / RACK.end_seq) and its RTT. A segment sent before that one and still not
 * delivered after RACK.rtt plus a reordering window has passed since it was sent is lost:
 * counting duplicate ACKs is not needed, so reordering of up to the window is no loss, and
 * a lost retransmission is found again. What is not yet overdue arms the reordering timer
 * (T_REO), which runs the same check later. The tail loss probe (tlp.ts, RFC 8985 §7)
 * makes the ACK that lets RACK see a tail loss.
 */
import { RECOVERY_RACK, RECOVERY_RACK_NO_DUPTHRESH, RECOVERY_RACK_STATIC_REO_WND } from './config.ts';
import type { TxSegment } from './rack-log.ts';
import { rateRestamp, rateSegDelivered, rateStamp } from './rate.ts';
import { DUP_THRESH } from './sack.ts';
import { type Seq, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq.ts';
import { T_REO, type Tcb } from './tcb.ts';

/** RFC 8985 §6.2 step 4: "Reset the window after 16 DSACK-free recoveries". */
const REO_WND_PERSIST = 16;

/** Does this connection detect losses with RACK? (SACK only: Linux tcp_is_rack with tcp_is_sack.) */
export function rackEnabled(c: Tcb): boolean {
  return c.sackOk && (c.layer.config.recovery & RECOVERY_RACK) !== 0;
}

/**
 * Records a transmission of [s, s + used) at `now` (output.ts calls this
 * for every data segment). New data is appended; a retransmission restamps the segments it
 * covers (split at its bounds) as retransmitted and no longer lost.
 */
export function rackTransmitted(c: Tcb, s: Seq, used: number, now: number): void {
  if (used <= 0 || !rackEnabled(c)) return;
  const log = c.txLog;
  let from = seqMax(c.snd.una, s); // never below SND.UNA
  const to = (s + used) >>> 0;
  const logEnd = log.end;
  // The delivery-rate stamps every transmission carries (rate.ts).
  const stamp = rateStamp(c, now, log.size === 0);
  if (logEnd !== undefined && seqLt(from, logEnd)) {
    const upTo = seqMin(to as Seq, logEnd);
    log.splitAt(from);
    log.splitAt(upTo);
    const order = ++log.sent;
    for (let i = log.indexEndingAfter(from); i < log.size; i++) {
      const seg = log.at(i);
      if (!seqLe(seg.end, upTo)) break;
      seg.xmitTs = now;
      seg.order = order;
      seg.rtx = true;
      rateRestamp(seg, stamp);
      log.setLost(seg, false);
    }
    from = upTo;
  }
  if (!seqLt(from, to as Seq)) return;
  // Before anything is delivered, RACK.fack starts at the first byte sent.
  if (c.rackXmitTs < 0 && log.size === 0) c.rackFack = from;
  log.append(from, to as Seq, now, stamp);
}

/**
 * RFC 8985 §6.2 steps 1-3 and the D-SACK half of step 4, on an acceptable ACK: the segments
 * it delivers (below `ack`, or wholly SACKed by `blocks`, which the scoreboard already holds)
 * update RACK.rtt, RACK.xmit_ts/end_seq, RACK.fack and RACK.reord. `tsEcr` is the ACK's
 * echoed timestamp (undefined without one); `dsack` whether it carries a D-SACK.
 */
export function rackOnAck(
  c: Tcb,
  ack: Seq,
  blocks: readonly { left: number; right: number }[] | undefined,
  tsEcr: number | undefined,
  dsack: boolean,
): void {
  if (!c.hasTxLog) return;
  const log = c.txLog;
  const now = c.layer.env.clock.now();
  // "For each Segment newly acknowledged ... in ascending order of Segment.xmit_ts": the
  // segments come here in sequence order, so RACK.rtt is taken at the end from the most
  // recently sent of them (what the RFC's order leaves in it).
  let latest: TxSegment | undefined;
  // Cumulatively acknowledged entries (or the front of one) not SACKed before.
  while (log.size > 0) {
    const seg = log.at(0);
    if (!seqLt(seg.start, ack)) break;
    const whole = seqLe(seg.end, ack);
    if (!seg.sacked) rateSegDelivered(c, seg, now, false);
    if (!seg.sacked && rackAdvance(c, seg, whole ? seg.end : ack, tsEcr, now)) {
      if (latest === undefined || seg.order > latest.order) latest = seg;
    }
    if (!whole) {
      log.trimFront(ack);
      break;
    }
    log.shift();
  }
  if (blocks && c.hasScoreboard) {
    const sb = c.scoreboard;
    for (const b of blocks) {
      const right = b.right as Seq;
      const left = seqMax(b.left as Seq, ack);
      if (!seqGt(right, left) || !sb.isSacked(left)) continue;
      // An entry is SACKed whole or not at all: split at the block's edges.
      log.splitAt(left);
      log.splitAt(right);
      for (let i = log.indexEndingAfter(left); i < log.size; i++) {
        const seg = log.at(i);
        if (!seqLt(seg.start, right)) break;
        if (seg.sacked || sb.sackedIn(seg.start, seg.end) !== seqSub(seg.end, seg.start)) continue;
        log.setSacked(seg);
        rateSegDelivered(c, seg, now, true);
        if (rackAdvance(c, seg, seg.end, tsEcr, now) && (latest === undefined || seg.order > latest.order))
          latest = seg;
      }
    }
  }
  if (latest !== undefined) c.rackRtt = now - latest.xmitTs;
  // Step 4, D-SACK adaptation: "If RACK.dsack_round is not None AND SND.UNA >=
  // RACK.dsack_round: RACK.dsack_round = None".
  if (c.rackDsackRound !== undefined && seqGe(ack, c.rackDsackRound)) c.rackDsackRound = undefined;
  // Deviation: RFC 8985 §6.2 step 3 sets RACK.reord only when an original is delivered below
  // RACK.fack. A D-SACK shows a retransmission was spurious, the original late rather than
  // lost: Linux counts that as reordering too (tcp_try_undo_partial -> tcp_check_sack_reordering),
  // and without it a path that reorders by more than DupThresh segments would keep a zero
  // window and retransmit spuriously forever.
  if (dsack) c.rackReord = true;
  if (dsack && c.rackDsackRound === undefined) {
    // "RACK.dsack_round = SND.NXT; RACK.reo_wnd_mult += 1; RACK.reo_wnd_persist = 16"
    c.rackDsackRound = c.sndMax;
    c.rackReoWndMult++;
    c.rackReoWndPersist = REO_WND_PERSIST;
  }
}

/**
 * RFC 8985 §6.2 steps 2 and 3 for one delivered segment. Returns whether it gives an RTT
 * (it is not a retransmission the ACK may be for the original of).
 */
function rackAdvance(c: Tcb, seg: TxSegment, end: Seq, tsEcr: number | undefined, now: number): boolean {
  // Step 2: "If Segment.retransmitted is TRUE AND ((ACK.ts_option.echo_reply <
  // Segment.xmit_ts) OR (Now() - Segment.xmit_ts < RACK.min_RTT))" the ACK may be for the
  // original: no RTT from it.
  const ambiguous =
    seg.rtx &&
    ((tsEcr !== undefined && ((tsEcr - tsValAt(c, seg.xmitTs)) | 0) < 0) ||
      (c.minRtt > 0 && now - seg.xmitTs < c.minRtt));
  if (!ambiguous) {
    if (rackSentAfter(seg.order, end, c.rackXmitOrder, c.rackEndSeq)) {
      c.rackXmitTs = seg.xmitTs;
      c.rackXmitOrder = seg.order;
      c.rackEndSeq = end;
    }
  }
  // Step 3: "If Segment.end_seq > RACK.fack: RACK.fack = Segment.end_seq; Else if
  // Segment.end_seq < RACK.fack AND Segment.retransmitted is FALSE: RACK.reord = TRUE".
  if (seqGt(end, c.rackFack)) c.rackFack = end;
  else if (seqLt(end, c.rackFack) && !seg.rtx) {
    c.rackReord = true;
    // Linux tcp_check_sack_reordering: the degree in segments, fack - low_seq, at most
    // net.ipv4.tcp_max_reordering (300).
    const degree = Math.ceil(seqSub(c.rackFack, seg.start) / Math.max(1, c.mss));
    if (degree > c.reordering) c.reordering = Math.min(300, degree);
  }
  return !ambiguous;
}

/** The TSval a segment sent at `t` carried (as output.ts tsNow stamps: milliseconds plus the offset). */
function tsValAt(c: Tcb, t: number): number {
  return (Math.floor(t / 1000) + c.tsOffset) >>> 0;
}

/**
 * RFC 8985 §6.2 RACK_sent_after(t1, seq1, t2, seq2): was (t1, seq1) sent after (t2, seq2)?
 * Deviation: t1 and t2 are transmission counts (TxSegment.order), not Segment.xmit_ts: the
 * RFC breaks ties between equal timestamps by end_seq, which misorders a retransmission sent
 * in the same clock tick as later-sequence originals (a virtual clock that does not advance,
 * or a coarse one); the count orders every transmission exactly. Segments of one
 * transmission share a count, so end_seq still decides between them, as in the RFC.
 */
export function rackSentAfter(t1: number, seq1: Seq, t2: number, seq2: Seq): boolean {
  return t1 > t2 || (t1 === t2 && seqGt(seq1, seq2));
}

/** Fast recovery or RTO recovery is under way. */
function inRecoveryEpisode(c: Tcb): boolean {
  return c.inRecovery || seqLt(c.snd.una, c.recover);
}

/** RFC 8985 §6.2 step 4, RACK_update_reo_wnd(): the reordering window now, microseconds. */
export function rackReoWnd(c: Tcb): number {
  const bits = c.layer.config.recovery;
  if (!c.rackReord) {
    // "If in Fast or RTO recovery: Return 0; Else if RACK.segs_sacked >= DupThresh: Return 0"
    // (without reordering seen, be as quick as DupThresh would be; Linux tcp_rack_reo_wnd,
    // unless TCP_RACK_NO_DUPTHRESH).
    if (inRecoveryEpisode(c)) return 0;
    if ((bits & RECOVERY_RACK_NO_DUPTHRESH) === 0 && c.hasTxLog && c.txLog.sackedSegs >= DUP_THRESH) return 0;
  }
  const mult = (bits & RECOVERY_RACK_STATIC_REO_WND) !== 0 ? 1 : c.rackReoWndMult;
  // "Return min(RACK.min_RTT / 4 * RACK.reo_wnd_mult, SRTT)"
  const wnd = Math.floor(c.minRtt / 4) * mult;
  const srtt = c.rtt.srtt;
  return srtt === undefined ? wnd : Math.min(wnd, srtt);
}

/** RFC 8985 §6.2: leaving fast or RTO recovery counts down reo_wnd_persist. */
export function rackRecoveryEnded(c: Tcb): void {
  if (c.rackReoWndPersist > 0 && --c.rackReoWndPersist <= 0) c.rackReoWndMult = 1;
}

/**
 * RFC 8985 §6.2 step 5, RACK_detect_loss_and_arm_timer(): marks lost every segment sent
 * before RACK.xmit_ts that has waited RACK.rtt + reo_wnd, and arms the reordering timer for
 * the soonest of the rest (or stops it). Returns the bytes newly marked lost.
 */
export function rackDetectLoss(c: Tcb): number {
  if (!c.hasTxLog || c.rackXmitTs < 0) {
    c.clearTimer(T_REO);
    return 0;
  }
  const log = c.txLog;
  const now = c.layer.env.clock.now();
  const reoWnd = rackReoWnd(c);
  let lost = 0;
  let timeout = 0;
  for (let i = 0; i < log.size; i++) {
    const seg = log.at(i);
    // New data goes out in sequence order and a retransmission is sent after its original:
    // past an original sent after RACK.xmit_ts every segment was, so none can be lost yet.
    if (!seg.rtx && seg.order > c.rackXmitOrder) break;
    if (seg.sacked || seg.lost) continue;
    if (!rackSentAfter(c.rackXmitOrder, c.rackEndSeq, seg.order, seg.end)) continue;
    // "remaining = Segment.xmit_ts + RACK.rtt + RACK.reo_wnd - Now()"
    const remaining = seg.xmitTs + c.rackRtt + reoWnd - now;
    if (remaining <= 0) {
      log.setLost(seg, true);
      lost += seqSub(seg.end, seg.start);
    } else if (remaining > timeout) timeout = remaining;
  }
  if (timeout > 0) c.setTimer(T_REO, now + timeout);
  else c.clearTimer(T_REO);
  if (lost > 0) c.layer.stats.rackLosses += lost;
  return lost;
}

/** An RTO: the marks go (the scoreboard is cleared) and the reordering timer stops. */
export function rackOnRto(c: Tcb): void {
  c.clearTimer(T_REO);
  if (c.hasTxLog) c.txLog.forgetMarks();
}

/**
 * An RTO that keeps the SACK marks (Linux tcp_timeout_mark_lost with RACK): every segment
 * not SACKed is marked lost, but for a segment other than the head that was sent less than
 * RACK.rtt ago ("Don't mark recently sent ones lost yet": tcp_rack_skb_timeout(tp, skb, 0) >
 * 0); the reordering timer stops. Returns the bytes newly marked lost.
 */
export function rackTimeoutMarkLost(c: Tcb): number {
  c.clearTimer(T_REO);
  if (!c.hasTxLog) return 0;
  const log = c.txLog;
  const now = c.layer.env.clock.now();
  let lost = 0;
  for (let i = 0; i < log.size; i++) {
    const seg = log.at(i);
    if (seg.sacked || seg.lost) continue;
    if (i > 0 && c.rackXmitTs >= 0 && seg.xmitTs + c.rackRtt - now > 0) continue;
    log.setLost(seg, true);
    lost += seqSub(seg.end, seg.start);
  }
  return lost;
}

/** Bytes in flight by RACK's marks (Linux tcp_packets_in_flight): not SACKed, not lost. */
export function rackPipe(c: Tcb): number {
  const sacked = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
  const lost = c.hasTxLog ? c.txLog.lostBytes : 0;
  return Math.max(0, seqSub(c.sndMax, c.snd.una) - sacked - lost);
}

/** The first segment marked lost and not yet retransmitted, at most one MSS of it. */
export function rackNextLost(c: Tcb): { seq: Seq; len: number } | undefined {
  if (!c.hasTxLog || c.txLog.lostBytes <= 0) return undefined;
  const log = c.txLog;
  for (let i = 0; i < log.size; i++) {
    const seg = log.at(i);
    if (seg.lost) return { seq: seg.start, len: Math.min(c.mss, seqSub(seg.end, seg.start)) };
  }
  return undefined;
}
