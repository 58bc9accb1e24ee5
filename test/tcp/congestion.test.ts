import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { CUBIC_ALPHA, CUBIC_BETA, Cubic, cubicK, wCubic } from '../../src/tcp/congestion/cubic.ts';
import { createCongestionControl } from '../../src/tcp/congestion/factory.ts';
import { NewReno } from '../../src/tcp/congestion/newreno.ts';
import {
  type CongestionContext,
  INITIAL_SSTHRESH,
  initialWindow,
  type RenoSsthresh,
} from '../../src/tcp/congestion/types.ts';
import { FREEBSD, LINUX } from '../../src/tcp/profile.ts';
import { millis, seconds } from '../../src/time/instant.ts';

const MSS = 1000;
const ctx = (over: Partial<CongestionContext> = {}): CongestionContext => ({
  now: 0,
  mss: MSS,
  flightSize: 0,
  ...over,
});

describe('NewReno ssthresh per profile (renoSsthresh)', () => {
  // With timestamps a segment carries MSS - 12 bytes: the unit both kernels count cwnd in.
  const SEG = MSS - 12;
  const grownTo = (rule: RenoSsthresh, segs: number): NewReno => {
    const cc = new NewReno(MSS, { renoSsthresh: rule });
    cc.adopt(segs * SEG, INITIAL_SSTHRESH);
    return cc;
  };
  const tsCtx = (over: Partial<CongestionContext>) => ctx({ segBytes: SEG, ...over });

  it('the profiles choose Linux tcp_reno_ssthresh and FreeBSD newreno_cong_signal; the class alone keeps RFC 5681', () => {
    assert.equal(tcpConfigFor(LINUX).renoSsthresh, 'linux-cwnd-half');
    assert.equal(tcpConfigFor(FREEBSD).renoSsthresh, 'freebsd-cwnd-half');
    const alone = new NewReno(MSS);
    alone.onEnterRecovery(ctx({ flightSize: 6 * MSS }));
    assert.equal(alone.ssthresh, 3 * MSS, 'FlightSize / 2, not cwnd / 2 (5)');
    const cc = createCongestionControl('newreno', MSS, { renoSsthresh: tcpConfigFor(FREEBSD).renoSsthresh });
    cc.onRto(ctx({ flightSize: 10 * MSS, sndWnd: 4 * MSS }));
    assert.equal(cc.ssthresh, 2 * MSS, 'min(SND.WND, cwnd) / 2: the factory passes the rule on');
  });

  it('Linux, fast retransmit: max(cwnd >> 1, 2) segments, whatever the flight (an application-limited sender)', () => {
    const cc = grownTo('linux-cwnd-half', 21);
    cc.onEnterRecovery(tsCtx({ flightSize: 6 * SEG }));
    assert.equal(cc.ssthresh, 10 * SEG, '21 >> 1 = 10 segments, not FlightSize/2 = 3');
    assert.equal(cc.cwnd, 10 * SEG);
    const small = grownTo('linux-cwnd-half', 3);
    small.onEnterRecovery(tsCtx({ flightSize: 3 * SEG }));
    assert.equal(small.ssthresh, 2 * SEG, 'never below 2 segments');
  });

  it('Linux, RTO: the same rule (tcp_enter_loss calls ssthresh()), the peer window plays no part', () => {
    const cc = grownTo('linux-cwnd-half', 40);
    cc.onRto(tsCtx({ flightSize: 40 * SEG, sndWnd: 8 * SEG }));
    assert.equal(cc.ssthresh, 20 * SEG);
    assert.equal(cc.cwnd, MSS);
  });

  it('FreeBSD, fast retransmit: max(cwnd / 2 / maxseg, 2) * maxseg', () => {
    const cc = grownTo('freebsd-cwnd-half', 20);
    cc.adopt(20 * SEG + SEG / 2, INITIAL_SSTHRESH); // rounded down to whole segments
    cc.onEnterRecovery(tsCtx({ flightSize: 4 * SEG }));
    assert.equal(cc.ssthresh, 10 * SEG);
  });

  it('FreeBSD, RTO: half of min(snd_wnd, cwnd) in whole segments, at least 2 (CC_RTO)', () => {
    const cc = grownTo('freebsd-cwnd-half', 40);
    cc.onRto(tsCtx({ flightSize: 40 * SEG, sndWnd: 9 * SEG }));
    assert.equal(cc.ssthresh, 4 * SEG, 'min(9, 40) / 2 = 4 segments');
    assert.equal(cc.cwnd, MSS);
    const wide = grownTo('freebsd-cwnd-half', 40);
    wide.onRto(tsCtx({ flightSize: 10 * SEG, sndWnd: 1 << 20 }));
    assert.equal(wide.ssthresh, 20 * SEG, 'cwnd is the smaller');
    const shut = grownTo('freebsd-cwnd-half', 40);
    shut.onRto(tsCtx({ flightSize: 10 * SEG, sndWnd: 0 }));
    assert.equal(shut.ssthresh, 2 * SEG);
  });

  it('RFC 5681 (by config): max(FlightSize / 2, 2*SMSS) on either event', () => {
    const cc = grownTo('rfc5681-flight-size', 40);
    cc.onEnterRecovery(tsCtx({ flightSize: 6 * SEG }));
    assert.equal(cc.ssthresh, 3 * SEG);
    const t = grownTo('rfc5681-flight-size', 40);
    t.onRto(tsCtx({ flightSize: 3 * SEG, sndWnd: 8 * SEG }));
    assert.equal(t.ssthresh, 2 * MSS);
  });
});

describe('initialWindow (RFC 6928)', () => {
  it('is min(10*MSS, max(2*MSS, 14600))', () => {
    assert.equal(initialWindow(1460), 14600);
    assert.equal(initialWindow(536), 5360);
    assert.equal(initialWindow(9000), 18000);
    assert.equal(initialWindow(100), 1000);
  });
});

describe('createCongestionControl', () => {
  it('builds each algorithm with IW and "infinite" ssthresh', () => {
    for (const name of ['newreno', 'cubic', 'bbr'] as const) {
      const cc = createCongestionControl(name, 1460);
      assert.equal(cc.name, name);
      assert.equal(cc.cwnd, 14600);
      assert.equal(cc.ssthresh, INITIAL_SSTHRESH);
    }
    assert.throws(() => createCongestionControl('vegas' as 'cubic', 1460), RangeError);
  });
});

/** NewReno with RFC 5681's ssthresh rule (equation 4), which the tests below assert by name. */
const rfcReno = () => new NewReno(MSS, { renoSsthresh: 'rfc5681-flight-size' });

describe('NewReno (RFC 5681 + ABC)', () => {
  it('slow start grows by min(acked, 2*SMSS) per ACK', () => {
    const cc = rfcReno();
    assert.equal(cc.cwnd, 10_000);
    cc.onAck(1000, ctx());
    assert.equal(cc.cwnd, 11_000);
    cc.onAck(10_000, ctx()); // stretch ACK: L = 2
    assert.equal(cc.cwnd, 13_000);
    cc.onAck(0, ctx());
    assert.equal(cc.cwnd, 13_000);
  });
  it('a window of ACKs doubles cwnd in slow start', () => {
    const cc = rfcReno();
    for (let i = 0; i < 10; i++) cc.onAck(MSS, ctx());
    assert.equal(cc.cwnd, 20_000);
  });
  it('fast retransmit: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh', () => {
    const cc = rfcReno();
    cc.onEnterRecovery(ctx({ flightSize: 30_000 }));
    assert.equal(cc.ssthresh, 15_000);
    assert.equal(cc.cwnd, 15_000);
    cc.onEnterRecovery(ctx({ flightSize: 3_000 }));
    assert.equal(cc.ssthresh, 2_000);
  });
  it('exit recovery: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) (RFC 6582 option 1)', () => {
    const cc = rfcReno();
    cc.onEnterRecovery(ctx({ flightSize: 30_000 }));
    cc.onExitRecovery(ctx({ flightSize: 0 }));
    assert.equal(cc.cwnd, 2_000);
    cc.onEnterRecovery(ctx({ flightSize: 30_000 }));
    cc.onExitRecovery(ctx({ flightSize: 20_000 }));
    assert.equal(cc.cwnd, 15_000);
  });
  it('congestion avoidance: +1 SMSS per cwnd of acknowledged bytes', () => {
    const cc = rfcReno();
    cc.onEnterRecovery(ctx({ flightSize: 20_000 }));
    cc.onExitRecovery(ctx({ flightSize: 10_000 }));
    assert.equal(cc.cwnd, 10_000);
    for (let i = 0; i < 9; i++) cc.onAck(MSS, ctx());
    assert.equal(cc.cwnd, 10_000);
    cc.onAck(MSS, ctx());
    assert.equal(cc.cwnd, 11_000);
    for (let i = 0; i < 11; i++) cc.onAck(MSS, ctx());
    assert.equal(cc.cwnd, 12_000);
  });
  it('slow start stops at ssthresh and the rest of the ACK counts for congestion avoidance', () => {
    const cc = rfcReno();
    cc.onRto(ctx({ flightSize: 10_500 })); // ssthresh 5250, cwnd 1000
    assert.equal(cc.ssthresh, 5_250);
    cc.onAck(2000, ctx());
    cc.onAck(2000, ctx());
    assert.equal(cc.cwnd, 5_000);
    cc.onAck(2000, ctx());
    assert.equal(cc.cwnd, 5_250);
  });
  it('RTO: cwnd = 1 SMSS; a repeated RTO keeps ssthresh (RFC 5681 §3.1)', () => {
    const cc = rfcReno();
    cc.onRto(ctx({ flightSize: 20_000 }));
    assert.equal(cc.cwnd, 1_000);
    assert.equal(cc.ssthresh, 10_000);
    cc.onRto(ctx({ flightSize: 1_000 }));
    assert.equal(cc.ssthresh, 10_000);
    cc.onAck(1000, ctx());
    cc.onRto(ctx({ flightSize: 2_000 }));
    assert.equal(cc.ssthresh, 2_000);
  });
  it('idle restart: cwnd = min(IW, cwnd) (RFC 5681 §4.1)', () => {
    const cc = new NewReno(MSS);
    for (let i = 0; i < 40; i++) cc.onAck(MSS, ctx());
    assert.equal(cc.cwnd, 50_000);
    cc.onIdle(ctx(), seconds(5));
    assert.equal(cc.cwnd, 10_000);
    assert.equal(cc.ssthresh, INITIAL_SSTHRESH);
    // RFC 2861 §3 (Linux tcp_current_ssthresh, FreeBSD newreno_after_idle): ssthresh keeps 3/4 of the old window.
    cc.adopt(50_000, 20_000);
    cc.onIdle(ctx(), seconds(5));
    assert.deepEqual([cc.cwnd, cc.ssthresh], [10_000, 37_500]);
  });
  it('idle restart, Linux tcp_cwnd_restart: cwnd halves for every RTO of idle time begun beyond the first, down to the restart window', () => {
    const grown = () => {
      const cc = new NewReno(MSS);
      cc.adopt(80_000, 20_000);
      return cc;
    };
    const rto = millis(300);
    let cc = grown();
    cc.onIdle(ctx(), millis(301), rto); // (delta -= rto) > 0 once: one halving
    assert.equal(cc.cwnd, 40_000);
    cc = grown();
    cc.onIdle(ctx(), millis(700), rto); // two steps: 80 -> 40 -> 20 segments
    assert.equal(cc.cwnd, 20_000);
    assert.equal(cc.ssthresh, 60_000);
    cc = grown();
    cc.onIdle(ctx(), seconds(10), rto); // never below min(IW, cwnd)
    assert.equal(cc.cwnd, 10_000);
  });
  it('property: cwnd >= 1 SMSS and ssthresh >= 2 SMSS after any event sequence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 200_000 })), {
          maxLength: 100,
        }),
        fc.constantFrom('newreno', 'cubic'),
        (events, name) => {
          const cc = createCongestionControl(name as 'newreno' | 'cubic', MSS);
          let now = 0;
          for (const [kind, n] of events) {
            now += 10_000;
            const c = ctx({ now, flightSize: n, rtt: millis(20) });
            if (kind <= 1) cc.onAck(n % 5000, c);
            else if (kind === 2) cc.onEnterRecovery(c);
            else if (kind === 3) cc.onExitRecovery(c);
            else cc.onRto(c);
            assert.ok(cc.cwnd >= MSS && Number.isInteger(cc.cwnd), `cwnd ${cc.cwnd}`);
            assert.ok(cc.ssthresh >= 2 * MSS);
          }
        },
      ),
    );
  });
});

describe('CUBIC (RFC 9438)', () => {
  it('K and W_cubic follow equations 1 and 2', () => {
    assert.ok(Math.abs(cubicK(100, 70) - Math.cbrt(30 / 0.4)) < 1e-12);
    assert.equal(cubicK(50, 70), 0);
    const k = cubicK(100, 70);
    assert.ok(Math.abs(wCubic(0, k, 100) - 70) < 1e-9); // W_cubic(0) = cwnd_epoch
    assert.equal(wCubic(k, k, 100), 100); // plateau at W_max
    assert.ok(Math.abs(wCubic(k + 1, k, 100) - 100.4) < 1e-9);
    assert.ok(Math.abs(CUBIC_ALPHA - (3 * 0.3) / 1.7) < 1e-12);
  });

  /** Drives `cc` to a cwnd of `w` segments then a loss with FlightSize = cwnd. */
  function afterLoss(w: number): Cubic {
    const cc = new Cubic(MSS);
    while (cc.cwnd < w * MSS) cc.onAck(Math.min(MSS, w * MSS - cc.cwnd), ctx());
    assert.equal(cc.cwnd, w * MSS);
    cc.onEnterRecovery(ctx({ flightSize: w * MSS }));
    cc.onExitRecovery(ctx({ flightSize: w * MSS }));
    return cc;
  }

  it('multiplicative decrease uses beta = 0.7 and starts an epoch with K from W_max', () => {
    const cc = afterLoss(100);
    assert.equal(cc.ssthresh, 70_000);
    assert.equal(cc.cwnd, 70_000);
    cc.onAck(MSS, ctx({ now: seconds(1), rtt: millis(100) }));
    assert.equal(cc.state.wMax, 100);
    assert.ok(Math.abs(cc.state.k - Math.cbrt((100 - 70) / 0.4)) < 1e-9);
    assert.equal(cc.state.epochStart, seconds(1));
  });

  it('FreeBSD cc_cubic (firstHalves): the first congestion event halves with W_max = beta*cwnd, later ones use beta', () => {
    const cc = new Cubic(MSS, { cubicFirstHalves: true });
    while (cc.cwnd < 100 * MSS) cc.onAck(MSS, ctx());
    cc.onEnterRecovery(ctx({ flightSize: 100 * MSS }));
    assert.equal(cc.ssthresh, 50_000);
    assert.equal(cc.state.wMax, 100 * CUBIC_BETA);
    cc.onExitRecovery(ctx({ flightSize: 50 * MSS }));
    cc.onEnterRecovery(ctx({ flightSize: 50 * MSS }));
    assert.equal(cc.ssthresh, 35_000);
    // An RTO as the first event halves too; the factory builds the variant on request.
    const rto = createCongestionControl('cubic', MSS, { cubicFirstHalves: true });
    while (rto.cwnd < 40 * MSS) rto.onAck(MSS, ctx());
    rto.onRto(ctx({ flightSize: 40 * MSS }));
    assert.equal(rto.ssthresh, 20_000);
    const linux = createCongestionControl('cubic', MSS);
    while (linux.cwnd < 40 * MSS) linux.onAck(MSS, ctx());
    linux.onRto(ctx({ flightSize: 40 * MSS }));
    assert.equal(linux.ssthresh, 28_000);
  });

  it('cwnd tracks W_cubic(t) over time (concave then convex)', () => {
    const cc = afterLoss(100);
    const rtt = millis(100);
    const t0 = seconds(10);
    const k = Math.cbrt(30 / 0.4);
    // Each RTT the whole window is acknowledged, one SMSS per ACK.
    let now = t0;
    const trace: [number, number][] = [];
    for (let r = 0; r < 80; r++) {
      const w = Math.floor(cc.cwnd / MSS);
      for (let i = 0; i < w; i++) cc.onAck(MSS, ctx({ now: now + Math.floor((rtt * i) / w), rtt }));
      now += rtt;
      trace.push([(now - t0) / 1e6, cc.cwnd / MSS]);
    }
    for (const [t, w] of trace) {
      // cwnd aims one RTT ahead, so at time t it is near W_cubic(t): allow a segment or two plus 3%.
      const expect = Math.max(wCubic(t, k, 100), 70);
      if (wCubic(t, k, 100) > 70 + 0.53 * (t / 0.1))
        assert.ok(Math.abs(w - expect) <= 2 + 0.03 * expect, `t=${t} w=${w} W=${expect}`);
    }
    // Concave: at K it sits at the plateau W_max; later it probes beyond it.
    const atK = trace.find(([t]) => t >= k)!;
    assert.ok(Math.abs(atK[1] - 100) < 3, `at K: ${atK[1]}`);
    assert.ok(trace[trace.length - 1][1] > 110);
  });

  it('Reno-friendly region: with a tiny RTT cwnd follows W_est (alpha_cubic per RTT)', () => {
    const cc = afterLoss(100);
    const rtt = millis(1);
    let now = seconds(1);
    for (let r = 0; r < 20; r++) {
      const w = Math.floor(cc.cwnd / MSS);
      for (let i = 0; i < w; i++) cc.onAck(MSS, ctx({ now, rtt }));
      now += rtt;
    }
    // W_est = 70 + ~20 * alpha_cubic; W_cubic(0.02 s) is barely above 70.
    const w = cc.cwnd / MSS;
    assert.ok(w > 70 + 20 * CUBIC_ALPHA - 1.5 && w < 70 + 20 * CUBIC_ALPHA + 1, `cwnd ${w}`);
    assert.ok(w > wCubic(0.02, cc.state.k, 100) + 5);
  });

  it('fast convergence lowers W_max when a loss comes before the previous W_max', () => {
    const cc = afterLoss(100);
    cc.onAck(MSS, ctx({ now: seconds(1), rtt: millis(100) }));
    cc.onEnterRecovery(ctx({ now: seconds(2), flightSize: cc.cwnd }));
    const w = 70; // cwnd at loss was about 70 segments (< W_max = 100)
    assert.ok(Math.abs(cc.state.wMax! - (w * (1 + CUBIC_BETA)) / 2) < 1);
    const noFc = new Cubic(MSS, { fastConvergence: false });
    while (noFc.cwnd < 100 * MSS) noFc.onAck(MSS, ctx());
    noFc.onEnterRecovery(ctx({ flightSize: 100 * MSS }));
    noFc.onEnterRecovery(ctx({ flightSize: 70 * MSS }));
    assert.equal(noFc.state.wMax, 70);
  });

  it('RTO: cwnd = 1 SMSS, ssthresh = 0.7 * cwnd, next epoch has K = 0 (§4.8)', () => {
    const cc = afterLoss(100);
    assert.equal(cc.cwnd, 70_000);
    // The window, not the smaller flight (Linux bictcp_recalc_ssthresh; RFC 9438 §4.6 allows
    // cwnd where it cannot outgrow the flight).
    cc.onRto(ctx({ flightSize: 60_000 }));
    assert.equal(cc.cwnd, MSS);
    assert.equal(cc.ssthresh, 49_000);
    let now = seconds(5);
    while (cc.cwnd < cc.ssthresh) cc.onAck(MSS, ctx({ now }));
    now += millis(10);
    cc.onAck(MSS, ctx({ now, rtt: millis(50) }));
    assert.equal(cc.state.k, 0);
    assert.equal(cc.state.wMax === undefined, true);
  });
});
