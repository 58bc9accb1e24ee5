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
