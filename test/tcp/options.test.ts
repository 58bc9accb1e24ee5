import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import { ccContext } from '../../src/tcp/cc.ts';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { createCongestionControl } from '../../src/tcp/congestion/factory.ts';
import { initialWindow } from '../../src/tcp/congestion/types.ts';
import { TcpError } from '../../src/tcp/errors.ts';
import { FREEBSD, LINUX } from '../../src/tcp/profile.ts';
import {
  B,
  established,
  expectSeg,
  Harness,
  PEER_PORT,
  synSent,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
} from './harness.ts';

const bytes = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const FULL = { mss: 1460, windowScale: 7, sackPermitted: true, timestamps: { tsVal: 5000, tsEcr: 0 } };

suite('RFC 7323 window scaling and timestamps', () => {
  test('negotiated: peer window is scaled, ours is shifted, TS echoed', () => {
    const e = established({ peerOptions: FULL, peerWindow: 100 });
    assert.equal(e.c.tsOk, true);
    assert.equal(e.c.sackOk, true);
    assert.equal(e.c.sndWscale, 7);
    // SYN-ACK window is not scaled
    assert.equal(e.c.snd.wnd, 100);
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 1,
      flags: TCP_ACK,
      window: 100,
      options: { timestamps: { tsVal: 5001, tsEcr: 0 } },
    });
    assert.equal(e.c.snd.wnd, 100 << 7);
    e.c.write(bytes(10));
    const d = e.h.one();
    assert.equal(d.repr.options.timestamps?.tsEcr, 5001);
    // The shift covers config.maxRcvBuf (6 MiB -> 7); the 256 KiB buffer is offered through it.
    assert.equal(d.repr.window, (256 * 1024) >> 7);
  });
  test('PAWS: an old timestamp is dropped with an ACK', () => {
    const e = established({ peerOptions: FULL });
    e.h.inject(
      {
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: e.iss + 1,
        flags: TCP_ACK,
        options: { timestamps: { tsVal: 4000, tsEcr: 0 } },
      },
      bytes(10),
    );
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq });
    assert.equal(e.c.readableLength, 0);
    assert.equal(e.h.layer.stats.pawsDrops, 1);
  });
  test('PAWS: a dropped duplicate below RCV.NXT is D-SACKed under Linux (tcp_send_dupack), a plain ACK under FreeBSD', () => {
    for (const p of [LINUX, FREEBSD]) {
      const e = established({ peerOptions: FULL, config: tcpConfigFor(p, { quickAck: false }) });
      const seg = (off: number, tsVal: number) =>
        e.h.inject(
          {
            srcPort: PEER_PORT,
            dstPort: e.port,
            seq: e.peerSeq + off,
            ack: e.iss + 1,
            flags: TCP_ACK,
            options: { timestamps: { tsVal, tsEcr: 0 } },
          },
          bytes(100),
        );
      // 0..100 is held back on the way; its retransmission (a newer TSval) arrives first,
      // then the original, whose older TSval PAWS rejects.
      seg(100, 5001);
      seg(0, 5003);
      e.h.advance(500);
      e.h.take();
      assert.equal(e.c.readableLength, 200);
      seg(0, 5001);
      const a = e.h.one();
      expectSeg(a, { flags: TCP_ACK, ack: e.peerSeq + 200 });
      assert.deepEqual(
        a.repr.options.sack,
        p === LINUX ? [{ left: e.peerSeq, right: e.peerSeq + 100 }] : undefined,
        p.name,
      );
      assert.equal(e.h.layer.stats.pawsDrops, 1);
      assert.equal(e.c.readableLength, 200);
    }
  });
  test('timestamps give RTT samples on every advancing ACK, even after retransmission', () => {
    const e = established({ peerOptions: FULL });
    e.c.write(bytes(10));
    const d = e.h.one();
    e.h.advance(300);
    e.h.one();
    e.h.advance(50);
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: e.iss + 11,
      flags: TCP_ACK,
      options: { timestamps: { tsVal: 5002, tsEcr: d.repr.options.timestamps!.tsVal } },
    });
    assert.equal(e.c.rtt.backoffCount, 0);
  });
});

suite('SACK (RFC 2018) and fast retransmit', () => {
  test('receiver reports out-of-order blocks, most recent first', () => {
    const e = established({ peerOptions: { mss: 1460, sackPermitted: true } });
    const p = e.peerSeq;
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: p + 100, ack: e.iss + 1, flags: TCP_ACK },
      bytes(100),
    );
    let a = e.h.one();
    assert.deepEqual(a.repr.options.sack, [{ left: p + 100, right: p + 200 }]);
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: p + 300, ack: e.iss + 1, flags: TCP_ACK },
      bytes(100),
    );
    a = e.h.one();
    assert.deepEqual(a.repr.options.sack, [
      { left: p + 300, right: p + 400 },
      { left: p + 100, right: p + 200 },
    ]);
  });
  test('three duplicate ACKs trigger a fast retransmit of snd.una (NewReno)', () => {
    const e = established();
    e.c.write(bytes(1460 * 6));
    assert.equal(e.h.take().length, 6);
    for (let i = 0; i < 3; i++) {
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1461, flags: TCP_ACK });
      if (i === 0) e.h.take(); // the first new ACK may release new data
    }
    e.h.take();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1461, flags: TCP_ACK });
    const r = e.h.take();
    assert.ok(r.length >= 1);
    expectSeg(r[0], { seq: e.iss + 1461, len: 1460 });
    assert.equal(e.h.layer.stats.fastRetransmits, 1);
    assert.equal(e.c.inRecovery, true);
    // partial ACK: retransmit the next hole at once (RFC 6582)
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 2921, flags: TCP_ACK });
    const r2 = e.h.take();
    expectSeg(r2[0], { seq: e.iss + 2921, len: 1460 });
    assert.equal(e.h.layer.stats.partialAckRetransmits, 1);
    // full ACK ends recovery
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: (e.c.sndMax as number) >>> 0,
      flags: TCP_ACK,
    });
    assert.equal(e.c.inRecovery, false);
  });
  test('SACK recovery retransmits only the holes', () => {
    const e = established({ peerOptions: { mss: 1460, sackPermitted: true } });
    e.c.write(bytes(1460 * 8));
    assert.equal(e.h.take().length, 8);
    const base = e.iss + 1;
    // segments 0 and 3 lost
    for (let k = 1; k <= 5; k++) {
      const blocks = [{ left: (base + 1460) >>> 0, right: (base + 1460 * 3) >>> 0 }];
      if (k >= 2) blocks.unshift({ left: (base + 1460 * 4) >>> 0, right: (base + 1460 * (4 + k - 1)) >>> 0 });
      e.h.inject({
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: base,
        flags: TCP_ACK,
        options: { sack: blocks },
      });
    }
    const rtx = e.h.take().filter((s) => s.repr.seq < base + 1460 * 8 && s.payload.length > 0);
    const seqs = rtx.map((s) => (s.repr.seq - base) / 1460);
    assert.ok(seqs.includes(0), `retransmitted ${seqs}`);
    assert.ok(seqs.includes(3), `retransmitted ${seqs}`);
    assert.ok(!seqs.includes(1) && !seqs.includes(2), `retransmitted SACKed data: ${seqs}`);
    assert.equal(e.h.layer.stats.sackRecoveries, 1);
  });
});

suite('keepalive', () => {
  test('probes after idle, every interval, then timed-out', () => {
    const e = established({
      connectOptions: {
        options: { keepAlive: true, keepIdle: 10_000_000, keepInterval: 1_000_000, keepCount: 3 },
      },
    });
    e.h.advance(9_999);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss, ack: e.peerSeq, len: 0 });
    // an answer resets the count
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK });
    e.h.advance(10_000);
    e.h.one();
    e.h.advance(1000);
    e.h.one();
    e.h.advance(1000);
    e.h.one();
    assert.equal(e.c.state, 'ESTABLISHED');
    e.h.advance(1000);
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.ev.reason, 'timed-out');
  });
});

suite('ports and API errors', () => {
  test('listen twice on a port: EADDRINUSE; a listener vs TIME-WAIT needs SO_REUSEADDR on both sockets', () => {
    const h = new Harness();
    const l = h.layer.listen({ port: 80, backlog: 1 });
    assert.throws(
      () => h.layer.listen({ port: 80, backlog: 1 }),
      (e: unknown) => e instanceof TcpError && e.code === 'EADDRINUSE',
    );
    assert.throws(() => h.layer.listen({ port: 80, backlog: 1, reuseAddr: true }), { code: 'EADDRINUSE' });
    // make a TIME-WAIT on port 80: accepted connection, we close first
    h.inject({ dstPort: 80, seq: 100, flags: TCP_SYN, options: { mss: 1460 } });
    const sa = h.one();
    h.inject({ dstPort: 80, seq: 101, ack: sa.repr.seq + 1, flags: TCP_ACK });
    const c = l.accept()!;
    l.close();
    c.close();
    const fin = h.one();
    h.inject({ dstPort: 80, seq: 101, ack: fin.repr.seq + 1, flags: TCP_ACK | 1 /* FIN */ });
    h.take();
    assert.equal(c.state, 'TIME-WAIT');
    assert.throws(() => h.layer.listen({ port: 80, backlog: 1 }), { code: 'EADDRINUSE' });
    // Linux: the TIME-WAIT connection keeps its listener's (missing) SO_REUSEADDR.
    assert.throws(() => h.layer.listen({ port: 80, backlog: 1, reuseAddr: true }), { code: 'EADDRINUSE' });
    c.reuseAddr = true; // as if that listener had had SO_REUSEADDR
    const l2 = h.layer.listen({ port: 80, backlog: 1, reuseAddr: true });
    assert.equal(l2.local.port, 80);
  });
  test('ephemeral ports differ; the same tuple twice is EADDRINUSE', () => {
    const h = new Harness();
    const a = h.layer.connect({ remote: B, remotePort: 80 });
    const b = h.layer.connect({ remote: B, remotePort: 80 });
    assert.notEqual(a.local.port, b.local.port);
    assert.ok(a.local.port >= 49152);
    assert.throws(() => h.layer.connect({ remote: B, remotePort: 80, localPort: a.local.port }), {
      code: 'EADDRINUSE',
    });
  });
  test('no route: ENETUNREACH; write before connect completes is queued; write after shutdown: EPIPE', () => {
    const h = new Harness();
    h.routes = false;
    assert.throws(() => h.layer.connect({ remote: B, remotePort: 80 }), { code: 'ENETUNREACH' });
    h.routes = true;
    const c = h.layer.connect({ remote: B, remotePort: 80 });
    const syn = h.one();
    assert.equal(c.write(bytes(10)), 10);
    h.none();
    h.inject({
      srcPort: 80,
      dstPort: c.local.port,
      seq: 7,
      ack: syn.repr.seq + 1,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1460 },
    });
    const out = h.take();
    assert.equal(out.length, 1);
    expectSeg(out[0], { flags: TCP_PSH | TCP_ACK, len: 10, ack: 8 });
    c.shutdown('write');
    assert.throws(() => c.write(bytes(1)), { code: 'EPIPE' });
  });
  test('info() reports the TCB', () => {
    const e = established({ peerOptions: FULL });
    const i = e.c.info();
    assert.equal(i.state, 'ESTABLISHED');
    assert.equal(i.mss, 1460);
    assert.deepEqual(i.options, {
      timestamps: true,
      sack: true,
      ecn: false,
      ecnSeen: false,
      synData: false,
      tfoChild: false,
      windowScale: { snd: 7, rcv: 7 },
    });
    assert.equal(i.rtt, 100_000);
    assert.equal(i.congestion, 'cubic', "the Linux profile's default (net.ipv4.tcp_congestion_control)");
  });
});

suite('the congestion controller of an active open', () => {
  for (const name of ['newreno', 'cubic', 'bbr'] as const) {
    test(`${name}: made once at connect; the SYN-ACK's MSS sets its initial window (RFC 6928)`, () => {
      const s = synSent({ connectOptions: { options: { congestion: name } } });
      const cc = s.c.cc;
      assert.equal(cc.name, name);
      // SYN-SENT: the initial window of the default MSS (536).
      assert.equal(s.c.info().cwnd, initialWindow(536));
      s.h.advance(100);
      s.h.inject({
        srcPort: PEER_PORT,
        dstPort: s.port,
        seq: s.irs,
        ack: s.iss + 1,
        flags: TCP_SYN | TCP_ACK,
        window: 65535,
        options: { mss: 1000 },
      });
      assert.equal(s.c.state, 'ESTABLISHED');
      assert.equal(s.c.mss, 1000);
      assert.equal(s.c.cc, cc, 'the same controller, not a second one');
      // As a controller made for the negotiated MSS and started now.
      const fresh = createCongestionControl(name, 1000);
      fresh.init?.(ccContext(s.c));
      assert.deepEqual(
        [cc.cwnd, cc.ssthresh, cc.pacingRate, cc.pacingBurst],
        [fresh.cwnd, fresh.ssthresh, fresh.pacingRate, fresh.pacingBurst],
      );
      assert.equal(cc.cwnd, 10 * 1000);
    });
  }
});
