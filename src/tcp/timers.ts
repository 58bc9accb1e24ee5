/**
 * Timers as functions of the TCB and the time. A connection keeps one deadline per kind
 * (Tcb.timerAt(kind): retransmission/loss probe, persist, delayed ACK, keepalive, TIME-WAIT or
 * FIN-WAIT-2, pacing) and ONE entry in the timer queue, at the earliest of them.
 *
 * Order: when the entry expires, runTimers runs the kind due first — the earliest
 * deadline, and among equal deadlines the one armed first — then puts the entry back at
 * the earliest deadline left, so another kind already due runs next, after whatever else
 * the queue holds for that instant. That is the order TimerQueue gives its own entries
 * (earliest deadline first, ties in insertion order), so a connection's kinds fire in the
 * order they did when each had a Timer of its own. (One difference remains, between
 * connections: a second kind due at the same instant as the first now queues behind
 * entries armed after it, where its own Timer would have kept its earlier place.)
 */

import type { Instant } from '../time/instant.ts';
import { ccContext } from './cc.ts';
import { ecnLossReduction } from './ecn.ts';
import { frtoOnRto } from './frto.ts';
import { terminate } from './lifecycle.ts';
import { sendAckAt, sendDataAt, sendSyn, tcpOutput } from './output.ts';
import { prrStart } from './prr.ts';
import { rackDetectLoss, rackEnabled, rackOnRto, rackTimeoutMarkLost } from './rack.ts';
import { recoveryPipe } from './recovery.ts';
import { enterRecovery } from './sender.ts';
import { seqAdd, seqGe, seqMax, seqSub } from './seq.ts';
import { canHaveDataInFlight, isHandshaking, isSynchronized, isUnconnected } from './state.ts';
import {
  NEVER,
  T_DELACK,
  T_KEEP,
  T_PACE,
  T_PERSIST,
  T_REO,
  T_RTX,
  T_WAIT,
  type Tcb,
  type TimerKind,
} from './tcb.ts';
import { settleLossProbe } from './tlp.ts';
import { undoStart } from './undo.ts';

/** FreeBSD tcp_timer.c tcp_backoff[TCP_MAXRXTSHIFT + 1]. */
const FREEBSD_BACKOFF = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512];
/** FreeBSD tcp_timer.h TCPTV_REXMTMAX: 64 s. */
const FREEBSD_REXMTMAX = 64_000_000;

/**
 * Retransmission timeout (RFC 6298 §5.4-5.6): retransmit the earliest unacknowledged
 * segment, back the timer off, and give up after the retry limit.
 */
export function onRtx(c: Tcb): void {
  const st = c.state;
  if (isUnconnected(st) || st === 'TIME-WAIT') return;
  if (c.ptoArmed) {
    // The timer held a tail-loss-probe timeout, not an RTO (RFC 8985 §7.3).
    c.ptoArmed = false;
    sendLossProbe(c);
    return;
  }
  const layer = c.layer;
  const cfg = layer.config;
  if (c.sndMax === c.snd.una && !isHandshaking(st)) return;
  layer.stats.timeouts++;
  c.stats.timeouts++;
  const now = layer.env.clock.now();
  // The head segment went out one RTO ago (Linux stamps retrans_stamp at the first retransmission).
  if (c.rtxCount === 0) c.rtxStamp = now - c.rtt.rto;
  c.rtxCount++;
  let limit =
    st === 'SYN-SENT' ? cfg.synRetries : st === 'SYN-RECEIVED' && !c.active ? cfg.synAckRetries : cfg.retries;
  // A deferred connection (TCP_DEFER_ACCEPT) lives at least through the deferring period.
  if (st === 'SYN-RECEIVED' && c.deferAcked) limit = Math.max(limit, c.opts.deferAccept ?? 0);
  const userTimeout = isSynchronized(st) ? (c.opts.userTimeout ?? 0) : 0;
  // RFC 5482 §3 / Linux tcp(7) TCP_USER_TIMEOUT: with a user timeout the time data has gone
  // unacknowledged, not the retransmission count, decides (retransmits_timed_out; the first
  // expiry always retransmits). Handshake states keep the SYN retry counts, as on Linux.
  const expired = userTimeout > 0 ? c.rtxCount > 1 && now - c.rtxStamp >= userTimeout : c.rtxCount > limit;
  // FreeBSD TCP_KEEPINIT / net.inet.tcp.keepinit (tcp_timer_keep in SYN-SENT): the active open
  // gives up this long after its first SYN (rtxStamp), also before synRetries runs out.
  const keepInit = st === 'SYN-SENT' ? (c.opts.keepInit ?? cfg.keepInit) : 0;
  if (expired || (keepInit > 0 && now - c.rtxStamp >= keepInit)) {
    layer.stats.timedOut++;
    terminate(c, 'timed-out');
    c.flush();
    return;
  }
  // RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")".
  c.rtt.backoff();
  if (isHandshaking(st)) handshakeTimeout(c, keepInit, now);
  else rtoRetransmit(c, userTimeout, now);
  c.flush();
}

/** An RTO during the handshake: our SYN or SYN-ACK again. */
function handshakeTimeout(c: Tcb, keepInit: number, now: Instant): void {
  const cfg = c.layer.config;
  const st = c.state;
  if (st === 'SYN-RECEIVED' && c.deferAcked) {
    // TCP_DEFER_ACCEPT (Linux syn_ack_recalc): the peer has our SYN-ACK, so it is not resent
    // until the last timeout of the deferring period, to give data a last chance.
    if (c.rtxCount - 1 >= (c.opts.deferAccept ?? 0) - 1) sendSyn(c);
    else c.armRto(c.layer.env.clock.now() + c.rtt.rto);
    return;
  }
  sendSyn(c);
  if (st === 'SYN-SENT' && cfg.synBackoff === 'freebsd') {
    // FreeBSD tcp_timer_rexmt: rexmt = tcp_rexmit_initial * tcp_backoff[t_rxtshift], then
    // TCPT_RANGESET adds rexmit_slop and caps it at TCPTV_REXMTMAX.
    const shift = Math.min(c.rtxCount, FREEBSD_BACKOFF.length - 1);
    const rexmt = Math.min(cfg.initialRto * FREEBSD_BACKOFF[shift]! + cfg.synRtoSlop, FREEBSD_REXMTMAX);
    c.armRto(now + rexmt);
  }
  if (keepInit > 0) clampToUserTimeout(c, T_RTX, c.rtxStamp + keepInit, now);
}

/** An RTO once synchronized: loss recovery restarts from SND.UNA with one segment. */
function rtoRetransmit(c: Tcb, userTimeout: number, now: Instant): void {
  // An RTO ends any tail-loss-probe episode (Linux tcp_retransmit_timer: tlp_high_seq = 0).
  c.tlpEndSeq = undefined;
  // The first RTO of an episode remembers the window for an undo (Linux tcp_enter_loss).
  const recovering = c.inRecovery || c.lossEnd !== undefined;
  const hadSacks = c.hasScoreboard && c.scoreboard.sackedBytes > 0;
  // Deviation: RFC 2018 §8 says that after a timeout the sender "SHOULD turn off all of the
  // SACKed bits" (the receiver may have reneged); Linux (tcp_timeout_mark_lost) keeps them
  // unless the head itself is SACKed, which is reneging, and retransmits only what is not
  // SACKed (RFC 6675 §5.1 allows using the SACK information after an RTO). Without it a path
  // with a few percent of loss resends whole windows the peer holds, one hole per round trip.
  const keepSack = hadSacks && rackEnabled(c) && !c.scoreboard.isSacked(c.snd.una);
  // RACK's marks go with the scoreboard's (below), and go-back-N resends everything; or,
  // keeping them, what is not SACKed is lost.
  if (keepSack) rackTimeoutMarkLost(c);
  else rackOnRto(c);
  if (!recovering) undoStart(c);
  // RFC 5681 §3.1 (ssthresh, cwnd = 1 SMSS) via the congestion module; leave recovery.
  c.cc.onRto(ccContext(c));
  ecnLossReduction(c);
  c.inRecovery = false;
  c.nrInflate = 0;
  c.dupAcks = 0;
  // RFC 6582 §3.2 step 4: "After a retransmit timeout, record the highest sequence number
  // transmitted in the variable recover".
  c.recover = c.sndMax;
  c.lossEnd = c.sndMax; // Linux's Loss state (tcpi_ca_state) until this is acknowledged
  c.highRxt = c.snd.una;
  c.lossSack = keepSack;
  if (keepSack) {
    // Linux tcp_retransmit_timer: the head goes again now; the rest of what is marked lost
    // follows from the recovery sender as the ACKs open cwnd (tcp_xmit_retransmit_queue),
    // and SND.NXT stays where it is.
    const used = sendDataAt(c, c.snd.una, c.mss, true);
    c.highRxt = seqAdd(c.snd.una, used);
  } else {
    // RFC 2018 §8: after a timeout the sender "SHOULD turn off all of the SACKed bits".
    if (c.hasScoreboard) c.scoreboard.clear();
    // Go back: resend from snd.una as the (now one-segment) window allows.
    c.snd.nxt = c.snd.una;
    const used = sendDataAt(c, c.snd.una, c.mss, true);
    c.snd.nxt = seqAdd(c.snd.una, used);
  }
  // RFC 5682 §3.1 step 1: F-RTO watches the ACKs that follow (frto.ts).
  frtoOnRto(c, recovering, keepSack ? c.highRxt : c.snd.nxt, hadSacks);
  // Linux tcp_clamp_rto_to_user_timeout: the next expiry comes no later than the user timeout.
  if (userTimeout > 0) clampToUserTimeout(c, T_RTX, c.rtxStamp + userTimeout, now);
}

/** Pulls an armed timer in to `end` (a user timeout or TCP_KEEPINIT deadline) (at least 1 us ahead, so an overdue abort fires next). */
function clampToUserTimeout(c: Tcb, kind: TimerKind, end: Instant, now: Instant): void {
  const at = c.timerAt(kind);
  if (at !== NEVER && at > end) c.setTimer(kind, Math.max(end, now + 1));
}

/**
 * Persist timer (RFC 9293 §3.8.6.1): with a zero send window, probe with one octet of new
 * data at increasing intervals; with a small nonzero window it overrides sender SWS avoidance.
 */
export function onPersist(c: Tcb): void {
  if (!canHaveDataInFlight(c.state)) return;
  const layer = c.layer;
  const off = seqSub(c.snd.nxt, c.sndBufSeq);
  const avail = c.sndBuf.length - off;
  if (avail <= 0 && seqSub(c.snd.nxt, c.snd.una) === 0) {
    c.persistCount = 0;
    return;
  }
  const inFlight = seqSub(c.snd.nxt, c.snd.una);
  if (c.snd.wnd > inFlight && avail > 0) {
    const used = sendDataAt(c, c.snd.nxt, c.snd.wnd - inFlight, false);
    c.snd.nxt = seqAdd(c.snd.nxt, used);
    c.persistCount = 0;
    c.flush();
    return;
  }
  layer.stats.zeroWindowProbes++;
  const now = layer.env.clock.now();
  c.persistCount++;
  if (c.persistCount === 1) c.persistStamp = now;
  const userTimeout = c.opts.userTimeout ?? 0;
  // TCP_USER_TIMEOUT also bounds zero-window probing (Linux tcp_probe_timer: the time since
  // the first unanswered probe).
  const userExpired = userTimeout > 0 && c.persistCount > 1 && now - c.persistStamp >= userTimeout;
  if (userExpired || (c.orphan && c.persistCount > layer.config.retries)) {
    layer.stats.timedOut++;
    terminate(c, 'timed-out');
    c.flush();
    return;
  }
  if (inFlight === 0) {
    const used = sendDataAt(c, c.snd.una, 1, false);
    c.snd.nxt = seqAdd(c.snd.una, used);
  } else {
    sendDataAt(c, c.snd.una, 1, true);
  }
  // The probe is governed by the persist timer, not the retransmission timer.
  c.cancelRtx();
  const base = Math.max(c.rtt.rto, layer.config.minRto);
  c.setTimer(T_PERSIST, now + Math.min(base * 2 ** c.persistCount, layer.config.persistMax));
  // Linux tcp_clamp_probe0_to_user_timeout.
  if (userTimeout > 0) clampToUserTimeout(c, T_PERSIST, c.persistStamp + userTimeout, now);
  c.flush();
}

/** Delayed ACK timer (RFC 9293 §3.8.6.3). */
export function onDelAck(c: Tcb): void {
  if (c.state === 'CLOSED') return;
  c.layer.stats.delayedAcks++;
  c.ackNow = true;
  tcpOutput(c);
  c.flush();
}

/**
 * Keepalive (RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6): after keepIdle without anything from the
 * peer, send <SEQ=SND.UNA-1><ACK=RCV.NXT> every keepInterval; after keepCount unanswered
 * probes the connection is dead.
 */
export function onKeepalive(c: Tcb): void {
  const st = c.state;
  if (!c.keepAliveOn || !isSynchronized(st) || st === 'TIME-WAIT') return;
  const now = c.layer.env.clock.now();
  if (c.keepaliveProbes === 0 && now - c.lastRecv < c.opts.keepIdle) {
    c.setTimer(T_KEEP, c.lastRecv + c.opts.keepIdle);
    return;
  }
  if (c.sndMax !== c.snd.una) {
    // Data outstanding: the retransmission timer watches the peer.
    c.keepaliveProbes = 0;
    c.setTimer(T_KEEP, now + c.opts.keepIdle);
    return;
  }
  if (c.keepaliveProbes >= c.opts.keepCount) {
    c.layer.stats.keepaliveTimeouts++;
    terminate(c, 'timed-out');
    c.flush();
    return;
  }
  c.keepaliveProbes++;
  c.layer.stats.keepaliveProbes++;
  sendAckAt(c, seqAdd(c.snd.una, -1));
  c.setTimer(T_KEEP, now + c.opts.keepInterval);
}

/** TIME-WAIT 2*MSL expiry, or the FIN-WAIT-2 timeout of an orphan. */
export function onWait(c: Tcb): void {
  if (c.state === 'TIME-WAIT') c.layer.stats.timeWaitExpired++;
  else if (c.state === 'FIN-WAIT-2') c.layer.stats.finWait2Timeouts++;
  else return;
  terminate(c, undefined);
  c.flush();
}

/**
 * RFC 8985 §6.3 the RACK reordering timer: segments that were waiting out the reordering
 * window may now be lost ("RACK_detect_loss_and_arm_timer()"); if some are, fast recovery
 * starts (Linux tcp_rack_reo_timeout) and they are retransmitted.
 */
export function onReorderTimeout(c: Tcb): void {
  if (!canHaveDataInFlight(c.state) || !rackEnabled(c) || c.sndMax === c.snd.una) return;
  c.layer.stats.rackTimeouts++;
  const lost = rackDetectLoss(c);
  if (lost > 0 || c.txLog.lostBytes > 0) {
    if (!c.inRecovery && seqGe(c.snd.una, c.recover)) {
      enterRecovery(c);
      // A pending loss probe gives way to recovery: the RTO again (Linux: one timer).
      settleLossProbe(c);
    }
    // No ACK brings PRR a delivery count here: allow the retransmission(s) one MSS beyond
    // what is in flight now, as on entering recovery (prr.ts).
    else if (c.inRecovery && c.layer.config.prr && c.prrOut === 0) prrStart(c, recoveryPipe(c));
    tcpOutput(c);
  }
  c.flush();
}

/** Pacing: the next burst is due (opts.pacingRate). */
export function onPace(c: Tcb): void {
  tcpOutput(c);
  c.flush();
}

/**
 * RFC 8985 §7.3 "Sending a Loss Probe": the PTO fired. Sends one segment of new data if
 * the peer's window allows, else retransmits the last segment sent, then re-arms the RTO.
 */
export function sendLossProbe(c: Tcb): void {
  const layer = c.layer;
  const now = layer.env.clock.now();
  if (c.sndMax === c.snd.una) return;
  const off = seqSub(c.snd.nxt, c.sndBufSeq);
  const avail = c.sndBuf.length - off;
  const inFlight = seqSub(c.snd.nxt, c.snd.una);
  let used = 0;
  // "If an unsent segment exists AND the receive window allows new data to be sent:
  // Transmit the lowest-sequence unsent segment of up to SMSS" (cwnd does not apply).
  if (avail > 0 && c.snd.nxt === c.sndMax && c.snd.wnd > inFlight) {
    used = sendDataAt(c, c.snd.nxt, Math.min(c.mss, c.snd.wnd - inFlight), false);
    c.snd.nxt = seqAdd(c.snd.nxt, used);
    c.tlpIsRetrans = false;
  }
  if (used === 0) {
    // "Else: Retransmit the highest-sequence segment sent so far" (the last one sent as new
    // data, or its last SMSS if it was longer).
    const start = seqMax(c.snd.una, seqMax(c.tailSeq, seqAdd(c.sndMax, -c.mss)));
    used = sendDataAt(c, start, seqSub(c.sndMax, start), true);
    c.tlpIsRetrans = true;
  }
  if (used === 0) {
    c.armRto(now + c.rtt.rto);
    return;
  }
  layer.stats.lossProbes++;
  c.stats.lossProbes++;
  // "TLP.end_seq = SND.NXT"
  c.tlpEndSeq = c.sndMax;
  // "After attempting to send a loss probe ... the sender MUST re-arm the RTO timer, not
  // the PTO timer, if the FlightSize is not zero."
  c.armRto(now + c.rtt.rto);
  c.flush();
}

/** The connection's timer entry expired at `now`: runs the kind due first (see above). */
export function runTimers(c: Tcb, now: Instant): void {
  const kind = c.takeDueTimer(now);
  switch (kind) {
    case T_RTX:
      onRtx(c);
      break;
    case T_PERSIST:
      onPersist(c);
      break;
    case T_DELACK:
      onDelAck(c);
      break;
    case T_KEEP:
      onKeepalive(c);
      break;
    case T_WAIT:
      onWait(c);
      break;
    case T_PACE:
      onPace(c);
      break;
    case T_REO:
      onReorderTimeout(c);
      break;
    default:
      break;
  }
  c.rescheduleTimer();
}
