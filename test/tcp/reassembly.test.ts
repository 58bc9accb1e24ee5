import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReassemblyQueue } from '../../src/tcp/reassembly.ts';
import { type Seq, seq, seqAdd, seqSub } from '../../src/tcp/seq.ts';

const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
};

describe('ReassemblyQueue', () => {
  it('holds out-of-order data and releases it once the hole is filled', () => {
    const q = new ReassemblyQueue(10_000);
    const base = seq(1000);
    assert.equal(q.insert(seqAdd(base, 10), bytes(10, 10), false), 'stored');
    assert.equal(q.bytes, 10);
    let r = q.take(base);
    assert.equal(r.length, 0);
    assert.equal(q.bytes, 10);
    // The caller delivered [0, 10) itself; now rcv.nxt = base + 10.
    r = q.take(seqAdd(base, 10));
    assert.deepEqual(concat(r.chunks), bytes(10, 10));
    assert.equal(r.fin, false);
    assert.equal(q.bytes, 0);
    assert.equal(q.segments, 0);
  });
  it('keeps subarrays of the inserted bytes without copying', () => {
    const q = new ReassemblyQueue(10_000);
    const d = bytes(0, 100);
    q.insert(seq(50), d, false);
    const r = q.take(seq(50));
    assert.equal(r.chunks[0].buffer, d.buffer);
    assert.equal(r.chunks[0].byteOffset, d.byteOffset);
  });
  it('trims overlaps and reports pure duplicates', () => {
    const q = new ReassemblyQueue(10_000);
    assert.equal(q.insert(seq(10), bytes(10, 10), false), 'stored');
    assert.equal(q.insert(seq(12), bytes(12, 5), false), 'duplicate');
    assert.equal(q.insert(seq(5), bytes(5, 20), false), 'stored');
    assert.equal(q.bytes, 20);
    assert.equal(q.segments, 3);
    const r = q.take(seq(5));
    assert.deepEqual(concat(r.chunks), bytes(5, 20));
  });
  it('take trims data that rcv.nxt has already passed', () => {
    const q = new ReassemblyQueue(10_000);
    q.insert(seq(10), bytes(10, 10), false);
    q.insert(seq(30), bytes(30, 10), false);
    const r = q.take(seq(15));
    assert.deepEqual(concat(r.chunks), bytes(15, 5));
    assert.equal(q.bytes, 10);
    const r2 = q.take(seq(35));
    assert.deepEqual(concat(r2.chunks), bytes(35, 5));
    assert.equal(q.bytes, 0);
  });
  it('delivers a queued FIN right after its data', () => {
    const q = new ReassemblyQueue(10_000);
    assert.equal(q.insert(seq(20), bytes(20, 5), true), 'stored');
    assert.equal(q.finSeq, seq(25));
    assert.equal(q.take(seq(10)).fin, false);
    const r = q.take(seq(20));
    assert.equal(r.length, 5);
    assert.equal(r.fin, true);
    assert.equal(q.finSeq, undefined);
    assert.ok(q.isEmpty);
  });
  it('a bare FIN out of order is stored once; data beyond it is cut off', () => {
    const q = new ReassemblyQueue(10_000);
    assert.equal(q.insert(seq(30), new Uint8Array(0), true), 'stored');
    assert.equal(q.insert(seq(30), new Uint8Array(0), true), 'duplicate');
    assert.equal(q.insert(seq(25), bytes(25, 10), false), 'stored');
    assert.equal(q.bytes, 5);
    const r = q.take(seq(25));
    assert.equal(r.length, 5);
    assert.equal(r.fin, true);
  });
  it('rejects segments beyond the memory limit and never exceeds it', () => {
    const q = new ReassemblyQueue(100);
    assert.equal(q.insert(seq(1000), bytes(0, 60), false), 'stored');
    assert.equal(q.insert(seq(2000), bytes(0, 60), false), 'dropped-limit');
    assert.equal(q.bytes, 60);
    // Overlapping data only costs its new bytes.
    assert.equal(q.insert(seq(1000), bytes(0, 100), false), 'stored');
    assert.equal(q.bytes, 100);
  });
  it('bounds the number of pieces too (1-byte hole attack)', () => {
    const q = new ReassemblyQueue(1_000_000, 10);
    let stored = 0;
    for (let i = 0; i < 100; i++) if (q.insert(seq(i * 2), bytes(0, 1), false) === 'stored') stored++;
    assert.equal(stored, 10);
    assert.equal(q.segments, 10);
  });
  it('SACK blocks: most recent first, then the others (RFC 2018 §4)', () => {
    const q = new ReassemblyQueue(100_000);
    q.insert(seq(100), bytes(0, 10), false);
    q.insert(seq(200), bytes(0, 10), false);
    q.insert(seq(300), bytes(0, 10), false);
    q.insert(seq(210), bytes(0, 10), false); // extends the [200,210) block
    assert.deepEqual(q.sackBlocks(4), [
      { left: 200, right: 220 },
      { left: 300, right: 310 },
      { left: 100, right: 110 },
    ]);
    assert.deepEqual(q.sackBlocks(2), [
      { left: 200, right: 220 },
      { left: 300, right: 310 },
    ]);
    assert.deepEqual(q.sackBlocks(0), []);
    // A duplicate arrival also moves its block to the front.
    q.insert(seq(100), bytes(0, 5), false);
    assert.deepEqual(q.sackBlocks(1), [{ left: 100, right: 110 }]);
    // Blocks below rcv.nxt disappear after take.
    q.take(seq(110));
    assert.deepEqual(q.sackBlocks(4), [
      { left: 200, right: 220 },
      { left: 300, right: 310 },
    ]);
  });
  it('handles sequence-number wrap-around', () => {
    const q = new ReassemblyQueue(10_000);
    const base = seq(0xffffff00);
    q.insert(seqAdd(base, 0x190), bytes(0x190, 0x40), false);
    q.insert(seqAdd(base, 0x80), bytes(0x80, 0x100), false);
    q.insert(seqAdd(base, 0xf0), bytes(0xf0, 0x20), false);
    const r = q.take(seqAdd(base, 0x80));
    assert.deepEqual(concat(r.chunks), bytes(0x80, 0x100));
    assert.deepEqual(q.sackBlocks(4), [{ left: seqAdd(base, 0x190), right: seqAdd(base, 0x1d0) }]);
  });
  it('clear(from) drops data at/after from (reneging); clear() drops all', () => {
    const q = new ReassemblyQueue(10_000);
    q.insert(seq(10), bytes(10, 10), false);
    q.insert(seq(30), bytes(30, 10), true);
    q.clear(seq(15));
    assert.equal(q.bytes, 5);
    assert.equal(q.finSeq, undefined);
    assert.deepEqual(q.blocks(), [{ left: 10, right: 15 }]);
    q.clear();
    assert.equal(q.bytes, 0);
    assert.ok(q.isEmpty);
  });

  it('property: any permutation/duplication/overlap of segments of a stream reassembles to the stream', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 60 })), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.infiniteStream(fc.boolean()),
        (isn, len, cuts, withFin, takeNow) => {
          const stream = Uint8Array.from({ length: len }, (_, i) => (i * 7 + 3) & 0xff);
          const base = seq(isn);
          // Random segments (may overlap, duplicate), plus a cover of the whole stream, shuffled by fast-check order.
          const segs: [number, number][] = cuts.map(([a, n]) => {
            const s = a % len;
            return [s, Math.min(n, len - s)];
          });
          for (let s = 0; s < len; s += 37) segs.push([s, Math.min(37, len - s)]);
          segs.sort((x, y) => ((x[0] * 31 + x[1] * 17) % 13) - ((y[0] * 31 + y[1] * 17) % 13));
          const q = new ReassemblyQueue(100_000);
          let rcvNxt: Seq = base;
          const got: Uint8Array[] = [];
          let fin = false;
          const it = takeNow[Symbol.iterator]();
          for (const [s, n] of segs) {
            const isLast = s + n === len;
            q.insert(seqAdd(base, s), stream.subarray(s, s + n), withFin && isLast);
            if (it.next().value) {
              const r = q.take(rcvNxt);
              got.push(...r.chunks);
              rcvNxt = seqAdd(rcvNxt, r.length);
              fin ||= r.fin;
            }
            // Invariant: blocks are sorted, disjoint, and bytes match.
            const bl = q.blocks();
            let total = 0;
            for (let i = 0; i < bl.length; i++) {
              total += seqSub(seq(bl[i].right), seq(bl[i].left));
              if (i > 0) assert.ok(seqSub(seq(bl[i].left), seq(bl[i - 1].right)) > 0);
            }
            assert.equal(total, q.bytes);
          }
          const r = q.take(rcvNxt);
          got.push(...r.chunks);
          rcvNxt = seqAdd(rcvNxt, r.length);
          fin ||= r.fin;
          assert.deepEqual(concat(got), stream);
          assert.equal(fin, withFin);
          assert.equal(q.bytes, 0);
          assert.equal(q.segments, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
