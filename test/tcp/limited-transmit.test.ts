/** RFC 3042 limited transmit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, expectSeg, type Opened, PEER_PORT, TCP_ACK } from './harness.ts';

function dupAck(e: Opened): void {
  e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK });
}

describe('limited transmit (RFC 3042)', () => {
  it('each of the first two duplicate ACKs sends one new segment; the third retransmits', () => {
    const e = established();
    e.c.write(new Uint8Array(60_000));
    const burst = e.h.take();
    const sent = burst.reduce((n, s) => n + s.payload.length, 0);
    const cwnd = e.c.cc.cwnd;
    assert.equal(sent, cwnd);
    dupAck(e);
    expectSeg(e.h.one(), { seq: e.iss + 1 + sent, len: 1460 });
    dupAck(e);
    expectSeg(e.h.one(), { seq: e.iss + 1 + sent + 1460, len: 1460 });
    assert.equal(e.c.cc.cwnd, cwnd, 'cwnd itself is unchanged');
    dupAck(e);
    expectSeg(e.h.one(), { seq: e.iss + 1, len: 1460 });
    assert.ok(e.c.inRecovery);
  });

  it('sends nothing when the peer window has no room or there is no new data', () => {
    const e = established({ peerWindow: 14600 });
    e.c.write(new Uint8Array(60_000));
    e.h.take();
    dupAck(e);
    e.h.none();
    const f = established();
    f.c.write(new Uint8Array(2000));
    f.h.take();
    dupAck(f);
    f.h.none();
  });
});

describe('RFC 6675 §5: a cumulative ACK with new SACK information', () => {
  // DupThresh loss detection (net.ipv4.tcp_recovery = 0; RACK's rules are in test/tcp/rack.test.ts).
  const sackPeer = { peerOptions: { mss: 1460, sackPermitted: true }, config: { recovery: 0 } };
  /** A cumulative ACK of the first segment, SACKing the listed segments (by index). */
  function sackAck(e: Opened, ackSegs: number, sacked: [number, number][]): void {
    const at = (i: number) => e.iss + 1 + i * 1460;
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: at(ackSegs),
      flags: TCP_ACK,
      options: { sack: sacked.map(([l, r]) => ({ left: at(l), right: at(r) })) },
    });
  }

  it('is a duplicate ACK: IsLost(HighACK + 1) starts fast retransmit at once', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(10 * 1460));
    e.h.take();
    // Segment 0 acknowledged; 1 and 2 missing; 3..6 SACKed (more than 2*SMSS above segment 1).
    sackAck(e, 1, [[3, 7]]);
    assert.ok(e.c.inRecovery);
    const out = e.h.take();
    assert.ok(out.length >= 1);
    expectSeg(out[0]!, { seq: e.iss + 1 + 1460, len: 1460 });
  });

  it('is not, when too little is SACKed above the hole', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(10 * 1460));
    e.h.take();
    sackAck(e, 1, [[3, 4]]); // one segment above: not lost yet
    assert.ok(!e.c.inRecovery);
    for (const s of e.h.take()) assert.ok(s.repr.seq !== e.iss + 1 + 1460, 'no retransmission');
  });
});
