/** RFC 7323 timestamps: when TS.Recent moves. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, expectSeg, PEER_PORT, TCP_ACK, TCP_FIN } from './harness.ts';

const TS = { mss: 1460, timestamps: { tsVal: 100, tsEcr: 0 } };

describe('TS.Recent', () => {
  it('a segment acknowledging unsent data does not update TS.Recent (ts_recent/invalid_ack.pkt)', () => {
    const e = established({ peerOptions: TS });
    assert.equal(e.c.tsRecent, 100);
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 9999,
      flags: TCP_FIN | TCP_ACK,
      options: { timestamps: { tsVal: 200_000, tsEcr: 1 } },
    });
    // Discarded without a reply, as Linux's tcp_ack does (RFC 9293 §3.10.7.4 would answer it
    // with an ACK: the FreeBSD profile, states.test.ts).
    e.h.none();
    assert.equal(e.c.tsRecent, 100);
    assert.equal(e.c.state, 'ESTABLISHED', 'the FIN was not processed');
    e.h.inject(
      {
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: e.iss + 1,
        flags: TCP_ACK,
        options: { timestamps: { tsVal: 201, tsEcr: 1 } },
      },
      new Uint8Array(1000),
    );
    e.h.advance(40);
    const a = e.h.one();
    expectSeg(a, { ack: e.peerSeq + 1000 });
    assert.equal(a.repr.options.timestamps?.tsEcr, 201);
  });

  it('an acceptable segment updates TS.Recent', () => {
    const e = established({ peerOptions: TS });
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 1,
      flags: TCP_ACK,
      options: { timestamps: { tsVal: 150, tsEcr: 1 } },
    });
    assert.equal(e.c.tsRecent, 150);
  });

  it('a retransmission covering Last.ACK.sent with an acceptable ACK refreshes TS.Recent; others do not (RFC 7323 §4.3)', () => {
    const e = established({ peerOptions: TS });
    const seg = (seq: number, tsVal: number, ack = e.iss + 1) =>
      e.h.inject(
        {
          srcPort: PEER_PORT,
          dstPort: e.port,
          seq,
          ack,
          flags: TCP_ACK,
          options: { timestamps: { tsVal, tsEcr: 1 } },
        },
        new Uint8Array(500),
      );
    seg(e.peerSeq, 110);
    seg(e.peerSeq + 500, 120);
    e.h.advance(40);
    e.h.take();
    assert.equal(e.c.tsRecent, 110, "RFC 7323 §4.3 (A): the earliest unacknowledged segment's TSval");
    // Our ACK was lost; 30 s later the peer retransmits the segment our ACK covered last
    // (it ends at Last.ACK.sent): its duplicate ACK echoes its TSval.
    e.h.advance(30_000);
    seg(e.peerSeq + 500, 30_120);
    const dup = e.h.one();
    expectSeg(dup, { ack: e.peerSeq + 1000 });
    assert.equal(dup.repr.options.timestamps?.tsEcr, 30_120, 'not the stale 110');
    // An older duplicate does not cover Last.ACK.sent: answered, TS.Recent unchanged.
    seg(e.peerSeq, 30_200);
    assert.equal(e.h.one().repr.options.timestamps?.tsEcr, 30_120);
    // One that covers it but acknowledges data never sent (a blind guess): not believed.
    seg(e.peerSeq + 500, 40_000, e.iss + 1_000_000);
    e.h.take();
    // Far behind RCV.NXT (beyond any window we offered): not believed.
    seg(e.peerSeq - 2_000_000, 40_000);
    e.h.take();
    assert.equal(e.c.tsRecent, 30_120);
  });
  it('after 24 days idle TS.Recent is invalid: an acceptable segment replaces it, a blind one does not (RFC 7323 §5.5)', () => {
    const e = established({ peerOptions: TS });
    e.h.advance(25 * 24 * 3600 * 1000);
    e.h.take();
    const seg = (seq: number, ack: number, tsVal: number) =>
      e.h.inject(
        {
          srcPort: PEER_PORT,
          dstPort: e.port,
          seq,
          ack,
          flags: TCP_ACK,
          options: { timestamps: { tsVal, tsEcr: 1 } },
        },
        new Uint8Array(10),
      );
    // Out of window, with an ACK of nothing we sent: PAWS is off, but TS.Recent stays.
    seg(e.peerSeq + 50_000_000, e.iss + 7_000_000, 50);
    e.h.take();
    assert.equal(e.c.tsRecent, 100, 'a blind segment does not replace an idle TS.Recent');
    // The peer's clock wrapped meanwhile: its next segment has an older TSval, and is taken.
    seg(e.peerSeq, e.iss + 1, 60);
    assert.equal(e.c.rcv.nxt, (e.peerSeq + 10) >>> 0);
    assert.equal(e.c.tsRecent, 60);
  });
});

describe('a segment without TSopt on a timestamped connection', () => {
  const noTs = (e: ReturnType<typeof established>) =>
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(100),
    );

  it('Linux profile: processed (PAWS needs the option; tcp_validate_incoming), its data acknowledged', () => {
    const e = established({ peerOptions: TS });
    noTs(e);
    assert.equal(e.c.readableLength, 100);
    assert.equal(e.h.layer.stats.missingTimestamp, 0);
    e.h.advance(200);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 100 });
  });

  it('RFC 7323 §3.2 (FreeBSD, tolerate_missing_ts = 0): silently dropped and counted', () => {
    const e = established({ peerOptions: TS, config: { tolerateMissingTs: false } });
    noTs(e);
    assert.equal(e.c.readableLength, 0);
    assert.equal(e.h.layer.stats.missingTimestamp, 1);
    e.h.advance(200);
    e.h.none();
  });
});
