/**
 * Connection lifecycle corners: TIME-WAIT reuse by a newer SYN (RFC 9293 §3.10.7.4 note,
 * RFC 6191), shutdown('read'), and the per-connection ISN / ephemeral port wiring.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferAcceptRetries } from '../../src/tcp/config.ts';
import {
  A,
  accepted,
  B,
  established,
  expectSeg,
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

/** A passive connection on port 80 that we closed first, now in TIME-WAIT. */
function timeWait(peerOptions?: object) {
  const a = accepted(peerOptions ? { peerOptions } : {});
  a.c.close();
  const fin = a.h.one();
  expectSeg(fin, { flags: TCP_FIN | TCP_ACK });
  a.h.inject({
    srcPort: PEER_PORT,
    dstPort: 80,
    seq: a.peerSeq,
    ack: a.iss + 2,
    flags: TCP_FIN | TCP_ACK,
    ...(peerOptions ? { options: { timestamps: { tsVal: 500, tsEcr: 1 } } } : {}),
  });
  a.h.one();
  assert.equal(a.c.state, 'TIME-WAIT');
  return { ...a, rcvNxt: a.peerSeq + 1 };
}

describe('TIME-WAIT reuse by a new SYN', () => {
  it('a SYN beyond RCV.NXT ends TIME-WAIT and opens a new connection through the listener', () => {
    const t = timeWait();
    t.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: t.rcvNxt + 100_000,
      flags: TCP_SYN,
      options: { mss: 1460 },
    });
    const sa = t.h.one();
    expectSeg(sa, { flags: TCP_SYN | TCP_ACK, ack: t.rcvNxt + 100_001 });
    assert.equal(t.c.state, 'CLOSED');
    assert.equal(t.h.layer.stats.timeWaitRecycled, 1);
    assert.equal(t.l.synQueueLength, 1);
    assert.equal(t.h.layer.connectionCount, 1);
  });

  it('an old SYN (at or below RCV.NXT) is answered from TIME-WAIT, which stays', () => {
    const t = timeWait();
    t.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: t.rcvNxt - 10,
      flags: TCP_SYN,
      options: { mss: 1460 },
    });
    const r = t.h.one();
    expectSeg(r, { flags: TCP_ACK, ack: t.rcvNxt });
    assert.equal(t.c.state, 'TIME-WAIT');
    assert.equal(t.h.layer.stats.timeWaitRecycled, 0);
  });

  it('without a listener the newer SYN is not recycled', () => {
    const t = timeWait();
    t.l.close();
    t.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: t.rcvNxt + 100_000, flags: TCP_SYN });
    assert.equal(t.c.state, 'TIME-WAIT');
    assert.equal(t.h.take()[0]?.repr.flags, TCP_ACK);
  });

  it('with timestamps, a newer TSval admits the SYN even at an older sequence number (RFC 6191)', () => {
    const opts = { mss: 1460, timestamps: { tsVal: 400, tsEcr: 0 } };
    const t = timeWait(opts);
    assert.ok(t.c.tsOk);
    t.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: t.rcvNxt - 1000,
      flags: TCP_SYN,
      options: { mss: 1460, timestamps: { tsVal: 501, tsEcr: 0 } },
    });
    expectSeg(t.h.one(), { flags: TCP_SYN | TCP_ACK, ack: t.rcvNxt - 999 });
    assert.equal(t.c.state, 'CLOSED');
    // An older TSval does not, whatever its sequence number.
    const u = timeWait(opts);
    u.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: u.rcvNxt + 100_000,
      flags: TCP_SYN,
      options: { mss: 1460, timestamps: { tsVal: 499, tsEcr: 0 } },
    });
    assert.equal(u.c.state, 'TIME-WAIT');
    assert.equal(u.h.layer.stats.timeWaitRecycled, 0);
  });

  it('with timestamps, an equal TSval admits the SYN only at a newer sequence number (RFC 6191 §2)', () => {
    const opts = { mss: 1460, timestamps: { tsVal: 400, tsEcr: 0 } };
    const t = timeWait(opts);
    t.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: t.rcvNxt - 5,
      flags: TCP_SYN,
      options: { mss: 1460, timestamps: { tsVal: 500, tsEcr: 0 } },
    });
    assert.equal(t.c.state, 'TIME-WAIT');
    expectSeg(t.h.one(), { flags: TCP_ACK, ack: t.rcvNxt });
    t.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: t.rcvNxt + 5,
      flags: TCP_SYN,
      options: { mss: 1460, timestamps: { tsVal: 500, tsEcr: 0 } },
    });
    expectSeg(t.h.one(), { flags: TCP_SYN | TCP_ACK, ack: t.rcvNxt + 6 });
    assert.equal(t.c.state, 'CLOSED');
  });

  it('without timestamps before, a SYN that brings them is admitted at any sequence number (RFC 6191 §2)', () => {
    const t = timeWait();
    assert.ok(!t.c.tsOk);
    t.h.inject({
      srcPort: PEER_PORT,
      dstPort: 80,
      seq: t.rcvNxt - 1000,
      flags: TCP_SYN,
      options: { mss: 1460, timestamps: { tsVal: 1, tsEcr: 0 } },
    });
    expectSeg(t.h.one(), { flags: TCP_SYN | TCP_ACK, ack: t.rcvNxt - 999 });
    assert.equal(t.c.state, 'CLOSED');
    assert.equal(t.h.layer.stats.timeWaitRecycled, 1);
  });
});

describe("shutdown('read')", () => {
  it('FreeBSD (sorflush): discards buffered and later data, still ACKs it, keeps the window open, and can still send', () => {
    const e = established({ config: { shutRdKeepsReceiving: false } });
    const send = (off: number, n: number) =>
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(n).fill(9),
      );
    send(0, 1000);
    e.h.advance(40);
    e.h.take();
    assert.equal(e.c.readableLength, 1000);
    e.c.shutdown('read');
    assert.equal(e.c.readableLength, 0);
    assert.equal(e.c.read(), null);
    send(1000, 1460);
    send(2460, 1460);
    const ack = e.h.one();
    expectSeg(ack, { flags: TCP_ACK, ack: e.peerSeq + 3920 });
    assert.equal(e.c.readableLength, 0);
    assert.equal(e.c.read(), null);
    assert.equal(e.c.state, 'ESTABLISHED');
    assert.ok(e.c.writable);
    assert.equal(e.c.write(new Uint8Array(10)), 10);
    expectSeg(e.h.one(), { len: 10 });
    // The peer's FIN still ends the stream.
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + 3920,
      ack: e.iss + 1,
      flags: TCP_FIN | TCP_ACK,
    });
    assert.equal(e.c.state, 'CLOSE-WAIT');
    assert.ok(e.c.eof);
  });

  it('Linux (the default): buffered and later data stay readable, then end of stream', () => {
    const e = established();
    const send = (off: number, n: number) =>
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(n).fill(9),
      );
    send(0, 1000);
    e.h.advance(40);
    e.h.take();
    e.c.shutdown('read');
    assert.equal(e.c.readableLength, 1000);
    send(1000, 1460);
    send(2460, 1460);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 3920 });
    assert.equal(e.c.readableLength, 3920);
    assert.equal(e.c.read()?.length, 3920);
    assert.equal(e.c.read(), null);
    assert.equal(e.c.state, 'ESTABLISHED');
  });

  it('shutdown on a closed connection is ENOTCONN', () => {
    const e = established();
    e.c.abort();
    assert.throws(() => e.c.shutdown('read'), { code: 'ENOTCONN' });
  });
});

describe('ISN and ephemeral port per connection', () => {
  it('the SYN and SYN-ACK carry the RFC 6528 ISN of their own 4-tuple', () => {
    const h = new Harness({ seed: 9 });
    h.advance(1234);
    const c = h.layer.connect({ remote: B, remotePort: PEER_PORT });
    const syn = h.one();
    assert.equal(syn.repr.seq, h.layer.isn.isn(A, c.local.port, B, PEER_PORT));
    assert.equal(c.iss, syn.repr.seq);
    h.layer.listen({ port: 80, backlog: 1 });
    h.inject({ srcPort: 6000, dstPort: 80, seq: 5, flags: TCP_SYN });
    const sa = h.one();
    assert.equal(sa.repr.seq, h.layer.isn.isn(A, 80, B, 6000));
    assert.notEqual(sa.repr.seq, syn.repr.seq);
  });

  it('the ISN advances with the clock, so a later incarnation of a tuple starts beyond the earlier one', () => {
    const h = new Harness();
    const first = h.layer.isn.isn(A, 40000, B, PEER_PORT);
    h.advance(1000); // 1 s = 250000 ticks of 4 µs
    const later = h.layer.isn.isn(A, 40000, B, PEER_PORT);
    assert.equal((later - first) >>> 0, 250_000);
  });

  it('connections to one destination get distinct ephemeral ports from the dynamic range', () => {
    const h = new Harness();
    const ports = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const c = h.layer.connect({ remote: B, remotePort: PEER_PORT });
      assert.ok(c.local.port >= 49152 && c.local.port <= 65535);
      ports.add(c.local.port);
    }
    assert.equal(ports.size, 200);
    // Same seed, same sequence: the choice is a deterministic function of the layer's secret.
    const h2 = new Harness();
    const c2 = h2.layer.connect({ remote: B, remotePort: PEER_PORT });
    const h3 = new Harness();
    const c3 = h3.layer.connect({ remote: B, remotePort: PEER_PORT });
    assert.equal(c2.local.port, c3.local.port);
  });
});

describe('ABORT (RFC 9293 §3.10.5)', () => {
  it('sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> like Linux and FreeBSD, and the connection is gone', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(10),
    );
    e.h.take();
    e.c.write(new Uint8Array(5));
    e.h.take();
    e.c.abort();
    expectSeg(e.h.one(), { flags: TCP_RST | TCP_ACK, seq: e.iss + 6, ack: e.peerSeq + 10, len: 0 });
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.h.layer.connectionCount, 0);
  });

  it('close() with unread data and SO_LINGER 0 abort the same way', () => {
    const e = established();
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(10),
    );
    e.h.take();
    e.c.close();
    expectSeg(e.h.one(), { flags: TCP_RST | TCP_ACK, seq: e.iss + 1, ack: e.peerSeq + 10 });
    const f = established({ connectOptions: { options: { linger: 0 } } });
    f.c.close();
    expectSeg(f.h.one(), { flags: TCP_RST | TCP_ACK, seq: f.iss + 1, ack: f.peerSeq });
  });
});

describe('segments in TIME-WAIT', () => {
  it('anything but a bare duplicate ACK at RCV.NXT is acknowledged (Linux, FreeBSD)', () => {
    const t = timeWait();
    const seg = (seq: number, flags: number) =>
      t.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq, ack: t.iss + 2, flags });
    seg(t.rcvNxt, TCP_ACK);
    t.h.none();
    seg(t.rcvNxt + 1, TCP_ACK);
    expectSeg(t.h.one(), { flags: TCP_ACK, seq: t.iss + 2, ack: t.rcvNxt });
    seg(t.rcvNxt, TCP_FIN | TCP_ACK);
    expectSeg(t.h.one(), { flags: TCP_ACK, ack: t.rcvNxt });
    assert.equal(t.c.state, 'TIME-WAIT');
  });

  it('an RST ends TIME-WAIT (RFC 9293 §3.10.7.4), unless config.rfc1337 (RFC 1337 §3)', () => {
    const t = timeWait();
    t.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: t.rcvNxt, flags: TCP_RST });
    assert.equal(t.c.state, 'CLOSED');
    const u = (() => {
      const a = accepted({ config: { rfc1337: true } });
      a.c.close();
      a.h.one();
      a.h.inject({
        srcPort: PEER_PORT,
        dstPort: 80,
        seq: a.peerSeq,
        ack: a.iss + 2,
        flags: TCP_FIN | TCP_ACK,
      });
      a.h.one();
      return a;
    })();
    assert.equal(u.c.state, 'TIME-WAIT');
    u.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: u.peerSeq + 1, flags: TCP_RST });
    assert.equal(u.c.state, 'TIME-WAIT');
    u.h.none();
    assert.equal(u.h.layer.stats.timeWaitRstIgnored, 1);
  });

  it('an RST in LAST-ACK ends the connection with a reset, as Linux and FreeBSD report it', () => {
    const e = established();
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 1,
      flags: TCP_FIN | TCP_ACK,
    });
    e.h.take();
    e.c.shutdown('write');
    e.h.take();
    assert.equal(e.c.state, 'LAST-ACK');
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1, flags: TCP_RST });
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.c.closeReason, 'reset');
    assert.equal(e.ev.reason, 'reset');
  });
});

describe('TCP_LINGER2 (per-connection FIN-WAIT-2 lifetime)', () => {
  it('an orphan in FIN-WAIT-2 goes after its own timeout, not the layer default', () => {
    const e = established();
    e.c.setOptions({ finWait2Timeout: 1_000_000 });
    e.c.close();
    expectSeg(e.h.one(), { flags: TCP_FIN | TCP_ACK });
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 2, flags: TCP_ACK });
    assert.equal(e.c.state, 'FIN-WAIT-2');
    e.h.advance(999);
    assert.equal(e.c.state, 'FIN-WAIT-2');
    e.h.advance(1);
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.h.layer.stats.finWait2Timeouts, 1);
  });
});

describe('TCP_DEFER_ACCEPT (Linux)', () => {
  it('deferAcceptRetries counts SYN-ACK timeouts covering the seconds (secs_to_retrans)', () => {
    assert.deepEqual([0, 1, 3, 5, 7, 8].map(deferAcceptRetries), [0, 1, 2, 3, 3, 4]);
  });

  function deferred(retries: number) {
    const s = synReceived();
    s.l.opts.deferAccept = retries;
    // The listener's options were copied when the SYN came; set them on the embryo too.
    s.h.layer.connections().next().value!.opts.deferAccept = retries;
    s.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, ack: s.iss + 1, flags: TCP_ACK });
    s.h.none();
    assert.equal(s.l.acceptQueueLength, 0);
    assert.equal(s.h.layer.stats.deferredAcks, 1);
    return s;
  }

  it('a bare ACK waits; data completes the handshake at once', () => {
    const s = deferred(3);
    s.h.inject(
      { srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, ack: s.iss + 1, flags: TCP_ACK },
      new Uint8Array(4),
    );
    assert.equal(s.l.acceptQueueLength, 1);
    const c = s.l.accept()!;
    assert.equal(c.readableLength, 4);
  });

  it('the SYN-ACK is not resent until the last timeout of the period; then a bare ACK is accepted', () => {
    const s = deferred(2);
    s.h.advance(1000); // first timeout: held back
    s.h.none();
    s.h.advance(2000); // second: resent
    expectSeg(s.h.one(), { flags: TCP_SYN | TCP_ACK, seq: s.iss });
    s.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: PEER_ISN + 1, ack: s.iss + 1, flags: TCP_ACK });
    assert.equal(s.l.acceptQueueLength, 1);
  });
});

describe('the ACK of a SYN-ACK (RFC 9293 §3.10.7.3; Linux sk_write_pending)', () => {
  const synAck = (s: ReturnType<typeof synSent>) =>
    s.h.inject({
      srcPort: PEER_PORT,
      dstPort: s.port,
      seq: PEER_ISN,
      ack: s.iss + 1,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1460 },
    });

  it('rides on the data the established callback sends: one segment, not a bare ACK and then the data', () => {
    const s = synSent();
    const at = s.h.now();
    s.ev.onEstablished = () => {
      s.ev.log.push('established');
      s.c.write(new TextEncoder().encode('hello'));
    };
    synAck(s);
    const seg = s.h.one();
    expectSeg(seg, { flags: TCP_ACK | TCP_PSH, seq: s.iss + 1, ack: PEER_ISN + 1, len: 5 });
    assert.equal(seg.at, at);
    assert.equal(s.ev.log[0], 'established');
  });

  it('goes bare, at the same instant, when the callback sends nothing', () => {
    const s = synSent();
    synAck(s);
    expectSeg(s.h.one(), { flags: TCP_ACK, seq: s.iss + 1, ack: PEER_ISN + 1, len: 0 });
  });

  it('goes bare when the callback only corks its write (TCP_CORK holds the partial segment)', () => {
    const s = synSent();
    s.ev.onEstablished = () => {
      s.c.setOptions({ cork: true });
      s.c.write(new Uint8Array(10));
    };
    synAck(s);
    expectSeg(s.h.one(), { flags: TCP_ACK, seq: s.iss + 1, ack: PEER_ISN + 1, len: 0 });
  });

  it('data written before the handshake leaves with it at once', () => {
    const s = synSent();
    s.c.write(new Uint8Array(100));
    synAck(s);
    expectSeg(s.h.one(), { flags: TCP_ACK | TCP_PSH, seq: s.iss + 1, ack: PEER_ISN + 1, len: 100 });
  });
});
