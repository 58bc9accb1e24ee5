import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SackScoreboard } from '../../src/tcp/sack.ts';
import { type Seq, seq, seqAdd, seqSub } from '../../src/tcp/seq.ts';

const B = (left: number, right: number) => ({ left, right });

describe('SackScoreboard', () => {
  it('merges overlapping and adjacent blocks and keeps them sorted', () => {
    const sb = new SackScoreboard();
    sb.update([B(300, 400), B(100, 200)], seq(0));
    sb.update([B(200, 250), B(350, 500)], seq(0));
    assert.deepEqual(sb.blocks(), [B(100, 250), B(300, 500)]);
    assert.equal(sb.sackedBytes, 350);
    assert.ok(sb.isSacked(seq(100)));
    assert.ok(sb.isSacked(seq(249)));
    assert.ok(!sb.isSacked(seq(250)));
    assert.ok(!sb.isSacked(seq(99)));
    assert.equal(sb.highestSacked(), 500);
  });
  it('ignores invalid, D-SACK (below snd.una) and beyond-snd.nxt blocks; clips straddling ones', () => {
    const sb = new SackScoreboard();
    sb.update([B(50, 100), B(200, 200), B(300, 250), B(900, 1200)], seq(100), seq(1000));
    assert.deepEqual(sb.blocks(), []);
    sb.update([B(80, 150)], seq(100));
    assert.deepEqual(sb.blocks(), [B(100, 150)]);
  });
  it('advance drops what the cumulative ACK covers', () => {
    const sb = new SackScoreboard();
    sb.update([B(100, 200), B(300, 400)], seq(0));
    sb.advance(seq(150));
    assert.deepEqual(sb.blocks(), [B(150, 200), B(300, 400)]);
    assert.equal(sb.sackedBytes, 150);
    sb.advance(seq(400));
    assert.deepEqual(sb.blocks(), []);
    assert.equal(sb.sackedBytes, 0);
    assert.equal(sb.highestSacked(), undefined);
  });
  it('IsLost: DupThresh blocks above, or more than 2*SMSS bytes above (RFC 6675 §4)', () => {
    const sb = new SackScoreboard();
    sb.update([B(100, 200), B(300, 400)], seq(0));
    assert.ok(!sb.isLost(seq(0), 100)); // 2 blocks, 200 bytes: not more than 2*SMSS
    sb.update([B(500, 501)], seq(0));
    assert.ok(sb.isLost(seq(0), 100)); // 3 discontiguous blocks
    const sb2 = new SackScoreboard();
    sb2.update([B(100, 301)], seq(0));
    assert.ok(sb2.isLost(seq(0), 100)); // 201 bytes > 200
    assert.ok(!sb2.isLost(seq(100), 100)); // octets above 100: 101..300 = 200 bytes
  });
  it('NextSeg rule 1, then rule 3 when no new data can go', () => {
    const sb = new SackScoreboard();
    sb.update([B(100, 200), B(300, 400), B(500, 600)], seq(0));
    const una = seq(0);
    const nxt = seq(1000);
    assert.deepEqual(sb.nextSeg(una, nxt, 100, una), { seq: 0, len: 100 });
    // After retransmitting [0,100): hole [200,300) has only 2 blocks / 200 bytes above: not lost.
    assert.equal(sb.nextSeg(una, nxt, 100, seq(100)), undefined);
    assert.deepEqual(sb.nextSeg(una, nxt, 100, seq(100), false), { seq: 200, len: 100 });
    // Nothing above the highest SACKed octet qualifies (1.b).
    assert.equal(sb.nextSeg(una, nxt, 100, seq(600), false), undefined);
    // A segment is at most one SMSS and does not cross SACKed data.
    assert.deepEqual(sb.nextSeg(una, nxt, 60, una), { seq: 0, len: 60 });
    assert.deepEqual(sb.nextSeg(una, nxt, 500, una), { seq: 0, len: 100 });
  });
  it('SetPipe counts unSACKed not-lost octets plus retransmitted ones', () => {
    const sb = new SackScoreboard();
    sb.update([B(100, 200), B(300, 400), B(500, 600)], seq(0));
    // not lost & unSACKed: [200,300) [400,500) [600,1000) = 600
    assert.equal(sb.pipe(seq(0), seq(1000), 100, seq(0)), 600);
    // after retransmitting [0,100): +100
    assert.equal(sb.pipe(seq(0), seq(1000), 100, seq(100)), 700);
    assert.equal(new SackScoreboard().pipe(seq(0), seq(1000), 100, seq(0)), 1000);
  });
  it('stays bounded in size', () => {
    const sb = new SackScoreboard(8);
    for (let i = 0; i < 100; i++) sb.update([B(i * 10 + 5, i * 10 + 8)], seq(0));
    assert.equal(sb.blockCount, 8);
    assert.equal(sb.sackedBytes, 24);
  });

  it('property: sorted, disjoint, exact; IsLost/NextSeg/SetPipe agree with per-octet definitions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(
          fc.array(fc.tuple(fc.integer({ min: -50, max: 450 }), fc.integer({ min: -5, max: 80 })), {
            maxLength: 4,
          }),
          {
            maxLength: 12,
          },
        ),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 10, max: 60 }),
        fc.integer({ min: 0, max: 400 }),
        (isn, acks, unaOff, mss, rxtOff) => {
          const base = seq(isn);
          const span = 400;
          const sndNxt = seqAdd(base, span);
          const sb = new SackScoreboard();
          const model = new Uint8Array(span);
          let una = 0;
          for (const blocks of acks) {
            sb.update(
              blocks.map(([l, n]) => ({ left: seqAdd(base, l), right: seqAdd(base, l + n) })),
              seqAdd(base, una),
              sndNxt,
            );
            for (const [l, n] of blocks) {
              if (n <= 0 || l + n <= una || l + n > span) continue;
              for (let i = Math.max(l, una); i < l + n; i++) model[i] = 1;
            }
          }
          una = Math.min(unaOff, span);
          sb.advance(seqAdd(base, una));
          for (let i = 0; i < una; i++) model[i] = 0;
          const bl = sb.blocks();
          let total = 0;
          for (let i = 0; i < bl.length; i++) {
            const w = seqSub(seq(bl[i].right), seq(bl[i].left));
            assert.ok(w > 0);
            total += w;
            if (i > 0) assert.ok(seqSub(seq(bl[i].left), seq(bl[i - 1].right)) > 0, 'disjoint, non-adjacent');
          }
          assert.equal(total, sb.sackedBytes);
          assert.equal(
            total,
            model.reduce((a, b) => a + b, 0),
          );
          const lostModel = (o: number) => {
            let bytes = 0;
            let blocks = 0;
            for (let i = o + 1; i < span; i++) {
              if (model[i]) {
                bytes++;
                if (!model[i - 1] || i === o + 1) blocks++;
              }
            }
            return blocks >= 3 || bytes > 2 * mss;
          };
          let pipe = 0;
          const rxt = Math.max(una, Math.min(rxtOff, span));
          for (let o = una; o < span; o++) {
            const s = seqAdd(base, o);
            assert.equal(sb.isSacked(s), model[o] === 1);
            assert.equal(sb.isLost(s, mss), lostModel(o), `isLost ${o}`);
            if (!model[o]) {
              if (!lostModel(o)) pipe++;
              if (o < rxt) pipe++;
            }
          }
          assert.equal(sb.pipe(seqAdd(base, una), sndNxt, mss, seqAdd(base, rxt)), pipe);
          // NextSeg rule 1: first octet >= rxt, unSACKed, below the highest SACKed octet, lost.
          let highest = -1;
          for (let i = span - 1; i >= 0; i--)
            if (model[i]) {
              highest = i;
              break;
            }
          let expect: { seq: Seq; len: number } | undefined;
          for (let o = rxt; o < highest; o++) {
            if (model[o]) continue;
            if (lostModel(o)) {
              let n = 0;
              while (n < mss && o + n < span && !model[o + n]) n++;
              expect = { seq: seqAdd(base, o), len: n };
            }
            break;
          }
          assert.deepEqual(sb.nextSeg(seqAdd(base, una), sndNxt, mss, seqAdd(base, rxt)), expect);
        },
      ),
      { numRuns: 400 },
    );
  });
});
