import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RttEstimator } from '../../src/tcp/rtt.ts';
import { millis, seconds } from '../../src/time/instant.ts';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at 1 s with no samples (§2.1)', () => {
    const r = new RttEstimator();
    assert.equal(r.rto, seconds(1));
    assert.equal(r.srtt, undefined);
    assert.equal(r.rttvar, undefined);
    assert.equal(r.backoffCount, 0);
  });
  it('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR) (§2.2)', () => {
    const r = new RttEstimator();
    r.sample(millis(100));
    assert.equal(r.srtt, millis(100));
    assert.equal(r.rttvar, millis(50));
    assert.equal(r.rto, millis(300));
  });
  it('later samples: RTTVAR with the old SRTT, then SRTT (§2.3)', () => {
    const r = new RttEstimator();
    r.sample(millis(100));
    r.sample(millis(200));
    // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 ms; SRTT = 7/8*100 + 1/8*200 = 112.5 ms
    assert.equal(r.rttvar, 62_500);
    assert.equal(r.srtt, 112_500);
    assert.equal(r.rto, 112_500 + 4 * 62_500);
  });
  it('uses G when 4*RTTVAR is smaller', () => {
    const r = new RttEstimator({ minRto: 0, granularity: millis(10) });
    for (let i = 0; i < 50; i++) r.sample(millis(20));
    assert.equal(r.srtt, millis(20));
    assert.ok(r.rttvar! < 2500);
    assert.equal(r.rto, millis(30));
  });
  it('clamps to minRto (200 ms default, a documented deviation) and maxRto', () => {
    const r = new RttEstimator();
    r.sample(millis(1));
    assert.equal(r.rto, millis(200));
    const q = new RttEstimator({ maxRto: seconds(60) });
    q.sample(seconds(100));
    assert.equal(q.rto, seconds(60));
  });
  it('backoff doubles, caps at maxRto, and a sample clears it (§5.5)', () => {
    const r = new RttEstimator({ maxRto: seconds(10) });
    r.backoff();
    assert.equal(r.rto, seconds(2));
    r.backoff();
    assert.equal(r.rto, seconds(4));
    r.backoff();
    r.backoff();
    assert.equal(r.rto, seconds(10));
    for (let i = 0; i < 100; i++) r.backoff();
    assert.equal(r.rto, seconds(10));
    assert.equal(r.backoffCount, 104);
    r.sample(millis(100));
    assert.equal(r.backoffCount, 0);
    assert.equal(r.rto, millis(300));
  });
  it('reset() forgets samples (§5.7: 3 s after a lost SYN)', () => {
    const r = new RttEstimator();
    r.sample(millis(100));
    r.backoff();
    r.reset(seconds(3));
    assert.equal(r.rto, seconds(3));
    assert.equal(r.srtt, undefined);
    assert.equal(r.backoffCount, 0);
  });
  it('ignores negative and non-finite samples', () => {
    const r = new RttEstimator();
    r.sample(-5);
    r.sample(Number.NaN);
    assert.equal(r.srtt, undefined);
  });
  it('property: rto stays within [minRto, maxRto] and is an integer for any samples/backoffs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 300_000_000 }), fc.constant(-1)), { maxLength: 60 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1_000_000, max: 200_000_000 }),
        (events, minRto, maxRto) => {
          const r = new RttEstimator({ minRto, maxRto });
          for (const e of events) {
            if (e < 0) r.backoff();
            else r.sample(e);
            assert.ok(r.rto >= minRto && r.rto <= maxRto, `rto ${r.rto}`);
            assert.ok(Number.isInteger(r.rto));
            if (r.srtt !== undefined) assert.ok(Number.isInteger(r.srtt) && Number.isInteger(r.rttvar!));
          }
        },
      ),
    );
  });
  it('property: SRTT converges to a constant RTT', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (rtt) => {
        const r = new RttEstimator({ minRto: 0 });
        for (let i = 0; i < 200; i++) r.sample(rtt);
        assert.ok(Math.abs(r.srtt! - rtt) <= 4);
      }),
    );
  });
});

describe("RttEstimator, Linux's estimator (tcp_rtt_estimator, __tcp_set_rto)", () => {
  const linux = () => new RttEstimator({ linux: true });
  it('first sample: RTO = SRTT + max(2 * R, 200 ms), three RTTs for a long path, SRTT + 200 ms for a short one', () => {
    const a = linux();
    a.sample(millis(100), 1, 1);
    assert.deepEqual([a.srtt, a.rttvar, a.rto], [millis(100), millis(50), millis(300)]);
    const b = linux();
    b.sample(seconds(1), 1, 1);
    assert.equal(b.rto, seconds(3));
    const c = linux();
    c.sample(millis(10), 1, 1);
    assert.equal(c.rto, millis(210), 'RFC 6298 with a 200 ms floor: 200 ms');
  });
  it('a steady RTT keeps the RTO at SRTT + 200 ms, where RFC 6298 falls to its 200 ms floor', () => {
    const l = linux();
    const rfc = new RttEstimator();
    for (let i = 0; i < 60; i++) {
      // One sample per round trip: SND.UNA passes the SND.NXT of the round before.
      l.sample(millis(100), 1000 * (i + 1) + 1, 1000 * (i + 2));
      rfc.sample(millis(100));
    }
    assert.equal(l.srtt, millis(100));
    assert.equal(l.rto, millis(300));
    assert.equal(rfc.rto, millis(200));
  });
  it("a rise in the RTT raises rttvar to the round's largest deviation; it decays by a quarter per round back to the floor", () => {
    const l = linux();
    let una = 1;
    const round = (ms: number) => {
      l.sample(millis(ms), una, una + 1000);
      una += 1001;
    };
    for (let i = 0; i < 20; i++) round(100);
    round(500);
    // SRTT = 100 + 400/8 = 150 ms; mdev (x4, near 0 after the steady rounds) += 400 - mdev/4:
    // about 400 ms, above the 200 ms floor, so rttvar takes it: RTO about 550 ms.
    const peak = l.rto;
    assert.equal(l.srtt, millis(150));
    assert.ok(peak > millis(150 + 390) && peak <= millis(150 + 402), `rto ${peak}`);
    round(150);
    const after1 = l.rto;
    assert.ok(after1 < peak);
    for (let i = 0; i < 60; i++) round(150);
    assert.equal(l.rto, l.srtt! + millis(200));
  });
  it('a falling RTT moves mdev by 1/32 of the error, not 1/4 (the Eifel-like damping)', () => {
    const l = linux();
    l.sample(millis(200), 1, 1); // mdev (x4) = 400 ms
    l.sample(millis(100), 1, 1); // same round: err = 100 - 400/4 = 0 -> mdev unchanged
    assert.equal(l.rttvar, millis(100));
    l.sample(millis(0), 1, 1); // err = 187.5 - 100 = 87.5 ms, /8: mdev (x4) + 10.9 ms
    assert.equal(l.rttvar, Math.round((millis(400) + (millis(187.5) - millis(100)) / 8) / 4));
  });
});
