/**
 * Tail Loss Probe, RFC 8985 §7 (the TLP half of RACK-TLP; Linux tcp_early_retrans >= 3).
 *
 * A loss at the tail of a flight leaves no later segments to produce duplicate ACKs, so
 * without a probe only the RTO would repair it. After sending new data, or on an ACK of
 * new data, the sender arms a probe timeout (PTO) of about two round trips in place of
 * the RTO. When it fires, one segment goes out — new data if the window allows, else the
 * last segment sent again — and its ACK (or SACK) brings the loss to light, so fast
 * recovery repairs it instead of an RTO. The RTO is re-armed behind the probe and stays
 * the last resort.
 */
import { ccContext } from './cc.ts';
import { type Seq, seqGe, seqGt, seqSub } from './seq.ts';
import { canHaveDataInFlight } from './state.ts';
import { T_REO, T_RTX, type Tcb } from './tcb.ts';

/** RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK timer a receiver may run, 200 ms. */
export const WC_DEL_ACK_T = 200_000;
/** RFC 8985 §7.2: the PTO before an RTT has been measured, 1 s. */
const PTO_NO_RTT = 1_000_000;

/**
 * RFC 8985 §7.2: may this connection arm a PTO now? Only with SACK (the probe's ACK must be
 * able to show which segment was lost), data in flight, outside fast recovery and RTO
 * recovery, with no probe outstanding, and not while the persist timer owns the window.
 */
function canProbe(c: Tcb): boolean {
  return (
    c.layer.config.tlp &&
    c.sackOk &&
    canHaveDataInFlight(c.state) &&
    c.sndMax !== c.snd.una &&
    !c.inRecovery &&
    // RTO recovery: after a timeout, until everything sent before it is acknowledged.
    c.rtxCount === 0 &&
    seqGe(c.snd.una, c.recover) &&
    c.tlpEndSeq === undefined &&
    !c.persistArmed &&
    // Not while RACK's reordering timer runs: it will find the loss sooner (Linux: the two
    // share the retransmission timer, and tcp_schedule_loss_probe gives way).
    !c.timerArmed(T_REO)
  );
}

/**
 * RFC 8985 §7.2 "Scheduling a Loss Probe": called after new data goes out (`advancing`
 * false) and on an ACK of new data (`advancing` true: the RTO would restart now). Returns
 * false when the connection may not probe (the caller keeps or arms the RTO).
 */
export function scheduleLossProbe(c: Tcb, advancing: boolean): boolean {
  if (!canProbe(c)) return false;
  const now = c.layer.env.clock.now();
  const srtt = c.rtt.srtt;
  let pto: number;
  if (srtt !== undefined) {
    // "PTO = 2 * SRTT; If FlightSize is one segment: PTO += WCDelAckT" (a lone segment may
    // wait out the receiver's delayed-ACK timer).
    pto = 2 * srtt;
    if (seqSub(c.sndMax, c.snd.una) <= c.mss) pto += WC_DEL_ACK_T;
  } else pto = PTO_NO_RTT;
  // "If the RTO timer would expire sooner than the PTO, arm the RTO timer instead": the
  // PTO never fires after the RTO would have.
  const rtoAt =
    !advancing && c.ptoArmed
      ? c.ptoRtoDeadline
      : !advancing && c.rtxArmed
        ? c.timerAt(T_RTX)
        : now + c.rtt.rto;
  c.armPto(Math.min(now + pto, rtoAt), rtoAt);
  return true;
}

/**
 * A pending PTO whose connection can no longer probe (it entered fast recovery, say)
 * turns back into the RTO it stood in for (Linux tcp_set_xmit_timer: no probe, so rearm
 * the RTO).
 */
export function settleLossProbe(c: Tcb): void {
  if (c.ptoArmed && !canProbe(c)) c.armRto(c.ptoRtoDeadline);
}

/**
 * RFC 8985 §7.4 "Detecting Losses Using the ACK of the Loss Probe". `ack` is SEG.ACK;
 * `dsack` tells whether the ACK carries a D-SACK block (RFC 2883); `pureDup` whether it is
 * a duplicate ACK bringing nothing new; `flightBefore` the FlightSize before this ACK.
 */
export function tlpProcessAck(
  c: Tcb,
  ack: Seq,
  dsack: boolean,
  pureDup: boolean,
  flightBefore: number,
): void {
  const end = c.tlpEndSeq;
  if (end === undefined || !seqGe(ack, end)) return;
  if (!c.tlpIsRetrans) {
    // The probe was new data: nothing to learn about a loss.
    c.tlpEndSeq = undefined;
  } else if (dsack) {
    // The original and the probe both arrived: no loss, the retransmission was redundant.
    c.tlpEndSeq = undefined;
  } else if (seqGt(ack, end)) {
    // The ACK went beyond the probe without a D-SACK: the probe repaired a loss. React as
    // to a loss (RFC 8985 §7.4 "invoke congestion control"; Linux tcp_process_tlp_ack: one
    // cwnd reduction to ssthresh, computed from the flight the loss was in).
    c.tlpEndSeq = undefined;
    c.layer.stats.lossProbeRecoveries++;
    c.cc.onEnterRecovery({ ...ccContext(c), flightSize: flightBefore });
  } else if (pureDup) {
    // A duplicate ACK without SACK information: the original and the probe both arrived
    // (a D-SACK may have been lost). No loss.
    c.tlpEndSeq = undefined;
  }
}
