import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeededRng } from '../../src/rand/rng.ts';
import { EphemeralPorts } from '../../src/transport/ports.ts';
import { type IpAddress, ipv4 } from '../../src/wire/address.ts';

const L: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 1) };
const R: IpAddress = { family: 4, v4: ipv4(93, 184, 216, 34) };

describe('EphemeralPorts (RFC 6056 Algorithm 4)', () => {
  it('picks in 49152..65535 by default and avoids ports in use', () => {
    const p = new EphemeralPorts(new SeededRng(1));
    const used = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const port = p.pick(L, R, 80, (x) => used.has(x));
      assert.ok(port !== undefined && port >= 49152 && port <= 65535);
      assert.ok(!used.has(port));
      used.add(port);
    }
  });
  it('consecutive picks for one destination step through the range (table[index]++)', () => {
    const p = new EphemeralPorts(new SeededRng(2), [1000, 1999]);
    const a = p.pick(L, R, 80, () => false)!;
    const b = p.pick(L, R, 80, () => false)!;
    assert.equal(b, a === 1999 ? 1000 : a + 1);
  });
  it('different destinations start at unrelated offsets', () => {
    const p = new EphemeralPorts(new SeededRng(3));
    const starts = new Set<number>();
    for (let port = 1; port <= 50; port++) starts.add(p.pick(L, R, port, () => false)!);
    assert.ok(starts.size > 45);
  });
  it('a pick after another destination hashes its own destination (the kept hash is per destination)', () => {
    const V6: IpAddress = { family: 6, v6: new Uint8Array(16).fill(7) };
    let exact = 0;
    for (const [remote, port] of [
      [R, 81],
      [R, 8080],
      [L, 80],
      [V6, 80],
    ] as const) {
      const fresh = new EphemeralPorts(new SeededRng(9), [1000, 1999]).pick(L, remote, port, () => false)!;
      const p = new EphemeralPorts(new SeededRng(9), [1000, 1999]);
      p.pick(L, R, 80, () => false);
      const after = p.pick(L, remote, port, () => false)!;
      // The same port as a fresh picker's, one further if both destinations share table[index].
      assert.ok(after === fresh || after === (fresh === 1999 ? 1000 : fresh + 1), `${after} vs ${fresh}`);
      if (after === fresh) exact++;
      // And the first destination again continues its own walk.
      const a1 = new EphemeralPorts(new SeededRng(9), [1000, 1999]).pick(L, R, 80, () => false)!;
      const again = p.pick(L, R, 80, () => false)!;
      assert.ok(again !== a1 && (again - a1 + 1000) % 1000 <= 2, `${again} vs ${a1}`);
    }
    assert.ok(exact >= 2);
  });
  it('returns undefined when every port is in use, after checking each once', () => {
    const p = new EphemeralPorts(new SeededRng(4), [5000, 5099]);
    const seen: number[] = [];
    assert.equal(
      p.pick(undefined, undefined, 0, (x) => {
        seen.push(x);
        return true;
      }),
      undefined,
    );
    assert.equal(seen.length, 100);
    assert.equal(new Set(seen).size, 100);
    // The one free port is found.
    assert.equal(
      p.pick(L, undefined, 0, (x) => x !== 5042),
      5042,
    );
  });
  it('rejects bad ranges', () => {
    assert.throws(() => new EphemeralPorts(new SeededRng(1), [0, 10]), RangeError);
    assert.throws(() => new EphemeralPorts(new SeededRng(1), [2000, 1000]), RangeError);
    assert.throws(() => new EphemeralPorts(new SeededRng(1), [1000, 70000]), RangeError);
  });
  it('property: always in range, never in use, undefined only when all are used', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer(),
        fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 20 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (lo, width, seed, remotePorts, density) => {
          const hi = Math.min(65535, lo + width);
          const p = new EphemeralPorts(new SeededRng(seed), [lo, hi]);
          const rng = new SeededRng(seed ^ 0x5555);
          const used = new Set<number>();
          for (let x = lo; x <= hi; x++) if (rng.nextFloat() < density) used.add(x);
          for (const rp of remotePorts) {
            const port = p.pick(L, R, rp, (x) => used.has(x));
            if (port === undefined) assert.equal(used.size, hi - lo + 1);
            else {
              assert.ok(port >= lo && port <= hi && !used.has(port));
              used.add(port);
            }
          }
        },
      ),
    );
  });
});
