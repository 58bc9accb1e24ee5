import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeededRng } from '../../src/rand/rng.ts';
import { seq } from '../../src/tcp/seq.ts';
import { MSS_TABLE, SYNCOOKIE_PERIOD, SynCookies } from '../../src/tcp/syncookie.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { type IpAddress, ipv4 } from '../../src/wire/address.ts';

const L: IpAddress = { family: 4, v4: ipv4(192, 168, 1, 1) };
const R: IpAddress = { family: 4, v4: ipv4(192, 168, 1, 77) };
const R6: IpAddress = { family: 6, v6: Uint8Array.from({ length: 16 }, (_, i) => 0x20 + i) };

describe('SynCookies', () => {
  it('round-trips MSS (rounded down), SACK and window scale', () => {
    const clock = new ManualClock(123_456_789);
    const sc = new SynCookies(new SeededRng(1), clock);
    const isn = seq(0xdeadbeef);
    const c = sc.encode(L, 80, R, 51000, isn, 1460, { sackOk: true, wscale: 7, ts: true });
    assert.deepEqual(sc.decode(L, 80, R, 51000, c, isn), { mss: 1460, sackOk: true, wscale: 7 });
    const c2 = sc.encode(L, 80, R, 51000, isn, 1300, { sackOk: false });
    assert.deepEqual(sc.decode(L, 80, R, 51000, c2, isn), { mss: 1200, sackOk: false });
    const c3 = sc.encode(L, 80, R, 51000, isn, 100, { sackOk: false, wscale: 14 });
    assert.deepEqual(sc.decode(L, 80, R, 51000, c3, isn), { mss: 216, sackOk: false, wscale: 9 });
    const c4 = sc.encode(L, 80, R, 51000, isn, 65535, { sackOk: true, wscale: 3 });
    assert.deepEqual(sc.decode(L, 80, R, 51000, c4, isn), { mss: 8960, sackOk: true, wscale: 2 });
  });
  it('accepts the current and previous counter, rejects older cookies', () => {
    const clock = new ManualClock(SYNCOOKIE_PERIOD * 10 + 5);
    const sc = new SynCookies(new SeededRng(2), clock);
    const isn = seq(42);
    const c = sc.encode(L, 80, R, 5000, isn, 1460, { sackOk: true });
    clock.set(SYNCOOKIE_PERIOD * 11 - 1);
    assert.ok(sc.decode(L, 80, R, 5000, c, isn));
    clock.set(SYNCOOKIE_PERIOD * 11 + 1);
    assert.ok(sc.decode(L, 80, R, 5000, c, isn));
    clock.set(SYNCOOKIE_PERIOD * 12);
    assert.equal(sc.decode(L, 80, R, 5000, c, isn), undefined);
    clock.set(SYNCOOKIE_PERIOD * 13);
    assert.equal(sc.decode(L, 80, R, 5000, c, isn), undefined);
  });
  it('rejects a different tuple, client ISN, or secret', () => {
    const clock = new ManualClock(1e9);
    const sc = new SynCookies(new SeededRng(3), clock);
    const isn = seq(1000);
    const c = sc.encode(L, 80, R6, 5000, isn, 1460, { sackOk: true, wscale: 8 });
    assert.ok(sc.decode(L, 80, R6, 5000, c, isn));
    assert.equal(sc.decode(L, 80, R6, 5001, c, isn), undefined);
    assert.equal(sc.decode(L, 81, R6, 5000, c, isn), undefined);
    assert.equal(sc.decode(L, 80, R, 5000, c, isn), undefined);
    assert.equal(sc.decode(L, 80, R6, 5000, c, seq(1001)), undefined);
    assert.equal(new SynCookies(new SeededRng(4), clock).decode(L, 80, R6, 5000, c, isn), undefined);
  });
  it('property: flipping any cookie bit is detected', () => {
    const clock = new ManualClock(5e9);
    const sc = new SynCookies(new SeededRng(5), clock);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 0, max: 31 }),
        fc.constantFrom(...MSS_TABLE),
        (isnN, port, bit, mss) => {
          const isn = seq(isnN);
          const c = sc.encode(L, 443, R, port, isn, mss, { sackOk: (port & 1) === 1, wscale: port % 15 });
          const d = sc.decode(L, 443, R, port, c, isn);
          assert.equal(d?.mss, mss);
          assert.equal(sc.decode(L, 443, R, port, seq(c ^ (1 << bit)), isn), undefined);
        },
      ),
      { numRuns: 500 },
    );
  });
  it('random cookies are accepted only at about the 2^-24 forgery rate', () => {
    const sc = new SynCookies(new SeededRng(6), new ManualClock(0));
    const rng = new SeededRng(99);
    let accepted = 0;
    for (let i = 0; i < 20000; i++) if (sc.decode(L, 80, R, 1, seq(rng.nextU32()), seq(7))) accepted++;
    assert.ok(accepted <= 1);
  });
});
