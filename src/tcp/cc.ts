/**
 * The connection's side of congestion control: what it tells the algorithm
 * (congestion/types.ts CongestionContext) at each event.
 */
import type { CongestionContext } from './congestion/types.ts';
import { seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

export function ccContext(c: Tcb): CongestionContext {
  const ctx: CongestionContext = {
    now: c.layer.env.clock.now(),
    mss: c.mss,
    flightSize: seqSub(c.sndMax, c.snd.una),
  };
  const srtt = c.rtt.srtt;
  if (srtt !== undefined) ctx.rtt = srtt;
  if (c.minRtt > 0) ctx.minRtt = c.minRtt;
  if (c.gsoSegs > 2) ctx.ackSegs = c.gsoSegs;
  return ctx;
}
