import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoRng, SeededRng } from '../../src/rand/rng.ts';

describe('SeededRng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const c = new SeededRng(43);
    const xs = Array.from({ length: 10 }, () => a.nextU32());
    assert.deepEqual(
      xs,
      Array.from({ length: 10 }, () => b.nextU32()),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 10 }, () => c.nextU32()),
    );
  });
  it('below(n) is in range and roughly uniform', () => {
    const r = new SeededRng(1);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100000; i++) counts[r.below(10)]++;
    for (const c of counts) assert.ok(c > 9000 && c < 11000, `bucket ${c}`);
    assert.throws(() => r.below(0), RangeError);
  });
  it('nextFloat is in [0,1)', () => {
    const r = new SeededRng(9);
    for (let i = 0; i < 10000; i++) {
      const f = r.nextFloat();
      assert.ok(f >= 0 && f < 1);
    }
  });
});

describe('CryptoRng', () => {
  it('fills bytes and produces varied words', () => {
    const r = new CryptoRng();
    const set = new Set(Array.from({ length: 100 }, () => r.nextU32()));
    assert.ok(set.size > 95);
    const buf = new Uint8Array(100000);
    r.fill(buf);
    assert.ok(buf.some((b) => b !== 0));
  });
});
