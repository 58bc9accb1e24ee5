/**
 * Leaving slow start early (src/tcp/congestion/hystart.ts): Linux tcp_cubic's HyStart (ACK train
 * and delay) and RFC 9406 HyStart++, driven by hand-made ACKs at virtual times, alone and inside
 * CUBIC.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cubic } from '../../src/tcp/congestion/cubic.ts';
import {
  HSPP_CSS_ROUNDS,
  HystartPlusPlus,
  hystartAckDelay,
  LinuxHystart,
  type SlowStartAck,
} from '../../src/tcp/congestion/hystart.ts';
import { type CongestionContext, INITIAL_SSTHRESH } from '../../src/tcp/congestion/types.ts';

const MSS = 1000;

/**
 * ACKs of one segment each from a sender that keeps `flight` segments outstanding: SND.NXT is
 * always SND.UNA + flight, so a round (until what was in flight at its start is acknowledged)
 * is `flight` ACKs.
 */
class Acks {
  now = 1_000_000;
  una = 1000;
  flight = 20;
  cwndSegs = 20;
  next(rtt: number | undefined, gap: number): SlowStartAck {
    this.now += gap;
    this.una += MSS;
    return {
      now: this.now,
      rtt,
      una: this.una,
      sndNxt: this.una + this.flight * MSS,
      cwndSegs: this.cwndSegs,
    };
  }
}

describe('Linux HyStart (tcp_cubic.c hystart_update)', () => {
  it("delay: a round's minimum RTT (once it holds 8 samples) above delay_min + clamp(delay_min/8, 4, 16 ms) ends slow start", () => {
    const h = new LinuxHystart();
    const a = new Acks();
    // RTT 20 ms, ACKs 3 ms apart (no ACK train), three rounds.
    for (let i = 0; i < 63; i++) assert.equal(h.onAck(a.next(20_000, 3000), false), false);
    assert.equal(h.delayMin, 20_000);
    // 23.9 ms is within the 4 ms threshold: nothing, however long.
    for (let i = 0; i < 63; i++) assert.equal(h.onAck(a.next(23_900, 3000), false), false);
    // 24.5 ms: fires within about a round, once the new round has its eight samples.
    let fired = -1;
    for (let i = 0; i < 60 && fired < 0; i++) if (h.onAck(a.next(24_500, 3000), false)) fired = i;
    assert.ok(fired >= 8 && fired <= 21 + 8, `fired at ACK ${fired}`);
    assert.equal(h.reason, 'delay');
    assert.equal(h.found, true);
    assert.equal(h.onAck(a.next(40_000, 3000), false), false, 'once found, never again');
  });

  it("delay: a round's smallest RTT counts every sample, so eight late ACKs followed by prompt ones do not end slow start", () => {
    const h = new LinuxHystart();
    const a = new Acks();
    // Round 1 (21 ACKs at 20 ms, 3 ms apart): delay_min 20 ms.
    for (let i = 0; i < 21; i++) assert.equal(h.onAck(a.next(20_000, 3000), false), false);
    // Round 2 begins with eight ACKs 20 ms late (a receiver or host stall), then prompt ones:
    // the ninth sample brings the round's minimum back to 20 ms (Linux since 5.8; before, the
    // minimum of the first eight alone was compared, and slow start ended here).
    for (let i = 0; i < 8; i++) assert.equal(h.onAck(a.next(40_000, 3000), false), false);
    for (let i = 0; i < 34; i++) assert.equal(h.onAck(a.next(20_000, 3000), false), false, `ACK ${i}`);
    assert.equal(h.found, false);
    // Rounds 2 and 3 are over (63 ACKs); a round whose every sample is late still ends slow
    // start, at its ninth ACK.
    let fired = -1;
    for (let i = 0; i < 21 && fired < 0; i++) if (h.onAck(a.next(40_000, 3000), false)) fired = i;
    assert.equal(h.reason, 'delay');
    assert.equal(fired, 8);
  });

  it('ACK train: ACKs within 2 ms of each other for delay_min/2 since the round began', () => {
    const h = new LinuxHystart();
    const a = new Acks();
    a.flight = 100;
    // delay_min 20 ms; ACKs 1 ms apart: the round starts at the first; the first ACK more than
    // 10 ms (delay_min / 2) after it ends slow start.
    let fired = -1;
    for (let i = 0; i < 30 && fired < 0; i++) if (h.onAck(a.next(20_000, 1000), false)) fired = i;
    assert.equal(h.reason, 'ack-train');
    assert.equal(fired, 11);
    // With ACKs 2.5 ms apart there is no train.
    const g = new LinuxHystart();
    const b = new Acks();
    b.flight = 100;
    for (let i = 0; i < 30; i++) assert.equal(g.onAck(b.next(20_000, 2500), false), false);
  });

  it('ACK train: hystart_ack_delay adds four 64 KiB bursts at the pacing rate (at most 1 ms) before halving', () => {
    // delay_min 2 ms, ACKs 0.1 ms apart. Without a pacing rate the train ends slow start past
    // 1 ms; at 1 GB/s the slack is 4 * 65536 / 1e9 s = 262 µs, so past (2000 + 262) / 2 µs;
    // at a low rate the slack is the 1 ms cap, so past 1.5 ms.
    const firstFiring = (pacingRate: number | undefined) => {
      const h = new LinuxHystart();
      const a = new Acks();
      a.flight = 100;
      for (let i = 0; i < 60; i++) if (h.onAck({ ...a.next(2000, 100), pacingRate }, false)) return i;
      return -1;
    };
    assert.equal(firstFiring(undefined), 11);
    assert.equal(firstFiring(1e9), 12);
    assert.equal(firstFiring(1e6), 16);
    assert.equal(hystartAckDelay(1e9), (4 * 65536 * 1e6) / 1e9);
    assert.equal(hystartAckDelay(1e6), 1000);
    assert.equal(hystartAckDelay(0), 0);
  });

  it('does nothing below 16 segments (hystart_low_window), and runs again after an RTO', () => {
    const h = new LinuxHystart();
    const a = new Acks();
    a.cwndSegs = 15;
    for (let i = 0; i < 30; i++) assert.equal(h.onAck(a.next(20_000, 1000), false), false);
    a.cwndSegs = 16;
    a.flight = 100;
    let fired = false;
    for (let i = 0; i < 30 && !fired; i++) fired = h.onAck(a.next(20_000, 1000), false);
    assert.ok(fired);
    h.restart();
    assert.equal(h.found, false);
    fired = false;
    for (let i = 0; i < 30 && !fired; i++) fired = h.onAck(a.next(20_000, 1000), false);
    assert.ok(fired, 'armed again');
  });
});

describe('HyStart++ (RFC 9406)', () => {
  it('an RTT rise moves to CSS (growth / 4); CSS_ROUNDS rounds of CSS end slow start', () => {
    const h = new HystartPlusPlus();
    const a = new Acks();
    a.flight = 10;
    // Rounds of 10 ACKs: the first ACK starts round 1 (ACKs 0-9), round 2 is ACKs 10-19.
    for (let i = 0; i < 10; i++) assert.equal(h.onAck(a.next(20_000, 2000)), false);
    assert.equal(h.phase, 'ss');
    // lastRoundMinRTT 20 ms, RttThresh = max(4, min(20/8, 16)) = 4 ms: 24 ms, after 8 samples.
    for (let i = 0; i < 7; i++) h.onAck(a.next(24_000, 1000));
    assert.equal(h.phase, 'ss', 'fewer than N_RTT_SAMPLE samples');
    h.onAck(a.next(24_000, 1000));
    assert.equal(h.phase, 'css');
    assert.equal(h.growthDivisor, 4);
    // Two more ACKs end round 2; then CSS_ROUNDS more round starts end slow start.
    let acks = 0;
    let ended = false;
    for (; acks < 100 && !ended; acks++) ended = h.onAck(a.next(25_000, 1000));
    assert.ok(ended);
    assert.equal(acks, 2 + (HSPP_CSS_ROUNDS - 1) * 10 + 1, 'at the start of the fifth round after CSS began');
    assert.equal(h.phase, 'done');
  });

  it('in CSS an RTT back below the baseline resumes slow start; a loss ends it', () => {
    const h = new HystartPlusPlus();
    const a = new Acks();
    a.flight = 10;
    for (let i = 0; i < 10; i++) h.onAck(a.next(20_000, 2000));
    for (let i = 0; i < 10; i++) h.onAck(a.next(26_000, 1000));
    assert.equal(h.phase, 'css');
    for (let i = 0; i < 8; i++) h.onAck(a.next(21_000, 1000));
    assert.equal(h.phase, 'ss', 'the rise was spurious');
    h.stop();
    assert.equal(h.phase, 'done');
    assert.equal(h.onAck(a.next(50_000, 1000)), false);
  });
});

describe('CUBIC with HyStart', () => {
  const ctx = (a: SlowStartAck, rtt: number): CongestionContext => ({
    now: a.now,
    mss: MSS,
    flightSize: 0,
    ackRtt: rtt,
    una: a.una,
    sndNxt: a.sndNxt,
    rtt,
    minRtt: 20_000,
  });

  it('Linux profile: slow start ends with ssthresh = cwnd when the delay rises, then CUBIC grows from there', () => {
    const cc = new Cubic(MSS);
    assert.equal(cc.slowStartExit, 'linux-hystart');
    const a = new Acks();
    let rtt = 20_000;
    for (let r = 0; r < 10 && cc.ssthresh === INITIAL_SSTHRESH; r++) {
      const n = Math.floor(cc.cwnd / MSS);
      a.flight = n;
      a.cwndSegs = n;
      for (let i = 0; i < n && cc.ssthresh === INITIAL_SSTHRESH; i++) {
        const ack = a.next(rtt, 3000);
        cc.onAck(MSS, ctx(ack, rtt));
      }
      rtt += 3000; // the queue grows by 3 ms a round
    }
    assert.notEqual(cc.ssthresh, INITIAL_SSTHRESH, 'HyStart ended slow start before any loss');
    assert.equal(cc.hystart?.reason, 'delay');
    // ssthresh = cwnd before the ACK that fired; that ACK already counted for congestion avoidance.
    const at = cc.cwnd;
    assert.ok(cc.ssthresh <= at && at < cc.ssthresh + MSS, `ssthresh ${cc.ssthresh}, cwnd ${at}`);
    const ack = a.next(rtt, 3000);
    cc.onAck(MSS, ctx(ack, rtt));
    assert.ok(cc.cwnd < at + MSS, 'congestion avoidance, not slow start');
  });

  it('HyStart++ (config hystart: rfc9406-hystart++) grows by a quarter in CSS; FreeBSD (none) never leaves early', () => {
    const pp = new Cubic(MSS, { slowStartExit: 'rfc9406-hystart++' });
    const a = new Acks();
    a.flight = 10;
    for (let i = 0; i < 10; i++) pp.onAck(MSS, ctx(a.next(20_000, 2000), 20_000));
    for (let i = 0; i < 8; i++) pp.onAck(MSS, ctx(a.next(26_000, 1000), 26_000));
    assert.equal(pp.hystartPP?.phase, 'css');
    const w = pp.cwnd;
    pp.onAck(MSS, ctx(a.next(26_000, 1000), 26_000));
    assert.equal(pp.cwnd, w + MSS / 4);
    const none = new Cubic(MSS, { slowStartExit: 'none' });
    const b = new Acks();
    for (let r = 0; r < 5; r++) {
      for (let i = 0; i < 20; i++)
        none.onAck(MSS, ctx(b.next(20_000 + r * 10_000, 1000), 20_000 + r * 10_000));
    }
    assert.equal(none.ssthresh, INITIAL_SSTHRESH);
  });
});
