/** Delayed ACKs (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2), under the Linux and FreeBSD profiles. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, type TcpProfileName } from '../../src/tcp/profile.ts';
import { established, expectSeg, type Opened, PEER_PORT, TCP_ACK, TCP_FIN } from './harness.ts';

const bytes = (n: number) => new Uint8Array(n).fill(7);

function data(e: Opened, off: number, len: number, opts?: { tsVal: number; tsEcr: number }): void {
  e.h.inject(
    {
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + off,
      ack: e.iss + 1,
      flags: TCP_ACK,
      ...(opts ? { options: { timestamps: opts } } : {}),
    },
    bytes(len),
  );
}

/**
 * The delayed-ACK timer per profile: Linux TCP_DELACK_MIN (40 ms, include/net/tcp.h);
 * FreeBSD net.inet.tcp.delacktime (100 ms, the profile's value; docs/conformance-results.md).
 */
const DELACK_MS: Record<TcpProfileName, number> = { linux: 40, freebsd: 100 };

for (const p of [LINUX, FREEBSD]) {
  const ms = DELACK_MS[p.name];
  // FreeBSD tcp_input (DELAY_ACK): a data segment arriving while an ACK is already delayed is
  // ACKed at once, whatever its size. Linux __tcp_ack_snd_check: only once more than one
  // full-sized segment is unacknowledged (RFC 9293 §3.8.6.3 "every second full-sized segment").
  const everySecond = p.name === 'freebsd';
  // Quick-ACK mode off (on Linux it only covers a connection's first segments; its own suite
  // below): these are the rules after it.
  const opened = (o: Parameters<typeof established>[0] = {}) =>
    established({ ...o, config: tcpConfigFor(p, { quickAck: false }) });

  describe(`delayed ACK (${p.name} profile)`, () => {
    it(`a lone segment is ACKed when the ${ms} ms timer expires, not before`, () => {
      const e = opened();
      data(e, 0, 100);
      e.h.none();
      e.h.advance(ms - 1);
      e.h.none();
      e.h.advance(1);
      expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 100 });
      assert.equal(e.h.layer.stats.delayedAcks, 1);
    });

    it(
      everySecond
        ? 'every second segment is ACKed at once, small ones too (DELAY_ACK)'
        : 'small segments do not count towards "every second full-sized segment"',
      () => {
        const e = opened();
        data(e, 0, 100);
        e.h.none();
        data(e, 100, 100);
        if (everySecond) expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 200 });
        else e.h.none();
        data(e, 200, 100);
        e.h.none();
        e.h.advance(ms);
        expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 300 });
        assert.equal(e.h.layer.stats.delayedAcks, 1);
      },
    );

    it(
      everySecond
        ? 'one full-sized and one small segment are ACKed at once; so are two full-sized'
        : 'one full-sized and one small segment wait for the timer; two full-sized are ACKed at once',
      () => {
        const e = opened();
        data(e, 0, 1460);
        data(e, 1460, 10);
        if (!everySecond) {
          e.h.none();
          e.h.advance(ms);
        }
        expectSeg(e.h.one(), { ack: e.peerSeq + 1470 });
        data(e, 1470, 1460);
        e.h.none();
        data(e, 2930, 1460);
        expectSeg(e.h.one(), { ack: e.peerSeq + 4390 });
      },
    );

    it('full-sized follows what the peer actually sends (a smaller path MSS, timestamps)', () => {
      const e = opened({ peerOptions: { mss: 1460, timestamps: { tsVal: 1, tsEcr: 0 } } });
      assert.ok(e.c.tsOk);
      const ts = { tsVal: 2, tsEcr: 0 };
      // 1448 = 1460 - 12 option bytes: full-sized with timestamps.
      data(e, 0, 1448, ts);
      e.h.none();
      data(e, 1448, 1448, ts);
      expectSeg(e.h.one(), { ack: e.peerSeq + 2896 });
      // A peer whose path MSS is 1000: its 1000-byte segments count once seen as the largest.
      const f = opened();
      data(f, 0, 1000);
      f.h.none();
      data(f, 1000, 1000);
      expectSeg(f.h.one(), { ack: f.peerSeq + 2000 });
    });

    it(
      p.name === 'linux'
        ? "with the profile's quick-ACK mode the first data segment is ACKed at once"
        : 'without quick-ACK mode the first data segment waits for the timer',
      () => {
        // The profile's own quick-ACK setting (the harness turns it off unless told).
        const e = established({ config: tcpConfigFor(p) });
        data(e, 0, 100);
        if (p.name === 'freebsd') {
          e.h.none();
          e.h.advance(ms);
        }
        expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 100 });
      },
    );
  });
}

describe('quick-ACK mode (Linux tcp_incr_quickack)', () => {
  const quick = { config: { quickAck: true } };

  it('the first data segments of a connection are ACKed at once, then delayed ACKs resume', () => {
    // The offered window: min(256 KiB, 65535 << 7) over 2 * 536 (the MSS estimate before
    // any data) is far above 16, so 16 quick ACKs.
    const e = established(quick);
    for (let i = 0; i < 16; i++) {
      data(e, i * 100, 100);
      expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + (i + 1) * 100 });
    }
    assert.equal(e.c.quickAcks, 0);
    data(e, 1600, 100);
    e.h.none();
    e.h.advance(40);
    expectSeg(e.h.one(), { ack: e.peerSeq + 1700 });
  });

  it('a small window gives at least 2 quick ACKs', () => {
    const e = established({ ...quick, connectOptions: { options: { rcvBuf: 1000 } } });
    data(e, 0, 100);
    expectSeg(e.h.one(), { ack: e.peerSeq + 100 });
    data(e, 100, 100);
    expectSeg(e.h.one(), { ack: e.peerSeq + 200 });
    data(e, 200, 100);
    e.h.none();
  });

  it('data after an idle gap longer than the RTO starts quick ACKs again', () => {
    const e = established(quick);
    e.c.quickAcks = 0;
    e.c.dataSeen = true;
    e.c.lastDataRecv = e.h.now();
    data(e, 0, 100);
    e.h.none(); // within the RTO: delayed
    e.h.advance(40);
    e.h.take();
    e.h.advance(1000); // RTO is 300 ms after the 100 ms handshake
    data(e, 100, 100);
    expectSeg(e.h.one(), { ack: e.peerSeq + 200 });
  });

  it('is off when config.quickAck is false (the FreeBSD dialect)', () => {
    const e = established({ config: { quickAck: false } });
    data(e, 0, 100);
    e.h.none();
    e.h.advance(40);
    expectSeg(e.h.one(), { ack: e.peerSeq + 100 });
  });
});

describe("the peer's FIN (profile finAck)", () => {
  const fin = (e: Opened, off: number) =>
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + off,
      ack: e.iss + 1,
      flags: TCP_ACK | TCP_FIN,
    });

  it('Linux: a FIN before any data is ACKed at once (ato not yet set)', () => {
    const e = established({ config: tcpConfigFor(LINUX) });
    fin(e, 0);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 1 });
    assert.equal(e.c.state, 'CLOSE-WAIT');
  });

  it("Linux: a FIN after data waits for the delayed-ACK timer (tcp_fin's pingpong mode)", () => {
    const e = established({ config: tcpConfigFor(LINUX) });
    data(e, 0, 100);
    expectSeg(e.h.one(), { ack: e.peerSeq + 100 }); // quick-ACK mode
    fin(e, 100);
    assert.equal(e.c.state, 'CLOSE-WAIT');
    e.h.advance(39);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 101 });
  });

  it('Linux: data with a FIN is delayed too (no quick ACK), unless more than an MSS is owed', () => {
    const withFin = (e: Opened, off: number, len: number) =>
      e.h.inject(
        {
          srcPort: PEER_PORT,
          dstPort: e.port,
          seq: e.peerSeq + off,
          ack: e.iss + 1,
          flags: TCP_ACK | TCP_FIN,
        },
        bytes(len),
      );
    // The first data of the connection, with the FIN: pingpong mode holds the quick ACK.
    const e = established({ config: tcpConfigFor(LINUX) });
    withFin(e, 0, 100);
    e.h.advance(39);
    e.h.none();
    e.h.advance(1);
    expectSeg(e.h.one(), { ack: e.peerSeq + 101 });
    // A full-sized segment and the FIN: more than one MSS owed, ACKed at once.
    const f = established({ config: tcpConfigFor(LINUX), peerOptions: { mss: 1000 } });
    withFin(f, 0, 1000);
    expectSeg(f.h.one(), { ack: f.peerSeq + 1001 });
  });

  it('FreeBSD: the FIN is ACKed at once after data too (TF_ACKNOW)', () => {
    const e = established({ config: tcpConfigFor(FREEBSD) });
    data(e, 0, 100);
    e.h.none();
    fin(e, 100);
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 101 });
  });
});

describe('config.ackEverySegmentPair (FreeBSD DELAY_ACK)', () => {
  it('every second segment is ACKed at once whatever its size; by default small ones wait', () => {
    const e = established({ config: { ackEverySegmentPair: true } });
    data(e, 0, 1);
    e.h.none();
    data(e, 1, 2);
    expectSeg(e.h.one(), { ack: e.peerSeq + 3 });
    const f = established();
    data(f, 0, 1);
    data(f, 1, 2);
    f.h.none();
  });
});
