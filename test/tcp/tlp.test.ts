/** RFC 8985 §7 tail loss probe (src/tcp/tlp.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, expectSeg, type Opened, PEER_PORT, TCP_ACK, TCP_FIN } from './harness.ts';

// SRTT 10 ms from the handshake: RTO = 10 + max(4 * 5, 200) = 210 ms (Linux's estimator, the
// Linux profile's), PTO = 20 ms.
const sackPeer = { peerOptions: { mss: 1460, sackPermitted: true }, handshakeRtt: 10 };
const MSS = 1460;

/** Sequence number of segment `i` of the data written after the handshake. */
const at = (e: Opened, i: number) => (e.iss + 1 + i * MSS) >>> 0;

function ackTo(e: Opened, i: number, sack: [number, number][] = []): void {
  e.h.inject({
    srcPort: PEER_PORT,
    dstPort: e.port,
    seq: e.peerSeq,
    ack: at(e, i),
    flags: TCP_ACK,
    options: sack.length ? { sack: sack.map(([l, r]) => ({ left: at(e, l), right: at(e, r) })) } : {},
  });
}

describe('tail loss probe (RFC 8985 §7)', () => {
  it('after 2*SRTT of silence resends the last segment, then re-arms the RTO behind it', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(4 * MSS));
    assert.equal(e.h.take().length, 4);
    const cwnd = e.c.cc.cwnd;
    e.h.advance(19);
    e.h.none();
    e.h.advance(1);
    // "Retransmit the highest-sequence segment sent so far".
    expectSeg(e.h.one(), { seq: at(e, 3), len: MSS });
    assert.equal(e.h.layer.stats.lossProbes, 1);
    assert.equal(e.c.stats.lossProbes, 1);
    assert.equal(e.c.cc.cwnd, cwnd, 'a probe is not a timeout: cwnd stays');
    // "the sender MUST re-arm the RTO timer, not the PTO timer": the RTO fires 210 ms later,
    // and there is no second probe.
    e.h.advance(209);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { seq: at(e, 0), len: MSS });
    assert.equal(e.h.layer.stats.timeouts, 1);
    assert.equal(e.c.tlpEndSeq, undefined, 'the RTO ends the probe episode');
  });

  it('with one segment in flight waits for a delayed ACK too (PTO += WCDelAckT), but never past the RTO', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(1000));
    e.h.take();
    // 2 * 10 ms + 200 ms = 220 ms, capped at the RTO's 210 ms: the probe takes the RTO's slot.
    e.h.advance(209);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { seq: at(e, 0), len: 1000 });
    assert.equal(e.h.layer.stats.lossProbes, 1);
    assert.equal(e.h.layer.stats.timeouts, 0);
    // With a longer RTO (SRTT 100 ms: RTO 300 ms) the PTO is 2 * 100 + 200 = 400 -> 300 ms.
    const f = established({ ...sackPeer, handshakeRtt: 100 });
    f.c.write(new Uint8Array(1000));
    f.h.take();
    f.h.advance(299);
    f.h.none();
    f.h.advance(1);
    expectSeg(f.h.one(), { seq: at(f, 0), len: 1000 });
  });

  it('sends new data as the probe when the peer window allows it, ignoring cwnd', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(30 * MSS));
    const burst = e.h.take();
    const n = burst.length; // the initial window
    assert.equal(n * MSS, e.c.cc.cwnd);
    e.h.advance(20);
    expectSeg(e.h.one(), { seq: at(e, n), len: MSS });
    assert.equal(e.c.tlpIsRetrans, false);
    // Its ACK ends the episode without any loss reaction.
    const cwnd = e.c.cc.cwnd;
    ackTo(e, n + 1);
    assert.equal(e.c.tlpEndSeq, undefined);
    assert.ok(e.c.cc.cwnd >= cwnd);
    assert.equal(e.h.layer.stats.lossProbeRecoveries, 0);
  });

  it('an ACK beyond the probe without a D-SACK means the probe repaired a loss: cwnd is reduced', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(4 * MSS));
    e.h.take();
    e.h.advance(20);
    expectSeg(e.h.one(), { seq: at(e, 3), len: MSS }); // probe: TLP.end_seq = segment 4
    e.c.write(new Uint8Array(MSS)); // new data past the probe
    expectSeg(e.h.one(), { seq: at(e, 4), len: MSS });
    ackTo(e, 5);
    assert.equal(e.h.layer.stats.lossProbeRecoveries, 1);
    // ssthresh from the window of ten (the initial window: Linux's ssthresh() takes snd_cwnd,
    // not the five in flight), β = 0.7 (CUBIC, the Linux profile's controller; RFC 9438
    // §4.6), cwnd = ssthresh: Linux tcp_process_tlp_ack.
    assert.equal(e.c.cc.ssthresh, 7 * MSS);
    assert.equal(e.c.cc.cwnd, e.c.cc.ssthresh);
    assert.equal(e.c.tlpEndSeq, undefined);
  });

  it('a D-SACK for the probe means the original arrived too: no loss, no reduction', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(4 * MSS));
    e.h.take();
    e.h.advance(20);
    e.h.one();
    e.c.write(new Uint8Array(MSS));
    e.h.one();
    const cwnd = e.c.cc.cwnd;
    ackTo(e, 5, [[3, 4]]); // first block below SEG.ACK: a D-SACK (RFC 2883)
    assert.equal(e.h.layer.stats.lossProbeRecoveries, 0);
    assert.equal(e.c.tlpEndSeq, undefined);
    assert.ok(e.c.cc.cwnd >= cwnd);
  });

  it('a probe of the FIN resends the FIN', () => {
    const e = established(sackPeer);
    e.c.write(new Uint8Array(MSS));
    e.h.take();
    ackTo(e, 1);
    e.h.take();
    e.c.close();
    expectSeg(e.h.one(), { seq: at(e, 1), len: 0, flags: TCP_FIN | TCP_ACK });
    e.h.advance(e.c.rtt.rto / 1000);
    expectSeg(e.h.one(), { seq: at(e, 1), len: 0, flags: TCP_FIN | TCP_ACK });
    assert.equal(e.h.layer.stats.lossProbes, 1);
  });

  it('does not probe without SACK, when turned off, or in fast recovery', () => {
    // Without SACK the probe's ACK could not tell which segment was lost: RTO only.
    const plain = established({ handshakeRtt: 10 });
    plain.c.write(new Uint8Array(4 * MSS));
    plain.h.take();
    plain.h.advance(209);
    plain.h.none();
    plain.h.advance(1);
    expectSeg(plain.h.one(), { seq: at(plain, 0), len: MSS });
    assert.equal(plain.h.layer.stats.lossProbes, 0);
    // config.tlp false (FreeBSD's default stack).
    const off = established({ ...sackPeer, config: { tlp: false } });
    off.c.write(new Uint8Array(4 * MSS));
    off.h.take();
    off.h.advance(209);
    off.h.none();
    off.h.advance(1);
    expectSeg(off.h.one(), { seq: at(off, 0), len: MSS });
    assert.equal(off.h.layer.stats.lossProbes, 0);
    // Three duplicate ACKs start fast recovery before the PTO: the timer goes back to the RTO.
    const fr = established(sackPeer);
    fr.c.write(new Uint8Array(5 * MSS));
    fr.h.take();
    fr.h.advance(5);
    ackTo(fr, 0, [[1, 2]]);
    ackTo(fr, 0, [[1, 3]]);
    ackTo(fr, 0, [[1, 4]]);
    assert.ok(fr.c.inRecovery);
    expectSeg(fr.h.take()[0]!, { seq: at(fr, 0), len: MSS });
    assert.equal(fr.c.ptoArmed, false);
    fr.h.advance(100);
    assert.equal(fr.h.layer.stats.lossProbes, 0);
  });
});
