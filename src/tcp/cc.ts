/**
 * The connection's side of congestion control: what it tells the algorithm
 * (congestion/types.ts CongestionContext) at each event.
 */
import { createCongestionControl } from './congestion/factory.ts';
import type { CongestionContext, CongestionControl, CongestionName } from './congestion/types.ts';
import { seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

export function ccContext(c: Tcb): CongestionContext {
  const ctx: CongestionContext = {
    now: c.layer.env.clock.now(),
    mss: c.mss,
    flightSize: seqSub(c.sndMax, c.snd.una),
  };
  const sacked = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
  const lost = c.hasTxLog ? c.txLog.lostBytes : 0;
  ctx.inFlight = Math.max(0, ctx.flightSize - sacked - lost);
  ctx.caState = c.lossEnd !== undefined ? 'loss' : c.inRecovery ? 'recovery' : 'open';
  ctx.una = c.snd.una;
  if (c.lastDataSend > 0) ctx.lastSend = c.lastDataSend;
  ctx.sndNxt = c.sndMax;
  // This ACK's RTT: from the transmit log (µs) when kept, else the RTT measurement's sample.
  const ackRtt = c.rsRttUs >= 0 ? c.rsRttUs : c.ackRttUs;
  if (ackRtt >= 0) ctx.ackRtt = ackRtt;
  const srtt = c.rtt.srtt;
  if (srtt !== undefined) ctx.rtt = srtt;
  if (c.minRtt > 0) ctx.minRtt = c.minRtt;
  if (c.gsoSegs > 2) ctx.ackSegs = c.gsoSegs;
  return ctx;
}

/** The controller the connection's options name, for its MSS, with the stack's randomness. */
export function ccCreate(c: Tcb, name: CongestionName = c.opts.congestion): CongestionControl {
  const rng = c.layer.env.rng;
  return createCongestionControl(name, c.mss, {
    random: (n) => rng.below(n),
    slowStartExit: c.layer.config.hystart,
    abcLimit: c.layer.config.slowStartLimit,
  });
}
