/**
 * BBR v1 (src/tcp/congestion/bbr.ts, Linux tcp_bbr.c) driven by hand-made delivery-rate samples
 * at virtual times, and the windowed max filter it keeps its bandwidth in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BBR_DRAIN_GAIN,
  BBR_HIGH_GAIN,
  BBR_MIN_RTT_WIN_US,
  BBR_PACING_GAIN,
  BBR_PROBE_RTT_MODE_US,
  Bbr,
} from '../../src/tcp/congestion/bbr.ts';
import { WindowedMax } from '../../src/tcp/congestion/minmax.ts';
import type { CongestionContext, RateSample } from '../../src/tcp/congestion/types.ts';

const MSS = 1000;
const RTT = 20_000; // µs

/**
 * A path of `bw` bytes/µs and RTT 20 ms, as BBR sees it through its samples: each call delivers
 * one round's worth of ACKs (`acks` ACKs of `per` bytes), every sample measuring `rate`.
 */
class Driver {
  now = 1_000_000;
  delivered = 0;
  inFlight = 0;
  caState: 'open' | 'recovery' | 'loss' = 'open';
  readonly cc: Bbr;
  constructor(cc: Bbr) {
    this.cc = cc;
  }

  ctx(): CongestionContext {
    return {
      now: this.now,
      mss: MSS,
      flightSize: this.inFlight,
      inFlight: this.inFlight,
      caState: this.caState,
      rtt: RTT,
      minRtt: RTT,
    };
  }

  /** One ACK delivering `bytes`, whose sample measures `rate` bytes/µs (sent one RTT ago). */
  ack(
    bytes: number,
    rate: number,
    o: { appLimited?: boolean; rtt?: number; losses?: number; dt?: number } = {},
  ): RateSample {
    this.now += o.dt ?? 1000;
    const priorDelivered = Math.max(0, this.delivered - Math.round(rate * RTT));
    const priorInFlight = this.inFlight;
    this.delivered += bytes;
    const rs: RateSample = {
      delivered: this.delivered - priorDelivered,
      intervalUs: (this.delivered - priorDelivered) / rate,
      priorDelivered,
      isAppLimited: o.appLimited ?? false,
      ackedSacked: bytes,
      losses: o.losses ?? 0,
      rttUs: o.rtt ?? RTT,
      priorInFlight,
      deliveredTotal: this.delivered,
      deliveredTs: this.now,
    };
    this.cc.onRateSample(rs, this.ctx());
    return rs;
  }

  /** A round: ACKs of one MSS until `bytes` are delivered, each sample at `rate`; the flight follows cwnd. */
  round(bytes: number, rate: number, o: { appLimited?: boolean } = {}): void {
    const n = Math.max(1, Math.round(bytes / MSS));
    for (let i = 0; i < n; i++) {
      this.ack(MSS, rate, { ...o, dt: Math.round(RTT / n) });
      this.inFlight = Math.min(this.cc.cwnd, this.inFlight + MSS);
    }
  }
}

describe('WindowedMax (lib/win_minmax.c)', () => {
  it('keeps the maximum for the window, then falls back to the best later sample', () => {
    const f = new WindowedMax();
    f.update(10, 0, 5);
    f.update(10, 1, 9);
    f.update(10, 4, 7);
    f.update(10, 8, 3);
    assert.equal(f.value, 9);
    // At t = 12 the 9 (t = 1) is more than 10 old: the next best within the window is 7 (t = 4).
    assert.equal(f.update(10, 12, 2), 7);
    // And once that ages out too, the newer samples remain.
    assert.equal(f.update(10, 15, 1), 3);
    assert.equal(f.update(10, 16, 8), 8, 'a new maximum replaces everything');
  });
});

describe('BBR', () => {
  it('STARTUP: cwnd grows by what each ACK delivers, pacing at 2/ln2 × the bandwidth', () => {
    const cc = new Bbr(MSS);
    const d = new Driver(cc);
    assert.equal(cc.cwnd, 10 * MSS);
    assert.equal(cc.state.mode, 'startup');
    d.ack(2 * MSS, 0.5);
    assert.equal(cc.cwnd, 12 * MSS, 'slow-start-like growth: + acked');
    assert.ok(Math.abs(cc.state.bw - 0.5) < 1e-9);
    // bbr_bw_to_pacing_rate: bw × gain × (1 - 1 %) bytes per second.
    assert.ok(Math.abs(cc.pacingRate - 0.5 * BBR_HIGH_GAIN * 1e6 * 0.99) < 1);
    assert.equal(cc.state.pacingGain, BBR_HIGH_GAIN);
  });

  it('the pipe is full after three rounds without 25 % growth: DRAIN, then PROBE_BW once inflight ≤ BDP', () => {
    const cc = new Bbr(MSS, { random: () => 0 });
    const d = new Driver(cc);
    // Bandwidth doubles for a few rounds, then stays at 2 bytes/µs (BDP = 40 000 bytes).
    for (const rate of [0.25, 0.5, 1, 2]) d.round(rate * RTT, rate);
    assert.equal(cc.state.mode, 'startup');
    let flat = 0;
    for (; flat < 8 && cc.state.mode === 'startup'; flat++) d.round(2 * RTT, 2);
    assert.equal(cc.state.fullBwReached, true);
    assert.ok(flat >= 3, `left STARTUP after ${flat} flat rounds`);
    assert.equal(cc.state.mode, 'drain');
    assert.equal(cc.state.pacingGain, BBR_DRAIN_GAIN);
    // Linux sets ssthresh to the BDP (plus the TSO quantum) when DRAIN begins.
    assert.ok(cc.ssthresh >= 40_000 && cc.ssthresh < 60_000, `ssthresh ${cc.ssthresh}`);
    // The queue drains: with inflight at the BDP, PROBE_BW begins at a random phase other than 3/4.
    d.inFlight = 40_000;
    d.ack(MSS, 2);
    assert.equal(cc.state.mode, 'probe_bw');
    assert.notEqual(cc.state.cycleIdx, 1, 'never starts in the 3/4 drain phase');
    assert.equal(cc.state.cycleIdx, 0, 'random 0 of 7 → phase index 7 + 1 = 0 (the 5/4 probe)');
    assert.equal(cc.state.pacingGain, 5 / 4);
    // cwnd_gain 2: cwnd tends to 2 × BDP plus the quantum, not beyond.
    for (let i = 0; i < 200; i++) d.ack(MSS, 2);
    assert.ok(cc.cwnd >= 80_000 && cc.cwnd <= 80_000 + 12 * MSS, `cwnd ${cc.cwnd}`);
  });

  it('PROBE_BW: each phase lasts at least one min RTT; the cycle is 5/4, 3/4, then six at 1', () => {
    const cc = new Bbr(MSS, { random: () => 0 });
    const d = new Driver(cc);
    for (const rate of [0.5, 1, 2, 2, 2, 2]) d.round(rate * RTT, rate);
    d.inFlight = 30_000;
    d.ack(MSS, 2);
    assert.equal(cc.state.mode, 'probe_bw');
    const gains: number[] = [cc.state.pacingGain];
    // The 5/4 phase ends once gain × BDP is in flight (or a loss) after a min RTT; the 3/4 phase
    // when inflight is down to the BDP or after a min RTT; the 1 phases after a min RTT.
    d.inFlight = 60_000;
    for (let i = 0; i < 400 && gains.length < 9; i++) {
      d.ack(MSS, 2, { dt: 1000 });
      if (cc.state.pacingGain !== gains[gains.length - 1] || cc.state.cycleIdx !== (gains.length - 1) % 8)
        gains.push(cc.state.pacingGain);
    }
    assert.deepEqual(gains.slice(0, 9), [...BBR_PACING_GAIN, 5 / 4]);
  });

  it('an application-limited sample lower than the estimate leaves the filter alone', () => {
    const cc = new Bbr(MSS);
    const d = new Driver(cc);
    d.ack(MSS, 2);
    d.ack(MSS, 0.1, { appLimited: true });
    assert.equal(cc.state.bw, 2);
    d.ack(MSS, 3, { appLimited: true });
    assert.equal(cc.state.bw, 3, 'a higher one is taken');
  });

  it('PROBE_RTT after 10 s without a lower RTT: 4 segments for 200 ms and a round, then the window comes back', () => {
    const cc = new Bbr(MSS, { random: () => 0 });
    const d = new Driver(cc);
    for (const rate of [0.5, 1, 2, 2, 2, 2]) d.round(rate * RTT, rate);
    d.inFlight = 40_000;
    d.ack(MSS, 2);
    for (let i = 0; i < 100; i++) d.ack(MSS, 2);
    const before = cc.cwnd;
    assert.ok(before > 40_000);
    // RTT samples stay above the minimum for 10 s.
    d.now += BBR_MIN_RTT_WIN_US;
    d.ack(MSS, 2, { rtt: RTT + 5000 });
    assert.equal(cc.state.mode, 'probe_rtt');
    assert.equal(cc.cwnd, 4 * MSS);
    assert.equal(cc.holdsRate, true, 'its samples are application-limited');
    // The flight falls to 4 segments: the 200 ms starts.
    d.inFlight = 4 * MSS;
    d.ack(MSS, 2, { rtt: RTT + 1000 });
    const start = d.now;
    // 200 ms and a round pass: back to PROBE_BW with the saved window.
    for (let i = 0; i < 200 && cc.state.mode === 'probe_rtt'; i++) {
      d.ack(MSS, 2, { dt: 10_000, rtt: RTT + 1000 });
      if (cc.state.mode === 'probe_rtt') assert.equal(cc.cwnd, 4 * MSS);
    }
    assert.ok(d.now - start > BBR_PROBE_RTT_MODE_US, 'held for at least 200 ms');
    assert.equal(cc.state.mode, 'probe_bw');
    assert.ok(cc.cwnd >= before, `cwnd ${cc.cwnd} restored to ≥ ${before}`);
    assert.equal(cc.state.minRttUs, RTT + 1000, 'the expired filter restarted from the newer (higher) RTTs');
  });

  it('recovery: packet conservation for a round (cwnd = inflight + acked), then the saved window', () => {
    const cc = new Bbr(MSS, { random: () => 0 });
    const d = new Driver(cc);
    for (const rate of [0.5, 1, 2, 2, 2, 2]) d.round(rate * RTT, rate);
    d.inFlight = 40_000;
    for (let i = 0; i < 100; i++) d.ack(MSS, 2);
    const saved = cc.cwnd;
    // Loss detected: the connection enters recovery, with 20 000 bytes still in the network.
    cc.onEnterRecovery(d.ctx());
    d.caState = 'recovery';
    d.inFlight = 20_000;
    d.ack(MSS, 2, { losses: 3 * MSS });
    assert.equal(cc.cwnd, 21_000, 'inflight + acked');
    d.inFlight = 20_000;
    d.ack(2 * MSS, 2);
    assert.equal(cc.cwnd, 22_000, 'conservation: never below inflight + acked');
    // Recovery ends: the window before it comes back.
    d.caState = 'open';
    d.ack(MSS, 2);
    // (max(cwnd, saved), then capped by the target, whose quantum depends on the phase.)
    assert.ok(cc.cwnd >= saved - 2 * MSS, `cwnd ${cc.cwnd} back near ${saved}`);
  });

  it('an RTO leaves one segment; ECN-Echo and loss do not halve the window as loss-based controllers do', () => {
    const cc = new Bbr(MSS);
    const d = new Driver(cc);
    for (const rate of [0.5, 1, 2]) d.round(rate * RTT, rate);
    const w = cc.cwnd;
    // ecn.ts answers ECE with onEnterRecovery + onExitRecovery: BBR v1 keeps its window.
    cc.onEnterRecovery(d.ctx());
    cc.onExitRecovery(d.ctx());
    assert.equal(cc.cwnd, w);
    cc.onRto(d.ctx());
    assert.equal(cc.cwnd, MSS);
  });
});
