/**
 * Two edges of segment arrival (issue #17's leftovers in src/tcp/input.ts):
 * - a SYN outside the window in a synchronized state goes to the challenge-ACK path, under
 *   the host-wide limit as well as the connection's (RFC 5961 §4.2; Linux syn_challenge);
 * - a duplicate ending exactly at RCV.NXT is acceptable, so its ACK field is processed (Linux
 *   tcp_sequence: end_seq not before rcv_wup), its text reported as a duplicate and ACKed.
 */
import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import { established, expectSeg, PEER_PORT, TCP_ACK, TCP_SYN } from './harness.ts';

const bytes = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

suite('a SYN outside the window (RFC 5961 §4.2)', () => {
  test('is answered by a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>; the connection stays', () => {
    const e = established();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 10_000_000, flags: TCP_SYN });
    expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 1, ack: e.peerSeq });
    assert.equal(e.c.state, 'ESTABLISHED');
    assert.equal(e.h.layer.stats.synChallenges, 1);
    assert.equal(e.h.layer.stats.challengeAcks, 1);
  });

  test('counts against the host-wide challenge-ACK limit, in or out of the window alike', () => {
    // No per-connection limit: only the host-wide one (2 per second: 1 or 2 each second).
    const e = established({ config: { challengeAckLimit: 2, invalidRateLimit: 0 } });
    let total = 0;
    for (let sec = 0; sec < 10; sec++) {
      for (let i = 0; i < 5; i++) {
        const far = i % 2 === 0 ? 0x40000000 : i; // out of the window, then in it
        e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + far, flags: TCP_SYN });
      }
      const n = e.h.take().length;
      assert.ok(n >= 1 && n <= 2, `${n} challenge ACKs in a second for 5 SYNs`);
      total += n;
      e.h.advance(1000);
    }
    assert.equal(e.h.layer.stats.synChallenges, 30, 'the out-of-window ones took the challenge path');
    assert.equal(e.h.layer.stats.challengeAcks, total);
    assert.equal(e.c.state, 'ESTABLISHED');
  });

  test('a SYN failing PAWS takes the challenge path too', () => {
    const e = established({
      peerOptions: { mss: 1460, timestamps: { tsVal: 1000, tsEcr: 0 } },
      config: { challengeAckLimit: 1, invalidRateLimit: 0 },
    });
    const old = { tsVal: 500, tsEcr: 0 };
    for (let i = 0; i < 4; i++)
      e.h.inject({
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        flags: TCP_SYN,
        options: { timestamps: old },
      });
    // Limit 1: one challenge ACK in the second (the draw is in [1, 1]).
    assert.equal(e.h.take().length, 1);
    assert.equal(e.h.layer.stats.pawsDrops, 4);
    assert.equal(e.h.layer.stats.synChallenges, 4);
    assert.equal(e.c.state, 'ESTABLISHED');
  });
});

suite('a duplicate ending exactly at RCV.NXT', () => {
  test('is acceptable: its ACK moves SND.UNA and the window; the duplicate is ACKed at once', () => {
    const e = established();
    e.c.write(bytes(100));
    expectSeg(e.h.one(), { len: 100, seq: e.iss + 1 });
    // The peer's 50 bytes arrive (it has not yet seen ours).
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      bytes(50),
    );
    e.h.advance(250); // our delayed ACK of them goes out
    e.h.take();
    // Our ACK was lost: the peer resends the 50 bytes, now acknowledging our 100, with a new window.
    e.h.inject(
      {
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: e.iss + 101,
        flags: TCP_ACK,
        window: 30000,
      },
      bytes(50),
    );
    assert.equal(e.c.snd.una, (e.iss + 101) >>> 0, 'the ACK field was processed');
    assert.equal(e.c.snd.wnd, 30000);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 50 });
    assert.equal(e.h.layer.stats.duplicateAtRcvNxt, 1);
    assert.equal(e.c.read()?.length, 50, 'delivered once');
  });

  test('one ending a byte short of RCV.NXT is still not acceptable (its ACK is not processed)', () => {
    const e = established();
    e.c.write(bytes(100));
    e.h.take();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      bytes(50),
    );
    e.h.advance(250);
    e.h.take();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK },
      bytes(49),
    );
    assert.equal(e.c.snd.una, (e.iss + 1) >>> 0);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 50 });
    assert.equal(e.h.layer.stats.duplicateAtRcvNxt, 0);
    assert.equal(e.h.layer.stats.outOfWindow, 1);
  });

  test('after close(), such a duplicate is not new data: no RST', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      bytes(20),
    );
    e.c.read();
    e.c.close();
    e.h.take(); // our FIN
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 2, flags: TCP_ACK },
      bytes(20),
    );
    assert.equal(e.h.layer.stats.dataAfterClose, 0);
    assert.equal(e.c.state, 'FIN-WAIT-2');
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 20 });
  });
});
