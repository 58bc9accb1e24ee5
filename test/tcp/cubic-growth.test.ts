/**
 * CUBIC's congestion-avoidance growth before any W_max (src/tcp/congestion/cubic.ts): Linux's
 * floor of cwnd / 20 per RTT (tcp_cubic.c bictcp_update, ca->cnt <= 20 while last_max_cwnd is
 * 0), driven by hand-made ACKs at virtual times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cubic } from '../../src/tcp/congestion/cubic.ts';
import type { CongestionContext } from '../../src/tcp/congestion/types.ts';

const MSS = 1000;
const RTT = 100_000;

/** One RTT of ACKs, one segment each, spread evenly; returns the time after it. */
function oneRtt(cc: Cubic, now: number): number {
  const n = Math.floor(cc.cwnd / MSS);
  for (let i = 0; i < n; i++) {
    now += Math.floor(RTT / n);
    const ctx: CongestionContext = { now, mss: MSS, flightSize: cc.cwnd, rtt: RTT, minRtt: RTT };
    cc.onAck(MSS, ctx);
  }
  return now;
}

describe('CUBIC growth with no W_max', () => {
  it('Linux: after slow start ended without a loss, cwnd grows by at least cwnd/20 per RTT', () => {
    const cc = new Cubic(MSS); // Linux's HyStart, and with it Linux's floor
    assert.equal(cc.growthFloor, true);
    cc.adopt(100 * MSS, 100 * MSS); // slow start over at 100 segments (as HyStart leaves it)
    let now = 1_000_000;
    now = oneRtt(cc, now);
    // 100 ACKed segments, each at least 1/20 of a segment: 105 (W_cubic from K = 0 and the
    // Reno-friendly estimate alone give about 101).
    assert.ok(cc.cwnd >= 104.9 * MSS && cc.cwnd < 106 * MSS, `cwnd ${cc.cwnd / MSS}`);
    now = oneRtt(cc, now);
    assert.ok(cc.cwnd >= 109.9 * MSS, `second RTT: cwnd ${cc.cwnd / MSS}`);

    const rfc = new Cubic(MSS, { growthFloor: false });
    rfc.adopt(100 * MSS, 100 * MSS);
    oneRtt(rfc, 1_000_000);
    assert.ok(rfc.cwnd < 102 * MSS, `RFC 9438 alone: cwnd ${rfc.cwnd / MSS}`);
  });

  it('once a loss set W_max the floor is gone; an RTO clears W_max and brings it back', () => {
    const cc = new Cubic(MSS);
    cc.adopt(100 * MSS, 100 * MSS);
    let now = oneRtt(cc, 1_000_000);
    const ctx = (): CongestionContext => ({ now, mss: MSS, flightSize: cc.cwnd, rtt: RTT, minRtt: RTT });
    cc.onEnterRecovery(ctx());
    cc.onExitRecovery({ ...ctx(), prrExit: true });
    assert.ok(cc.state.wMax !== undefined);
    const afterLoss = cc.cwnd;
    now = oneRtt(cc, now);
    // Concave region below W_max: growth well under 1/20 per RTT at the epoch's start... but
    // the Reno-friendly estimate (alpha 0.53) still adds about half a segment.
    assert.ok(cc.cwnd - afterLoss < 3 * MSS, `after a loss: +${(cc.cwnd - afterLoss) / MSS}`);

    cc.onRto(ctx());
    assert.equal(cc.state.wMax, undefined);
    cc.adopt(40 * MSS, 40 * MSS); // (slow start back up to ssthresh, condensed)
    now = oneRtt(cc, now + 1_000_000);
    assert.ok(cc.cwnd >= 41.9 * MSS, `after an RTO: cwnd ${cc.cwnd / MSS}`);
  });

  it('Linux counts packets: below W_max the target is the curve rounded up to a whole packet', () => {
    // cwnd 6, a loss: ssthresh 4, W_max 6, K = cbrt(2 / 0.4) = 1.71 s. One RTT later the
    // curve, W(t + RTT) = 6 - 0.4 * (1.71 - 0.125)^3 = 4.4, is 0.4 packets above cwnd; Linux's
    // bictcp_update truncates the offset C(K - t)^3 = 1.6 to 1 packet: target 5, cnt = 4,
    // one packet in that RTT (tcp_cubic.c: bic_target = origin_point - delta).
    const grow = (cc: Cubic): number => {
      cc.adopt(6 * MSS, 6 * MSS);
      let now = 1_000_000;
      const ctx = (): CongestionContext => ({ now, mss: MSS, flightSize: cc.cwnd, rtt: RTT, minRtt: RTT });
      cc.onEnterRecovery(ctx());
      cc.onExitRecovery({ ...ctx(), prrExit: true });
      const start = cc.cwnd;
      now = oneRtt(cc, now);
      return (cc.cwnd - start) / MSS;
    };
    const linux = new Cubic(MSS);
    const g = grow(linux);
    assert.ok(g >= 0.99 && g < 1.2, `Linux: from 4 packets, +${g}`);
    // RFC 9438 (FreeBSD's profile: no HyStart, bytes): from 4.2 segments the curve gives 0.4
    // of a segment in the RTT, and the Reno-friendly estimate about half of one.
    const rfc = grow(new Cubic(MSS, { slowStartExit: 'none' }));
    assert.ok(rfc > 0.3 && rfc < 0.6, `RFC 9438: +${rfc}`);
  });
});
