/**
 * The sending switches of Linux's tcp(7): TCP_CORK (only full segments until uncorked, or a
 * persist timeout: Linux's 200 ms ceiling), MSG_MORE (the same for one write), MSG_EOR (no
 * segment carries two records), on hand-made ACKs at virtual times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, PEER_PORT, TCP_ACK } from './harness.ts';

const bytes = (n: number) => new Uint8Array(n);

describe('TCP_CORK', () => {
  it('holds a partial segment, sends full ones, and pushes the rest when cleared', () => {
    const e = established();
    e.c.setOptions({ cork: true, noDelay: true });
    e.c.write(bytes(100));
    e.h.none();
    e.c.write(bytes(1500));
    const full = e.h.take();
    assert.deepEqual(
      full.map((s) => s.payload.length),
      [1460],
      'one full segment leaves; 140 bytes wait',
    );
    e.c.setOptions({ cork: false });
    assert.deepEqual(
      e.h.take().map((s) => s.payload.length),
      [140],
      'uncorked (TCP_NODELAY): the rest goes at once',
    );
  });

  it('a corked partial segment leaves after a persist timeout at the latest (the 200 ms ceiling)', () => {
    const e = established();
    e.c.setOptions({ cork: true });
    e.c.write(bytes(100));
    e.h.none();
    // The persist timer runs from the RTO (300 ms after this handshake), never under 200 ms.
    e.h.advance(199);
    e.h.none();
    e.h.advance(150);
    assert.deepEqual(
      e.h.take().map((s) => s.payload.length),
      [100],
    );
  });

  it('a FIN pushes corked data', () => {
    const e = established();
    e.c.setOptions({ cork: true });
    e.c.write(bytes(100));
    e.h.none();
    e.c.shutdown('write');
    const s = e.h.take();
    assert.equal(s.length, 1);
    assert.equal(s[0]!.payload.length, 100);
  });
});

describe('MSG_MORE and MSG_EOR', () => {
  it('MSG_MORE holds a partial segment until a write without it', () => {
    const e = established();
    e.c.write(bytes(100), true);
    e.h.none();
    e.c.write(bytes(200), true);
    e.h.none();
    e.c.write(bytes(300));
    assert.deepEqual(
      e.h.take().map((s) => s.payload.length),
      [600],
    );
  });

  it('MSG_EOR: a segment ends at its record end, the next record starts a new one', () => {
    const e = established();
    // One segment in flight, so Nagle holds what follows until the ACK.
    e.c.write(bytes(100));
    assert.equal(e.h.take().length, 1);
    e.c.write(bytes(500), false, true);
    e.c.write(bytes(2000));
    e.h.none();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK });
    assert.deepEqual(
      e.h.take().map((s) => s.payload.length),
      [500, 1460],
      'the 500-byte record alone, then a full segment of the next',
    );
  });

  it('without MSG_EOR the same writes fill a full segment (Nagle holds the partial rest)', () => {
    const e = established();
    e.c.write(bytes(100));
    e.h.take();
    e.c.write(bytes(500));
    e.c.write(bytes(2000));
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK });
    assert.deepEqual(
      e.h.take().map((s) => s.payload.length),
      [1460],
    );
  });
});
