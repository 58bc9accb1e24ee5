/** Pacing (TcpSocketOptions.pacingRate / pacingBurst: SO_MAX_PACING_RATE, FreeBSD TCP_RACK_PACE_*). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, expectSeg } from './harness.ts';

const MSS = 1460;

describe('pacing', () => {
  it('sends new data in bursts of pacingBurst segments, each burst spaced by its bytes at the rate', () => {
    const e = established();
    e.c.setOptions({ pacingRate: 1_250_000, pacingBurst: 2 });
    const t0 = e.h.now();
    e.c.write(new Uint8Array(6 * MSS));
    const gap = Math.ceil((2 * MSS * 1e6) / 1_250_000); // 2336 µs
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const burst = e.h.take();
      assert.equal(burst.length, 2, `burst ${i}`);
      for (const s of burst) {
        expectSeg(s, { len: MSS });
        seen.push(s.at - t0);
      }
      e.h.advanceTo(e.h.now() + gap - 1);
      e.h.none();
      e.h.advanceTo(e.h.now() + 1);
    }
    assert.deepEqual(seen, [0, 0, gap, gap, 2 * gap, 2 * gap]);
    assert.equal(e.c.snd.nxt, (e.iss + 1 + 6 * MSS) >>> 0);
  });

  it('a short burst still spaces the next one; without a rate nothing waits', () => {
    const e = established();
    e.c.setOptions({ noDelay: true, pacingRate: 1_000_000, pacingBurst: 4 });
    e.c.write(new Uint8Array(1000));
    assert.equal(e.h.take().length, 1);
    // 1000 bytes at 1 MB/s: the next segment may leave 1000 µs after the first.
    e.c.write(new Uint8Array(1000));
    e.h.none();
    e.h.advanceTo(e.h.now() + 999);
    e.h.none();
    e.h.advanceTo(e.h.now() + 1);
    assert.equal(e.h.take().length, 1);
    const plain = established();
    plain.c.setOptions({ noDelay: true });
    plain.c.write(new Uint8Array(1000));
    plain.c.write(new Uint8Array(1000));
    assert.equal(plain.h.take().length, 2, 'unpaced: both at once');
  });
});
