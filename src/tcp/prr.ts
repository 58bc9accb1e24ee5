/**
 * Proportional Rate Reduction (RFC 6937), the window during fast recovery when
 * config.prr is set (Linux tcp_cwnd_reduction). The congestion controller still decides
 * ssthresh (congestion/); PRR decides how fast the data in flight comes down to it: while
 * pipe is above ssthresh, one segment goes out for every ssthresh/RecoverFS delivered
 * (prr_delivered, prr_out); once pipe falls below ssthresh, the slow-start reduction bound
 * (PRR-SSRB) lets it grow back by at most one MSS more than was delivered per ACK. The
 * result is the window the recovery sender uses (Tcb.prrCwnd = pipe + sndcnt). Bytes
 * throughout.
 */
import type { Tcb } from './tcb.ts';

/**
 * Recovery begins (RFC 6937 §3 "Initialization on entering recovery": prr_delivered = 0,
 * prr_out = 0, RecoverFS). `pipe` is the data in flight now: the window allows one
 * retransmission before any ACK arrives (Linux forces the fast retransmit).
 */
export function prrStart(c: Tcb, pipe: number): void {
  c.prrDelivered = 0;
  c.prrOut = 0;
  // Deviation: RFC 6937's RecoverFS is snd.nxt - snd.una; Linux (tcp_cwnd_reduction) divides
  // by prior_cwnd, the window before the reduction (undo.ts keeps it). SACKed data above the
  // hole is in snd.nxt - snd.una but no longer in flight: against it, each ACK would release
  // less than ssthresh / cwnd of what it delivered.
  c.prrRecoverFs = Math.max(1, c.priorCwnd);
  c.prrCwnd = pipe + c.mss;
}

/**
 * RFC 6937 §3 "On every ACK during recovery". `delivered` is DeliveredData (the change in
 * SND.UNA plus the change in SACKed bytes), `pipe` the RFC 6675 pipe after the ACK's loss
 * marking, `unaAdvanced` whether SND.UNA moved and `newlyLost` whether the ACK marked data
 * lost. Returns sndcnt.
 */
export function prrOnAck(
  c: Tcb,
  delivered: number,
  pipe: number,
  unaAdvanced: boolean,
  newlyLost: boolean,
): number {
  if (delivered <= 0) return Math.max(0, c.prrCwnd - pipe);
  c.prrDelivered += delivered;
  const ssthresh = c.cc.ssthresh;
  let sndcnt: number;
  if (pipe > ssthresh) {
    // "sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out", CEIL in whole segments
    // as Linux counts packets (in bytes it would round down to the segment the sender needs).
    const seg = c.tsOk ? c.mss - 12 : c.mss;
    sndcnt = Math.ceil((c.prrDelivered * ssthresh) / c.prrRecoverFs / seg - 1e-9) * seg - c.prrOut;
  } else {
    // PRR-SSRB: "limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS". As Linux (and
    // RFC 6937bis) the extra MSS only on an ACK that advances SND.UNA without new losses:
    // "sndcnt = MIN(ssthresh - pipe, limit)".
    let limit = Math.max(c.prrDelivered - c.prrOut, delivered);
    if (unaAdvanced && !newlyLost) limit += c.mss;
    sndcnt = Math.min(ssthresh - pipe, limit);
  }
  // Linux tcp_cwnd_reduction: "Force a fast retransmit upon entering fast recovery".
  if (c.prrOut === 0) sndcnt = Math.max(sndcnt, c.mss);
  sndcnt = Math.max(0, sndcnt);
  c.prrCwnd = pipe + sndcnt;
  return sndcnt;
}

/** "On any data transmission or retransmission: prr_out += (data sent)". */
export function prrTransmitted(c: Tcb, bytes: number): void {
  if (c.inRecovery) c.prrOut += bytes;
}
