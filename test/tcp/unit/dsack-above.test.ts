/**
 * D-SACK for duplicates above RCV.NXT (RFC 2883 §4) and the SACK block order of RFC 2018 §4,
 * on a hand-made TCB: segments in, the SACK option of the ACK that answers each.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { segmentArrives } from '../../../src/tcp/input.ts';
import type { Seq } from '../../../src/tcp/seq.ts';
import { TCP_ACK } from '../../../src/wire/tcp.ts';
import { established, fromPeer, theirs } from './tcb-fixture.ts';

/** A SACK connection; `data(off, len)` delivers peer bytes [off, off+len) and returns our ACK's SACK blocks. */
function receiver(dsack = true) {
  const e = established({ sackOk: true, config: { dsack } });
  const data = (off: number, len: number): [number, number][] | undefined => {
    segmentArrives(e.c, fromPeer(e.c, { seq: theirs(off), flags: TCP_ACK }), new Uint8Array(len));
    const acks = e.host.take();
    const last = acks[acks.length - 1];
    assert.ok(last, `an ACK for ${off}:${off + len}`);
    return last.options.sack?.map((b) => [rel(b.left as Seq), rel(b.right as Seq)]);
  };
  return { ...e, data };
}
const rel = (s: Seq): number => (s - theirs(0)) >>> 0;

describe('D-SACK above RCV.NXT (RFC 2883 §4)', () => {
  it('RFC 2883 §4.2.1 example: a duplicate inside the out-of-order block is reported first, the block second', () => {
    // (bytes 500..999 stand for the RFC's 4000..4499 lost segment, scaled: 0-based offsets.)
    const { data } = receiver();
    assert.equal(data(0, 500), undefined);
    // 500..999 lost; 1000..2999 arrive.
    assert.deepEqual(data(1000, 500), [[1000, 1500]]);
    assert.deepEqual(data(1500, 500), [[1000, 2000]]);
    assert.deepEqual(data(2000, 500), [[1000, 2500]]);
    assert.deepEqual(data(2500, 500), [[1000, 3000]]);
    // 1500..1999 again: "SACK=5000-5500, 4500-6500".
    assert.deepEqual(data(1500, 500), [
      [1500, 2000],
      [1000, 3000],
    ]);
    // The next ACK carries no D-SACK.
    assert.deepEqual(data(3500, 500), [
      [3500, 4000],
      [1000, 3000],
    ]);
  });

  it('a partly new segment: the held part is the D-SACK, then the grown block', () => {
    const { data } = receiver();
    data(0, 100);
    data(200, 100); // held 200..300
    assert.deepEqual(data(250, 100), [
      [250, 300],
      [200, 350],
    ]);
  });

  it('a segment over two held runs with a gap between: the first run only, as Linux extends only what touches', () => {
    const { data } = receiver();
    data(0, 100);
    data(200, 100); // 200..300
    data(400, 100); // 400..500
    const sack = data(150, 400); // 150..550 covers both runs and fills the gap 300..400
    assert.deepEqual(sack, [
      [200, 300],
      [150, 550],
    ]);
  });

  it('adjacent held pieces count as one run', () => {
    const { data } = receiver();
    data(0, 100);
    data(200, 100);
    data(300, 100); // 200..400 held as two pieces
    assert.deepEqual(data(250, 100), [
      [250, 350],
      [200, 400],
    ]);
  });

  it('without config.dsack the duplicate is not reported, but the block order still follows the arrival', () => {
    const { data } = receiver(false);
    data(0, 100);
    data(200, 100);
    data(400, 100);
    assert.deepEqual(data(200, 100), [
      [200, 300],
      [400, 500],
    ]);
  });
});

describe('SACK block order (RFC 2018 §4)', () => {
  it('the block with the latest segment first, then the most recently reported ones', () => {
    const { data } = receiver();
    data(0, 100);
    assert.deepEqual(data(200, 100), [[200, 300]]);
    assert.deepEqual(data(400, 100), [
      [400, 500],
      [200, 300],
    ]);
    assert.deepEqual(data(600, 100), [
      [600, 700],
      [400, 500],
      [200, 300],
    ]);
    // An arrival that grows an older block moves it to the front.
    assert.deepEqual(data(300, 50), [
      [200, 350],
      [600, 700],
      [400, 500],
    ]);
    // One that fills a hole between two blocks: the merged block first.
    assert.deepEqual(data(350, 50), [
      [200, 500],
      [600, 700],
    ]);
  });
});
