import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { siphash24, siphash24BigInt, siphash24U32, sipKey } from '../../src/tcp/siphash.ts';

// Appendix A of the SipHash paper / vectors.h of the reference implementation:
// key 00 01 .. 0f, message 00 01 .. (len-1), output as little-endian bytes.
const VECTORS = [
  '310e0edd47db6f72',
  'fd67dc93c539f874',
  '5a4fa9d909806c0d',
  '2d7efbd796666785',
  'b7877127e09427cf',
  '8da699cd64557618',
  'cee3fe586e46c9cb',
  '37d1018bf50002ab',
  '6224939a79f5f593',
  'b0e4a90bdf82009e',
  'f3b9dd94c5bb5d7a',
  'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75',
  '903d84c02756ea14',
  'eef27a8e90ca23f7',
  'e545be4961ca29a1',
];

const seqBytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
const hexLe = (r: Uint32Array) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, r[0], true);
  new DataView(b.buffer).setUint32(4, r[1], true);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
};

// A straightforward BigInt SipHash-2-4 as an independent reference.
function refSip(key: Uint8Array, m: Uint8Array): bigint {
  const M = (1n << 64n) - 1n;
  const rd = (b: Uint8Array, o: number, n = 8) => {
    let x = 0n;
    for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i]);
    return x;
  };
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M;
  const k0 = rd(key, 0);
  const k1 = rd(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & M;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & M;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const whole = m.length - (m.length % 8);
  const blocks: bigint[] = [];
  for (let i = 0; i < whole; i += 8) blocks.push(rd(m, i));
  blocks.push((BigInt(m.length & 0xff) << 56n) | rd(m, whole, m.length - whole));
  for (const b of blocks) {
    v3 ^= b;
    round();
    round();
    v0 ^= b;
  }
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

describe('siphash24', () => {
  const key = sipKey(seqBytes(16));
  it('matches the reference vectors for lengths 0..15', () => {
    for (let n = 0; n < VECTORS.length; n++)
      assert.equal(hexLe(siphash24(key, seqBytes(n))), VECTORS[n], `len ${n}`);
  });
  it('matches the paper example 0xa129ca6149be45e5 (15-byte message)', () => {
    assert.equal(siphash24BigInt(key, seqBytes(15)), 0xa129ca6149be45e5n);
    assert.equal(siphash24U32(key, seqBytes(15)), 0x49be45e5);
  });
  it('hashes a sub-range like the same bytes on their own', () => {
    const big = seqBytes(40);
    assert.equal(hexLe(siphash24(key, big, undefined, 3, 20)), hexLe(siphash24(key, big.slice(3, 20))));
  });
  it('agrees with an independent BigInt implementation on random keys and messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 70 }),
        (k, m) => {
          assert.equal(siphash24BigInt(sipKey(k), m), refSip(k, m));
        },
      ),
      { numRuns: 300 },
    );
  });
  it('rejects keys that are not 16 bytes', () => {
    assert.throws(() => sipKey(new Uint8Array(15)), RangeError);
  });
  it('is fast enough for per-SYN use (32-bit ops, no BigInt)', () => {
    // Not a timing assertion: just exercise many hashes and check they differ.
    const seen = new Set<number>();
    const m = new Uint8Array(12);
    for (let i = 0; i < 5000; i++) {
      new DataView(m.buffer).setUint32(0, i);
      seen.add(siphash24U32(key, m));
    }
    assert.ok(seen.size > 4990);
  });
});
