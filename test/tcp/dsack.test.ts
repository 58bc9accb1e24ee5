/** RFC 2883 D-SACK on the receiving side. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, PEER_PORT, TCP_ACK } from './harness.ts';

describe('D-SACK (RFC 2883)', () => {
  const sackPeer = { peerOptions: { mss: 1460, sackPermitted: true }, config: { dsack: true } };
  const data = (e: ReturnType<typeof established>, off: number, len: number) =>
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(len),
    );

  it('a duplicate below RCV.NXT is reported first in the next ACK only, before the usual blocks', () => {
    const e = established(sackPeer);
    assert.ok(e.c.sackOk);
    data(e, 0, 100);
    e.h.advance(200);
    e.h.take();
    data(e, 200, 100); // out of order: SACK 200:300
    e.h.take();
    data(e, 50, 25); // duplicate
    const a = e.h.one();
    assert.deepEqual(a.repr.options.sack, [
      { left: e.peerSeq + 50, right: e.peerSeq + 75 },
      { left: e.peerSeq + 200, right: e.peerSeq + 300 },
    ]);
    data(e, 300, 10); // extends the out-of-order block; no D-SACK any more
    assert.deepEqual(e.h.one().repr.options.sack, [{ left: e.peerSeq + 200, right: e.peerSeq + 310 }]);
  });

  it('only the part below RCV.NXT of a partly new segment is a duplicate; off without SACK or config.dsack', () => {
    const e = established(sackPeer);
    data(e, 0, 100);
    e.h.advance(200);
    e.h.take();
    data(e, 50, 100); // 50..100 old, 100..150 new
    const a = e.h.one();
    assert.deepEqual(a.repr.options.sack, [{ left: e.peerSeq + 50, right: e.peerSeq + 100 }]);
    const f = established({ ...sackPeer, config: { dsack: false } });
    data(f, 0, 100);
    f.h.advance(200);
    f.h.take();
    data(f, 50, 25);
    assert.equal(f.h.one().repr.options.sack, undefined);
    const g = established({ config: { dsack: true } });
    data(g, 0, 100);
    g.h.advance(200);
    g.h.take();
    data(g, 50, 25);
    assert.equal(g.h.one().repr.options.sack, undefined);
  });
});
