/** The receive window we offer (RFC 9293 §3.8.6.2.2 receiver SWS avoidance). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, expectSeg, PEER_PORT, TCP_ACK } from './harness.ts';

function opened(rcvBuf: number) {
  // No window scaling (the peer offers none): the field caps the window at 65535.
  return established({ connectOptions: { options: { rcvBuf } } });
}

describe('offered receive window', () => {
  it('free space beyond what the 16-bit field holds: every ACK offers 65535 (FreeBSD reordering-*.pkt)', () => {
    const e = opened(65700);
    let off = 0;
    for (const n of [1, 1, 100, 1]) {
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(n),
      );
      off += n;
      e.h.advance(40);
      expectSeg(e.h.one(), { ack: e.peerSeq + off, window: 65535 });
    }
    assert.equal(e.c.readableLength, 103);
  });

  it('a window limited by buffer space keeps its right edge until it can grow by an MSS', () => {
    const e = opened(60000);
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(100),
    );
    e.h.advance(40);
    expectSeg(e.h.one(), { ack: e.peerSeq + 100, window: 59900 });
    e.c.read(); // 100 bytes freed: less than an MSS, no update and no growth yet
    e.h.none();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 100, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(10),
    );
    e.h.advance(40);
    expectSeg(e.h.one(), { ack: e.peerSeq + 110, window: 59890 });
  });
});
