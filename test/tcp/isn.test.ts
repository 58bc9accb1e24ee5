import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import { IsnGenerator } from '../../src/tcp/isn.ts';
import { seqSub } from '../../src/tcp/seq.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { type IpAddress, ipv4 } from '../../src/wire/address.ts';

const A: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 1) };
const B: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 2) };
const V6: IpAddress = { family: 6, v6: Uint8Array.from({ length: 16 }, (_, i) => i) };

describe('IsnGenerator (RFC 6528)', () => {
  it('advances with the 4 µs clock for the same 4-tuple', () => {
    const clock = new ManualClock(1_000_000);
    const g = new IsnGenerator(new SeededRng(1), clock);
    const a = g.isn(A, 1234, B, 80);
    assert.equal(g.isn(A, 1234, B, 80), a);
    clock.advance(4000);
    assert.equal(seqSub(g.isn(A, 1234, B, 80), a), 1000);
    clock.advance(3);
    assert.equal(seqSub(g.isn(A, 1234, B, 80), a), 1000);
  });
  it('differs across 4-tuples (keyed hash) and across secrets', () => {
    const clock = new ManualClock(0);
    const g = new IsnGenerator(new SeededRng(1), clock);
    const base = g.isn(A, 1234, B, 80);
    const others = [
      g.isn(A, 1235, B, 80),
      g.isn(B, 1234, A, 80),
      g.isn(A, 1234, B, 81),
      g.isn(V6, 1234, B, 80),
    ];
    for (const o of others) assert.notEqual(o, base);
    const h = new IsnGenerator(new SeededRng(2), clock);
    assert.notEqual(h.isn(A, 1234, B, 80), base);
  });
  it('is deterministic for a seeded rng and wraps mod 2^32', () => {
    const c1 = new ManualClock(2 ** 40);
    const g1 = new IsnGenerator(new SeededRng(7), c1);
    const g2 = new IsnGenerator(new SeededRng(7), new ManualClock(2 ** 40));
    const x = g1.isn(A, 1, B, 2);
    assert.equal(x, g2.isn(A, 1, B, 2));
    assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
    c1.advance(4 * 2 ** 32);
    assert.equal(g1.isn(A, 1, B, 2), x);
  });
  it('spreads ISNs over the space for different ports', () => {
    const g = new IsnGenerator(new SeededRng(3), new ManualClock(0));
    const top = new Set<number>();
    for (let p = 0; p < 2000; p++) top.add(g.isn(A, 40000 + p, B, 80) >>> 28);
    assert.equal(top.size, 16);
  });
});
