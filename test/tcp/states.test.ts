import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import {
  A,
  accepted,
  B,
  closeWait,
  established,
  expectSeg,
  finWait1,
  finWait2,
  Harness,
  PEER_ISN,
  PEER_PORT,
  synReceived,
  synSent,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from './harness.ts';

const bytes = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

suite('CLOSED (RFC 9293 §3.10.7.1)', () => {
  test('SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>', () => {
    const h = new Harness();
    h.inject({ dstPort: 81, seq: 1000, flags: TCP_SYN });
    expectSeg(h.one(), { flags: TCP_RST | TCP_ACK, seq: 0, ack: 1001 });
    assert.equal(h.layer.stats.noListener, 1);
  });
  test('ACK-bearing segment gets <SEQ=SEG.ACK><CTL=RST>; data counts in SEG.LEN', () => {
    const h = new Harness();
    h.inject({ dstPort: 81, seq: 1000, ack: 77, flags: TCP_ACK }, bytes(10));
    expectSeg(h.one(), { flags: TCP_RST, seq: 77 });
    h.inject({ dstPort: 81, seq: 1000, flags: TCP_FIN }, bytes(10));
    expectSeg(h.one(), { flags: TCP_RST | TCP_ACK, seq: 0, ack: 1011 });
  });
  test('a RST is never answered', () => {
    const h = new Harness();
    h.inject({ dstPort: 81, seq: 1000, flags: TCP_RST });
    h.inject({ dstPort: 81, seq: 1000, ack: 5, flags: TCP_RST | TCP_ACK });
    h.none();
  });
});

suite('LISTEN (§3.10.7.2)', () => {
  test('SYN -> SYN-ACK with our options; ACK completes; accept() yields it', () => {
    const s = synReceived({ peerOptions: { mss: 1000 } });
    assert.equal(s.synAck.repr.options.mss, 1460);
    assert.equal(s.l.synQueueLength, 1);
    let acceptable = 0;
    s.l.onAcceptable = () => acceptable++;
    s.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, ack: s.iss + 1, flags: TCP_ACK });
    s.h.none();
    assert.equal(acceptable, 1);
    const c = s.l.accept();
    assert.ok(c);
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(c.mss, 1000);
    assert.equal(s.l.synQueueLength, 0);
  });
  test('RST is ignored; ACK gets a RST <SEQ=SEG.ACK>', () => {
    const h = new Harness();
    h.layer.listen({ port: 80, backlog: 4 });
    h.inject({ dstPort: 80, seq: 5, flags: TCP_RST });
    h.none();
    h.inject({ dstPort: 80, seq: 5, ack: 1234, flags: TCP_ACK });
    expectSeg(h.one(), { flags: TCP_RST, seq: 1234 });
  });
  test('SYN-ACK is retransmitted with backoff and the embryo dies after synAckRetries', () => {
    const s = synReceived({ config: { synAckRetries: 2 } });
    s.h.advance(1000);
    expectSeg(s.h.one(), { flags: TCP_SYN | TCP_ACK, seq: s.iss });
    s.h.advance(1999);
    s.h.none();
    s.h.advance(1);
    expectSeg(s.h.one(), { flags: TCP_SYN | TCP_ACK, seq: s.iss });
    s.h.advance(4000);
    s.h.none();
    assert.equal(s.l.synQueueLength, 0);
    assert.equal(s.h.layer.connectionCount, 0);
  });
  test('retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again', () => {
    const s = synReceived();
    s.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN, flags: TCP_SYN, options: { mss: 1460 } });
    expectSeg(s.h.one(), { flags: TCP_SYN | TCP_ACK, seq: s.iss, ack: PEER_ISN + 1 });
  });
  test('bad ACK in SYN-RECEIVED gets <SEQ=SEG.ACK><CTL=RST> and the embryo stays', () => {
    const s = synReceived();
    s.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, ack: s.iss + 100, flags: TCP_ACK });
    expectSeg(s.h.one(), { flags: TCP_RST, seq: s.iss + 100 });
    assert.equal(s.l.synQueueLength, 1);
  });
  test('RST in SYN-RECEIVED (passive) drops the embryo, listener stays', () => {
    const s = synReceived();
    s.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, flags: TCP_RST });
    s.h.none();
    assert.equal(s.l.synQueueLength, 0);
    assert.equal(s.l.state, 'LISTEN');
  });
});

suite('SYN-SENT (§3.10.7.3)', () => {
  test('SYN carries MSS, window scale, SACK-permitted, timestamps', () => {
    const s = synSent();
    expectSeg(s.syn, { flags: TCP_SYN, ack: 0 });
    const o = s.syn.repr.options;
    assert.equal(o.mss, 1460);
    assert.equal(o.sackPermitted, true);
    assert.ok(o.timestamps);
    assert.equal(o.timestamps.tsEcr, 0);
    assert.equal(o.windowScale, 7); // config.maxRcvBuf 6 MiB needs shift 7 to fit 16 bits (Linux's default)
    assert.equal(s.c.state, 'SYN-SENT');
  });
  test('SYN-ACK -> ESTABLISHED, ACK <SEQ=ISS+1><ACK=IRS+1>, onEstablished', () => {
    const e = established();
    assert.deepEqual(e.ev.log.slice(0, 1), ['established']);
    assert.equal(e.c.snd.una, (e.iss + 1) >>> 0);
    assert.equal(e.c.rcv.nxt, (PEER_ISN + 1) >>> 0);
    assert.equal(e.c.mss, 1460);
    assert.equal(e.c.tsOk, false);
    assert.equal(e.c.sackOk, false);
  });
  test('MSS defaults to 536 when the SYN-ACK has none', () => {
    const e = established({ peerOptions: {} });
    assert.equal(e.c.mss, 536);
  });
  test('unacceptable ACK gets a RST and the connection stays', () => {
    const s = synSent();
    s.h.inject({ srcPort: PEER_PORT, dstPort: s.port, seq: 9, ack: s.iss + 5, flags: TCP_SYN | TCP_ACK });
    expectSeg(s.h.one(), { flags: TCP_RST, seq: s.iss + 5 });
    assert.equal(s.c.state, 'SYN-SENT');
  });
  test('RST with acceptable ACK -> refused; without ACK ignored', () => {
    const s = synSent();
    s.h.inject({ srcPort: PEER_PORT, dstPort: s.port, seq: 0, flags: TCP_RST });
    assert.equal(s.c.state, 'SYN-SENT');
    s.h.inject({ srcPort: PEER_PORT, dstPort: s.port, seq: 0, ack: s.iss + 1, flags: TCP_RST | TCP_ACK });
    assert.equal(s.c.state, 'CLOSED');
    assert.equal(s.ev.reason, 'refused');
    assert.equal(s.h.layer.connectionCount, 0);
  });
  test('SYN retransmits at 1, 2, 4 s ... and fails with timed-out after synRetries', () => {
    const s = synSent({ config: { synRetries: 3 } });
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      s.h.advance(1000);
      for (const seg of s.h.take()) {
        expectSeg(seg, { flags: TCP_SYN, seq: s.iss });
        times.push(seg.at / 1e6);
      }
    }
    assert.deepEqual(times, [1, 3, 7]);
    assert.equal(s.c.state, 'CLOSED');
    assert.equal(s.ev.reason, 'timed-out');
  });
  test('simultaneous open: SYN -> SYN-RECEIVED, SYN-ACK, then ACK -> ESTABLISHED', () => {
    const s = synSent();
    s.h.inject({
      srcPort: PEER_PORT,
      dstPort: s.port,
      seq: PEER_ISN,
      flags: TCP_SYN,
      options: { mss: 1200 },
    });
    expectSeg(s.h.one(), { flags: TCP_SYN | TCP_ACK, seq: s.iss, ack: PEER_ISN + 1 });
    assert.equal(s.c.state, 'SYN-RECEIVED');
    s.h.inject({
      srcPort: PEER_PORT,
      dstPort: s.port,
      seq: PEER_ISN + 1,
      ack: s.iss + 1,
      flags: TCP_SYN | TCP_ACK,
    });
    // the peer's SYN-ACK: its SYN is old now (seq < rcv.nxt): acked
    const r = s.h.take();
    assert.ok(r.length <= 1);
    s.h.inject({ srcPort: PEER_PORT, dstPort: s.port, seq: PEER_ISN + 1, ack: s.iss + 1, flags: TCP_ACK });
    assert.equal(s.c.state, 'ESTABLISHED');
    assert.equal(s.c.mss, 1200);
  });
});

suite('ESTABLISHED data', () => {
  test('write sends data with PSH|ACK; ACK frees the buffer', () => {
    const e = established();
    assert.equal(e.c.write(bytes(100)), 100);
    const d = e.h.one();
    expectSeg(d, { flags: TCP_PSH | TCP_ACK, seq: e.iss + 1, ack: e.peerSeq, len: 100 });
    assert.deepEqual(d.payload, bytes(100));
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK });
    assert.equal(e.c.unackedLength, 0);
    e.h.none();
  });
  test('Nagle holds a small segment while data is unacknowledged; noDelay does not', () => {
    const e = established();
    e.c.write(bytes(10));
    e.h.one();
    e.c.write(bytes(10));
    e.h.none();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 11, flags: TCP_ACK });
    expectSeg(e.h.one(), { seq: e.iss + 11, len: 10 });
    e.c.setOptions({ noDelay: true });
    e.c.write(bytes(10));
    e.c.write(bytes(10));
    assert.equal(e.h.take().length, 2);
  });
  test('segments are cut at the MSS and limited by the initial window (RFC 6928)', () => {
    const e = established();
    e.c.write(bytes(100_000));
    const segs = e.h.take();
    assert.equal(segs.length, 10);
    for (const s of segs) assert.equal(s.payload.length, 1460);
  });
  test('in-order data: delayed ACK after 40 ms, or at once on the 2nd segment', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      bytes(100),
    );
    e.h.none();
    assert.deepEqual(e.c.read(1000), bytes(100));
    e.h.advance(39);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 100 });
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 100, ack: e.iss + 1, flags: TCP_ACK },
      bytes(1460),
    );
    e.h.none();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1560, ack: e.iss + 1, flags: TCP_ACK },
      bytes(1460),
    );
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 3020 });
  });
  test('out-of-order data is ACKed at once (dup ACK), gap fill ACKs everything', () => {
    const e = established();
    const p = e.peerSeq;
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: p + 100, ack: e.iss + 1, flags: TCP_ACK },
      bytes(100, 100),
    );
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: p });
    assert.equal(e.c.readableLength, 0);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: p, ack: e.iss + 1, flags: TCP_ACK }, bytes(100));
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: p + 200 });
    assert.deepEqual(e.c.read(), bytes(200));
  });
  test('unacceptable segment (beyond window) gets an ACK and is dropped', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 10_000_000, ack: e.iss + 1, flags: TCP_ACK },
      bytes(10),
    );
    expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 1, ack: e.peerSeq });
    assert.equal(e.h.layer.stats.outOfWindow, 1);
  });
  test('ACK of unsent data gets an ACK and is dropped (RFC 9293 §3.10.7.4, FreeBSD)', () => {
    const e = established({ config: { silentAckOfUnsent: false } });
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 500, flags: TCP_ACK },
      bytes(10),
    );
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq });
    assert.equal(e.c.readableLength, 0);
  });
  test('ACK of unsent data is discarded without a reply under the Linux profile (tcp_ack)', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 500, flags: TCP_ACK },
      bytes(10),
    );
    e.h.none();
    assert.equal(e.c.readableLength, 0);
    assert.equal(e.h.layer.stats.ackOfUnsent, 1);
  });
  test('send buffer is bounded: write returns less, onWritable after ACK', () => {
    const e = established({ connectOptions: { options: { sndBuf: 4000, noDelay: true } } });
    assert.equal(e.c.write(bytes(10_000)), 4000);
    assert.equal(e.c.write(bytes(10)), 0);
    const segs = e.h.take();
    assert.equal(
      segs.reduce((n, s) => n + s.payload.length, 0),
      4000,
    );
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 4001, flags: TCP_ACK });
    assert.ok(e.ev.log.includes('writable'));
    assert.equal(e.c.writableSpace, 4000);
  });
});

suite('closing', () => {
  test('FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2*MSL', () => {
    const e = finWait2({ config: { msl: 10_000_000 } });
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 2,
      flags: TCP_FIN | TCP_ACK,
    });
    expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 2, ack: e.peerSeq + 1 });
    assert.equal(e.c.state, 'TIME-WAIT');
    assert.ok(e.ev.log.includes('end'));
    e.h.advance(19_999);
    assert.equal(e.c.state, 'TIME-WAIT');
    // retransmitted FIN: ACK again and restart the timer
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 2,
      flags: TCP_FIN | TCP_ACK,
    });
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 1 });
    e.h.advance(19_999);
    assert.equal(e.c.state, 'TIME-WAIT');
    e.h.advance(1);
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.h.layer.connectionCount, 0);
    assert.equal(e.ev.reason, undefined);
  });
  test('simultaneous close: FIN-WAIT-1 + FIN -> CLOSING -> ACK -> TIME-WAIT', () => {
    const e = finWait1();
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 1,
      flags: TCP_FIN | TCP_ACK,
    });
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 1 });
    assert.equal(e.c.state, 'CLOSING');
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1, ack: e.iss + 2, flags: TCP_ACK });
    assert.equal(e.c.state, 'TIME-WAIT');
  });
  test('FIN-WAIT-1 + FIN|ACK of our FIN -> TIME-WAIT directly', () => {
    const e = finWait1();
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 2,
      flags: TCP_FIN | TCP_ACK,
    });
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 1 });
    assert.equal(e.c.state, 'TIME-WAIT');
  });
  test('CLOSE-WAIT: half-close keeps sending; close -> LAST-ACK -> CLOSED', () => {
    const e = closeWait();
    assert.equal(e.c.eof, true);
    assert.equal(e.c.write(bytes(5)), 5);
    expectSeg(e.h.one(), { len: 5 });
    e.c.close();
    assert.equal(e.c.state, 'LAST-ACK');
    const fin = e.h.take();
    // FIN waits for Nagle? No: FIN goes after the queued data.
    expectSeg(fin[0], { flags: TCP_FIN | TCP_ACK, seq: e.iss + 6 });
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 7, flags: TCP_ACK });
    assert.equal(e.c.state, 'CLOSED');
  });
  test('half-close: after shutdown(write) we still receive', () => {
    const e = finWait2();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 2, flags: TCP_ACK },
      bytes(50),
    );
    assert.deepEqual(e.c.read(), bytes(50));
    assert.throws(() => e.c.write(bytes(1)), { code: 'EPIPE' });
  });
  test('close() with unread data sends RST', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      bytes(10),
    );
    e.c.close();
    expectSeg(e.h.one(), { flags: TCP_RST | TCP_ACK, seq: e.iss + 1 });
    assert.equal(e.c.state, 'CLOSED');
  });
  test('SO_LINGER 0: close() sends RST', () => {
    const e = established({ connectOptions: { options: { linger: 0 } } });
    e.c.close();
    expectSeg(e.h.one(), { flags: TCP_RST | TCP_ACK });
  });
  test('orphaned FIN-WAIT-2 is reaped after finWait2Timeout', () => {
    const e = finWait2({ config: { finWait2Timeout: 5_000_000 } });
    e.c.close();
    e.h.advance(4999);
    assert.equal(e.c.state, 'FIN-WAIT-2');
    e.h.advance(1);
    assert.equal(e.c.state, 'CLOSED');
  });
  test('data after close() is answered with RST (RFC 1122 §4.2.2.13)', () => {
    const e = finWait2();
    e.c.close();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 2, flags: TCP_ACK },
      bytes(5),
    );
    expectSeg(e.h.one(), { flags: TCP_RST, seq: e.iss + 2 });
    assert.equal(e.c.state, 'CLOSED');
  });
  test("the RST for data after close() is numbered from the segment's ACK, which the peer accepts even before it has our FIN", () => {
    // FIN-WAIT-1: our FIN (at ISS+1) is not yet acknowledged, so the peer's RCV.NXT is ISS+1.
    // SND.NXT (ISS+2) would be outside its window; SEG.ACK is what Linux and FreeBSD send.
    const e = finWait1();
    e.c.close();
    e.h.none();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      bytes(1),
    );
    expectSeg(e.h.one(), { flags: TCP_RST, seq: e.iss + 1 });
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.h.layer.stats.dataAfterClose, 1);
  });
});

suite('RST and SYN in synchronized states (RFC 5961)', () => {
  test('RST with exact seq resets; in-window RST gets a challenge ACK', () => {
    const e = established();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 10, flags: TCP_RST });
    expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 1, ack: e.peerSeq });
    assert.equal(e.c.state, 'ESTABLISHED');
    assert.equal(e.h.layer.stats.challengeAcks, 1);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1_000_000, flags: TCP_RST });
    e.h.none();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, flags: TCP_RST });
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.ev.reason, 'reset');
    assert.throws(() => e.c.read(), { code: 'ECONNRESET' });
  });
  test('SYN in ESTABLISHED gets a challenge ACK, rate-limited per connection (RFC 5961 §7)', () => {
    const e = established();
    for (let i = 0; i < 5; i++)
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + i, flags: TCP_SYN });
    assert.equal(e.h.take().length, 1, 'one per config.invalidRateLimit (500 ms)');
    assert.equal(e.h.layer.stats.challengeAcksSuppressed, 4);
    assert.equal(e.c.state, 'ESTABLISHED');
    e.h.advance(499);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, flags: TCP_SYN });
    e.h.none();
    e.h.advance(1);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, flags: TCP_SYN });
    assert.equal(e.h.take().length, 1);
  });
  test('replies to invalid segments are rate-limited per connection; data segments are answered every time (RFC 5961 §7)', () => {
    // ACKs of unsent data answered (RFC 9293, FreeBSD; Linux discards them silently).
    const e = established({ config: { silentAckOfUnsent: false } });
    const bare = (seq: number, ack: number) =>
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq, ack, flags: TCP_ACK });
    // Out of window, then an ACK of unsent data: one reply per 500 ms between them.
    bare(e.peerSeq + 10_000_000, e.iss + 1);
    assert.equal(e.h.take().length, 1);
    bare(e.peerSeq, e.iss + 1_000);
    bare(e.peerSeq + 10_000_000, e.iss + 1);
    e.h.none();
    assert.equal(e.h.layer.stats.invalidAcksSuppressed, 2);
    // A retransmission of data we have is answered at once (tcp_oow_rate_limited).
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq - 100, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(100),
    );
    assert.equal(e.h.take().length, 1);
    e.h.advance(500);
    bare(e.peerSeq, e.iss + 1_000);
    assert.equal(e.h.take().length, 1, 'the next window allows one again');
  });
  test('FreeBSD profile: up to five replies to invalid segments per second (ack_war_cnt, ack_war_timewindow)', () => {
    const e = established({ config: tcpConfigFor('freebsd', { quickAck: false }) });
    for (let i = 0; i < 8; i++)
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1 + i, flags: TCP_RST });
    assert.equal(e.h.take().length, 5);
    e.h.advance(1000);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1, flags: TCP_RST });
    assert.equal(e.h.take().length, 1);
  });
  test('the host-wide challenge-ACK limit allows a random count in [limit/2, 3*limit/2) each second', () => {
    const e = established({ config: { challengeAckLimit: 2, invalidRateLimit: 0 } });
    const counts = new Set<number>();
    for (let sec = 0; sec < 20; sec++) {
      for (let i = 0; i < 5; i++)
        e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + i, flags: TCP_SYN });
      const n = e.h.take().length;
      assert.ok(n >= 1 && n <= 2, `${n} challenge ACKs in a second`);
      counts.add(n);
      e.h.advance(1000);
    }
    assert.deepEqual([...counts].sort(), [1, 2], 'the count varies from second to second');
    assert.equal(e.c.state, 'ESTABLISHED');
  });
  test('abort() sends <SEQ=SND.NXT><CTL=RST> (with ACK, as Linux and FreeBSD)', () => {
    const e = accepted();
    e.c.abort();
    expectSeg(e.h.one(), { flags: TCP_RST | TCP_ACK, seq: e.iss + 1 });
    assert.equal(e.c.state, 'CLOSED');
  });
});

suite('retransmission', () => {
  test('RTO from the handshake sample, doubling; go-back from snd.una; timed-out after retries', () => {
    const e = established({ config: { retries: 3 } });
    assert.equal(e.c.rtt.rto, 300_000);
    const t0 = e.h.now();
    e.c.write(bytes(100));
    e.h.one();
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      e.h.advance(100);
      for (const s of e.h.take()) {
        expectSeg(s, { seq: e.iss + 1, len: 100 });
        times.push((s.at - t0) / 1000);
      }
    }
    assert.deepEqual(times, [300, 900, 2100]);
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.ev.reason, 'timed-out');
    assert.equal(e.h.layer.stats.timeouts, 4);
  });
  test('Karn: an ACK for a retransmitted segment gives no RTT sample', () => {
    const e = established();
    assert.equal(e.c.rtt.srtt, 100_000);
    e.c.write(bytes(100));
    e.h.one();
    e.h.advance(300);
    expectSeg(e.h.one(), { seq: e.iss + 1, len: 100 });
    e.h.advance(10);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK });
    assert.equal(e.c.rtt.srtt, 100_000);
    assert.equal(e.c.rtt.backoffCount, 1);
  });
  test('RTT is measured on a fresh segment', () => {
    const e = established();
    e.c.write(bytes(100));
    e.h.one();
    e.h.advance(30);
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK });
    assert.ok(e.c.info().rtt !== undefined);
  });
});

suite('zero window', () => {
  test('persist timer probes a zero window; reopened window resumes sending', () => {
    const e = established({ peerWindow: 0 });
    e.c.write(bytes(1000));
    e.h.none();
    e.h.advance(299);
    e.h.none();
    e.h.advance(1);
    const probe = e.h.one();
    expectSeg(probe, { seq: e.iss + 1, len: 1 });
    // still zero: ACK without accepting the byte
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 1,
      window: 0,
      flags: TCP_ACK,
    });
    e.h.none();
    e.h.advance(599);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { seq: e.iss + 1, len: 1 });
    assert.equal(e.c.state, 'ESTABLISHED');
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 2,
      window: 4000,
      flags: TCP_ACK,
    });
    const segs = e.h.take();
    assert.equal(
      segs.reduce((n, s) => n + s.payload.length, 0),
      999,
    );
    assert.ok(e.h.layer.stats.zeroWindowProbes >= 2);
  });
  test('our receive window closes when the buffer fills and reopens on read', () => {
    const e = established({ connectOptions: { options: { rcvBuf: 3000 } } });
    const p = e.peerSeq;
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: p, ack: e.iss + 1, flags: TCP_ACK }, bytes(1460));
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: p + 1460, ack: e.iss + 1, flags: TCP_ACK },
      bytes(1460),
    );
    expectSeg(e.h.one(), { ack: p + 2920, window: 80 });
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: p + 2920, ack: e.iss + 1, flags: TCP_ACK },
      bytes(80),
    );
    e.h.advance(40);
    expectSeg(e.h.one(), { ack: p + 3000, window: 0 });
    // probe into the zero window: ACKed, not accepted
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: p + 3000, ack: e.iss + 1, flags: TCP_ACK },
      bytes(1),
    );
    expectSeg(e.h.one(), { ack: p + 3000, window: 0 });
    assert.equal(e.c.read(3000)?.length, 3000);
    expectSeg(e.h.one(), { ack: p + 3000, window: 3000 });
  });
});

suite('ICMP', () => {
  test('port unreachable during SYN-SENT refuses the connect', () => {
    const s = synSent();
    s.h.layer.icmpError('port-unreachable', A, B, { srcPort: s.port, dstPort: PEER_PORT, seq: s.iss });
    assert.equal(s.c.state, 'CLOSED');
    assert.equal(s.ev.reason, 'refused');
  });
  test('host unreachable in ESTABLISHED is a soft error; wrong seq ignored', () => {
    const e = established();
    e.c.write(bytes(10));
    e.h.one();
    e.h.layer.icmpError('host-unreachable', A, B, { srcPort: e.port, dstPort: PEER_PORT, seq: e.iss + 50 });
    assert.equal(e.c.error, undefined);
    e.h.layer.icmpError('host-unreachable', A, B, { srcPort: e.port, dstPort: PEER_PORT, seq: e.iss + 1 });
    assert.equal(e.c.error, 'EHOSTUNREACH');
    assert.equal(e.c.state, 'ESTABLISHED');
  });
  test('frag-needed lowers the MSS and retransmits', () => {
    const e = established();
    e.c.write(bytes(3000));
    assert.equal(e.h.take().length, 2); // the 80-byte tail waits (Nagle)
    e.h.layer.icmpError('frag-needed', A, B, { srcPort: e.port, dstPort: PEER_PORT, seq: e.iss + 1 }, 1000);
    assert.equal(e.c.mss, 960);
    const r = e.h.take();
    expectSeg(r[0], { seq: e.iss + 1, len: 960 });
  });
});
