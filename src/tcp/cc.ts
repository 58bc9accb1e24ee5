/**
 * The connection's side of congestion control: what it tells the algorithm
 * (congestion/types.ts CongestionContext) at each event.
 */
import { createCongestionControl } from './congestion/factory.ts';
import type { CongestionContext, CongestionControl, CongestionName } from './congestion/types.ts';
import { seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

export function ccContext(c: Tcb): CongestionContext {
  // One literal of a fixed shape (absent values undefined): the engine allocates it in one
  // step, and every controller's reads of it see one shape. (Adding the optional fields one
  // by one made each context walk a chain of shapes, on every transmission start and ACK.)
  const flightSize = seqSub(c.sndMax, c.snd.una);
  const sacked = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
  const lost = c.hasTxLog ? c.txLog.lostBytes : 0;
  // This ACK's RTT: from the transmit log (µs) when kept, else the RTT measurement's sample.
  const ackRtt = c.rsRttUs >= 0 ? c.rsRttUs : c.ackRttUs;
  return {
    now: c.layer.env.clock.now(),
    mss: c.mss,
    segBytes: c.tsOk ? c.mss - 12 : c.mss,
    flightSize,
    sndWnd: c.snd.wnd,
    rtt: c.rtt.srtt,
    minRtt: c.minRtt > 0 ? c.minRtt : undefined,
    prrExit: undefined,
    inFlight: Math.max(0, flightSize - sacked - lost),
    ackRtt: ackRtt >= 0 ? ackRtt : undefined,
    una: c.snd.una,
    sndNxt: c.sndMax,
    lastSend: c.lastDataSend > 0 ? c.lastDataSend : undefined,
    caState: c.lossEnd !== undefined ? 'loss' : c.inRecovery ? 'recovery' : 'open',
    ackSegs: c.gsoSegs > 2 ? c.gsoSegs : undefined,
  };
}

/** The controller the connection's options name, for its MSS, with the stack's randomness. */
export function ccCreate(c: Tcb, name: CongestionName = c.opts.congestion): CongestionControl {
  const cfg = c.layer.config;
  // One literal, no closure unless BBR draws random numbers (a closure per connection is an
  // allocation, and a named function under tsx).
  return createCongestionControl(name, c.mss, {
    random: name === 'bbr' ? rngBelow(c.layer.env.rng) : undefined,
    slowStartExit: cfg.hystart,
    abcLimit: cfg.slowStartLimit,
    cubicFirstHalves: cfg.cubicFirstHalves,
    renoSsthresh: cfg.renoSsthresh,
  });
}

function rngBelow(rng: Tcb['layer']['env']['rng']): (n: number) => number {
  return (n) => rng.below(n);
}
