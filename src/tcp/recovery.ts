/**
 * What the SACK recovery sender (output.ts sackRecoverySend) asks, answered by the loss
 * detection in use: RACK's marks (rack.ts, RFC 8985) or RFC 6675's DupThresh rule
 * (sack.ts), and the window, PRR's (prr.ts, RFC 6937) or cwnd.
 */
import { rackEnabled, rackNextLost, rackPipe } from './rack.ts';
import type { Seq } from './seq.ts';
import type { Tcb } from './tcb.ts';

/** Data in flight during recovery (RFC 6675 pipe; with RACK, unSACKed bytes not marked lost). */
export function recoveryPipe(c: Tcb): number {
  if (rackEnabled(c)) return rackPipe(c);
  return c.scoreboard.pipe(c.snd.una, c.sndMax, c.mss, c.highRxt);
}

/**
 * Does the SACK recovery sender (output.ts sackRecoverySend) run now? In fast recovery, and in
 * the Loss state after an RTO that kept the SACK scoreboard (timers.ts): Linux's
 * tcp_xmit_retransmit_queue serves both, lost segments first, then new data.
 */
export function sackRecovering(c: Tcb): boolean {
  return c.sackOk && (c.inRecovery || (c.lossSack && c.lossEnd !== undefined));
}

/** The window recovery sends against: PRR's (config.prr) in fast recovery, or cwnd. */
export function recoveryCwnd(c: Tcb): number {
  // A controller that sets the window on every ACK (BBR) runs recovery's window itself, as
  // Linux's cong_control hook replaces tcp_cwnd_reduction. The Loss state slow-starts cwnd.
  return c.layer.config.prr && !c.cc.ownsWindow && c.inRecovery ? c.prrCwnd : c.cc.cwnd;
}

/**
 * The next retransmission: with RACK the first segment marked lost (RFC 8985 §6.2: lost
 * segments are retransmitted first; no rule (3) for holes not lost); else RFC 6675 NextSeg.
 */
export function recoveryNextSeg(c: Tcb, newDataAvailable: boolean): { seq: Seq; len: number } | undefined {
  if (rackEnabled(c)) return rackNextLost(c);
  return c.scoreboard.nextSeg(c.snd.una, c.sndMax, c.mss, c.highRxt, newDataAvailable);
}
