/** The window scale we offer (RFC 7323 §2.3) and receiving inside a rounded-up window. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  established,
  expectSeg,
  Harness,
  PEER_ISN,
  PEER_PORT,
  synReceived,
  synSent,
  TCP_ACK,
  TCP_SYN,
} from './harness.ts';

describe('window scale offered', () => {
  it('covers config.maxRcvBuf, not the current SO_RCVBUF (Linux 6 MiB -> 7, FreeBSD 2 MiB -> 6, 15 MiB -> 8)', () => {
    assert.equal(synSent().syn.repr.options.windowScale, 7);
    assert.equal(synSent({ config: { maxRcvBuf: 2097152 } }).syn.repr.options.windowScale, 6);
    assert.equal(synSent({ config: { maxRcvBuf: 15728640 } }).syn.repr.options.windowScale, 8);
    assert.equal(synSent({ config: { maxRcvBuf: 65535, rcvBuf: 65535 } }).syn.repr.options.windowScale, 0);
    // A larger SO_RCVBUF than the maximum still gets a shift that covers it.
    const big = synSent({ config: { maxRcvBuf: 65535 }, connectOptions: { options: { rcvBuf: 1 << 20 } } });
    assert.equal(big.syn.repr.options.windowScale, 5);
  });

  it('passive open: the SYN-ACK offers our shift when the SYN offered one, and scales later windows', () => {
    const s = synReceived({ peerOptions: { mss: 1460, windowScale: 2 } });
    assert.equal(s.synAck.repr.options.windowScale, 7);
    assert.equal(s.synAck.repr.window, 65535, 'the SYN-ACK window itself is not scaled');
    s.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: PEER_ISN + 1,
      ack: s.iss + 1,
      flags: TCP_ACK,
    });
    const c = s.l.accept();
    assert.ok(c);
    assert.equal(c.rcvWscale, 7);
    assert.equal(c.sndWscale, 2);
    c.write(new Uint8Array(10));
    assert.equal(s.h.one().repr.window, (256 * 1024) >> 7);
    // No window scale in the SYN: none in the SYN-ACK, shift 0 both ways.
    const n = synReceived({ peerOptions: { mss: 1460 } });
    assert.equal(n.synAck.repr.options.windowScale, undefined);
  });

  it('SYN-cookie SYN-ACKs and the connections they make use the same shift', () => {
    const h = new Harness({ config: { synCookies: 'always', maxRcvBuf: 2097152 } });
    const l = h.layer.listen({ port: 80, backlog: 4 });
    h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: PEER_ISN,
      flags: TCP_SYN,
      options: { mss: 1460, windowScale: 1 },
    });
    const sa = h.one();
    assert.equal(sa.repr.options.windowScale, 6);
    h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, ack: sa.repr.seq + 1, flags: TCP_ACK });
    assert.equal(l.accept()?.rcvWscale, 6);
  });

  it('data inside a window rounded up to the scale granularity is kept beyond SO_RCVBUF', () => {
    // rcvBuf 1000 with shift 7: the window field counts 128-byte units.
    const e = established({
      connectOptions: { options: { rcvBuf: 1000 } },
      peerOptions: { mss: 1460, windowScale: 0 },
    });
    assert.equal(e.c.rcvWscale, 7);
    const send = (off: number, n: number) =>
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(n).fill(1),
      );
    // Our ACK of the SYN-ACK offered 1000 bytes rounded up to 8 units: 1024.
    assert.equal(e.c.rcv.wnd, 1024);
    send(0, 1024);
    assert.equal(e.c.readableLength, 1024, 'every byte inside the advertised window is kept');
    e.h.advance(40);
    expectSeg(e.h.one(), { ack: e.peerSeq + 1024, window: 0 });
    send(1024, 10);
    expectSeg(e.h.one(), { ack: e.peerSeq + 1024, window: 0 });
    assert.equal(e.c.readableLength, 1024, 'nothing beyond it');
    assert.equal(e.c.read()?.length, 1024);
  });

  it('small segments into an unread buffer do not ratchet the edge past it (RFC 7323 Appendix F)', () => {
    const e = established({
      connectOptions: { options: { rcvBuf: 1000 } },
      peerOptions: { mss: 1460, windowScale: 0 },
    });
    let off = 0;
    // The peer fills every byte it is offered, 37 at a time (never a multiple of 128).
    for (let i = 0; i < 200; i++) {
      const room = e.c.rcvAdv - (e.peerSeq + off);
      if (room <= 0) break;
      const n = Math.min(37, room);
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(n).fill(2),
      );
      off += n;
      e.h.advance(50);
      e.h.take();
    }
    assert.ok(e.c.readableLength >= 896, `filled ${e.c.readableLength}`);
    assert.ok(e.c.readableLength < 1000 + 128, `kept ${e.c.readableLength}: at most one granule over`);
  });
});
