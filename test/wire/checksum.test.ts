import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ipv4 } from '../../src/wire/address.ts';
import {
  checksumPartial,
  checksumUpdate16,
  checksumUpdate32,
  finishChecksum,
  foldChecksum,
  internetChecksum,
  internetChecksumRange,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  useSimdChecksum,
} from '../../src/wire/checksum.ts';
import { isWireError, wireError } from '../../src/wire/error.ts';

/** Reference: the RFC 1071 algorithm word by word, big-endian. */
function refSum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}

// Both paths: the WebAssembly SIMD sum (Node 20 has WebAssembly SIMD, so it must be on here) and
// the JS word loop an engine without it runs.
for (const path of ['simd', 'js'] as const) {
  describe(`internet checksum (${path} path)`, () => {
    before(() => assert.equal(useSimdChecksum(path === 'simd'), path === 'simd'));
    after(() => useSimdChecksum(true));

    it('equals the reference around the 64-byte block and 64 KiB call boundaries, any offset and start sum', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(128, 129, 191, 192, 193, 255, 1499, 1500, 65535, 65536, 65537, 65600, 131073),
          fc.integer({ min: -64, max: 64 }),
          fc.nat(7),
          fc.nat(0xfffff),
          fc.nat(0xffff),
          (base, delta, off, sum, seed) => {
            const len = Math.max(0, base + delta);
            const buf = new Uint8Array(len + off + 5).fill(0xa5);
            for (let i = off; i < off + len; i++) buf[i] = (i * 2654435761 + seed) >>> 24;
            const sub = buf.subarray(off, off + len);
            assert.equal(foldChecksum(checksumPartial(sub, sum)), foldChecksum(refSum(sub) + sum));
            assert.equal(internetChecksumRange(buf, off, off + len, sum), finishChecksum(refSum(sub) + sum));
          },
        ),
        { numRuns: 60, seed: 14 },
      );
    });

    it('of a range equals the checksum of that range as a view, short and long, any offsets and start sum', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 600 }),
          fc.nat(),
          fc.nat(),
          fc.nat({ max: 0x3ffff }),
          (b, x, y, sum) => {
            const start = b.length === 0 ? 0 : x % (b.length + 1);
            const end = start + (b.length === 0 ? 0 : y % (b.length - start + 1));
            const want = finishChecksum(refSum(b.subarray(start, end)) + sum);
            assert.equal(internetChecksumRange(b, start, end, sum), want);
            assert.equal(
              internetChecksumRange(b, start, end, sum),
              internetChecksum(b.subarray(start, end), sum),
            );
          },
        ),
        { numRuns: 300, seed: 7 },
      );
    });
    it('sums all-ones ranges of up to 128 KiB exactly (the largest partial sums), in a buffer or alone', () => {
      for (const len of [65535, 65536, 65537, 131072]) {
        for (const extra of [0, 3, 600]) {
          const buf = new Uint8Array(len + extra).fill(0xff);
          // Every 16-bit word is 0xffff: the folded sum is 0xffff, the checksum 0 (odd: 0xff00 last).
          const want = len % 2 === 0 ? 0 : finishChecksum(((len - 1) / 2) * 0xffff + 0xff00);
          assert.equal(internetChecksumRange(buf, extra, extra + len), want, `${len} at ${extra}`);
          assert.equal(internetChecksum(buf.subarray(extra)), want);
        }
      }
    });

    it('matches the RFC 1071 §3 worked example', () => {
      const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
      assert.equal(foldChecksum(checksumPartial(b, 0)), 0xddf2);
      assert.equal(internetChecksum(b), 0x220d);
      // The same example long enough to take the word-at-a-time path, at odd offsets.
      const big = new Uint8Array(8 * 64 + 3);
      for (let k = 0; k < 64; k++) big.set(b, 8 * k);
      for (const off of [0, 1, 2, 3]) {
        const sub = big.subarray(off, off + 8 * 63);
        assert.equal(foldChecksum(checksumPartial(sub, 0)), refSum(sub));
      }
    });

    it('pads odd lengths with a zero low byte', () => {
      assert.equal(foldChecksum(checksumPartial(new Uint8Array([0xab]), 0)), 0xab00);
      assert.equal(internetChecksum(new Uint8Array([0x12, 0x34, 0x56])), ~(0x1234 + 0x5600) & 0xffff);
      const odd = new Uint8Array(77).map((_, i) => (i * 37 + 11) & 0xff);
      assert.equal(foldChecksum(checksumPartial(odd, 0)), refSum(odd));
    });

    it('an all-zero buffer sums to 0 and checksums to 0xffff; a verified buffer sums to 0xffff', () => {
      assert.equal(internetChecksum(new Uint8Array(100)), 0xffff);
      const b = new Uint8Array([
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
      ]);
      const c = internetChecksum(b);
      b[10] = c >> 8;
      b[11] = c & 0xff;
      assert.equal(foldChecksum(checksumPartial(b, 0)), 0xffff);
      assert.equal(internetChecksum(b), 0);
    });

    it('equals the reference on random data of any length and alignment', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(3), (data, off) => {
          const buf = new Uint8Array(data.length + off);
          buf.set(data, off);
          const sub = buf.subarray(off);
          assert.equal(foldChecksum(checksumPartial(sub, 0)), refSum(data));
        }),
      );
    });

    it('equals the reference on long inputs (a view of their own) at every alignment', () => {
      fc.assert(
        fc.property(fc.integer({ min: 4096, max: 70_000 }), fc.nat(3), fc.nat(0xffff), (len, off, seed) => {
          const buf = new Uint8Array(len + off + 3);
          for (let i = 0; i < buf.length; i++) buf[i] = (i * 131 + seed) & 0xff;
          const sub = buf.subarray(off, off + len);
          assert.equal(foldChecksum(checksumPartial(sub, 0)), refSum(sub));
        }),
        { numRuns: 40 },
      );
    });

    it('chains partial sums across even-length chunks', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(200), (data, cutRaw) => {
          const cut = Math.min(cutRaw * 2, data.length & ~1);
          const whole = foldChecksum(checksumPartial(data, 0));
          const chained = foldChecksum(
            checksumPartial(data.subarray(cut), checksumPartial(data.subarray(0, cut), 0)),
          );
          assert.equal(chained, whole);
        }),
      );
    });

    it('handles huge inputs (folds before precision is lost)', () => {
      const b = new Uint8Array(1 << 23).fill(0xff);
      assert.equal(foldChecksum(checksumPartial(b, 0)), 0xffff);
      b[b.length - 1] = 0xfe;
      assert.equal(internetChecksum(b), refSum(b) ^ 0xffff);
    });

    it('pseudo-header sums equal summing the literal pseudo-header bytes', () => {
      const src = ipv4(192, 168, 1, 10);
      const dst = ipv4(10, 250, 0, 2);
      const v4 = new Uint8Array([192, 168, 1, 10, 10, 250, 0, 2, 0, 6, 0x05, 0xdc]);
      assert.equal(foldChecksum(pseudoHeaderSumV4(src, dst, 6, 1500)), refSum(v4));
      const s6 = new Uint8Array(16).map((_, i) => i * 17);
      const d6 = new Uint8Array(16).map((_, i) => 255 - i * 3);
      const ph = new Uint8Array(40);
      ph.set(s6, 0);
      ph.set(d6, 16);
      ph.set([0x00, 0x01, 0x00, 0x10], 32);
      ph[39] = 17;
      assert.equal(foldChecksum(pseudoHeaderSumV6(s6, d6, 17, 0x10010)), refSum(ph));
    });

    it('RFC 1624 incremental update agrees with recomputation (16- and 32-bit)', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 8, maxLength: 64 }),
          fc.nat(),
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          (raw, posRaw, w16, w32) => {
            const data = raw.slice(0, raw.length & ~1);
            data[0] |= 1; // a nonzero word outside the edit keeps +0/-0 out of the picture
            const pos = 2 + 2 * (posRaw % ((data.length - 4) / 2));
            const before = internetChecksum(data);
            const old16 = (data[pos] << 8) | data[pos + 1];
            data[pos] = w16 >> 8;
            data[pos + 1] = w16 & 0xff;
            assert.equal(checksumUpdate16(before, old16, w16), internetChecksum(data));
            if (pos + 4 <= data.length) {
              const b2 = internetChecksum(data);
              const dv = new DataView(data.buffer, data.byteOffset);
              const old32 = dv.getUint32(pos);
              dv.setUint32(pos, w32);
              assert.equal(checksumUpdate32(b2, old32, w32), internetChecksum(data));
            }
          },
        ),
      );
    });

    it('finishChecksum complements the folded sum', () => {
      assert.equal(finishChecksum(0x1ddf2), 0x220c); // 0xddf2 + end-around carry = 0xddf3
      assert.equal(finishChecksum(0), 0xffff);
    });
  });
}

describe('WireError', () => {
  it('is a tagged value recognised by isWireError', () => {
    const e = wireError('truncated', 'need 20 bytes');
    assert.deepEqual(e, { wireError: 'truncated', detail: 'need 20 bytes' });
    assert.ok(isWireError(e));
    assert.ok(!isWireError({ repr: 1 }));
    assert.ok(!isWireError(null));
    assert.ok(!isWireError(5));
  });
});
