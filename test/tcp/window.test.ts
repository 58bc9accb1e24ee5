/** The receive window we offer (RFC 9293 §3.8.6.2.2 receiver SWS avoidance), under the Linux and FreeBSD profiles. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, type TcpProfile } from '../../src/tcp/profile.ts';
import { established, expectSeg, PEER_PORT, TCP_ACK } from './harness.ts';

/** Linux TCP_DELACK_MIN (40 ms); FreeBSD net.inet.tcp.delacktime (100 ms). */
const DELACK_MS = { linux: 40, freebsd: 100 };

function opened(p: TcpProfile, rcvBuf: number) {
  // No window scaling (the peer offers none): the field caps the window at 65535.
  return established({
    config: tcpConfigFor(p, { quickAck: false }),
    connectOptions: { options: { rcvBuf } },
  });
}

for (const p of [LINUX, FREEBSD]) {
  const ms = DELACK_MS[p.name];
  describe(`offered receive window (${p.name} profile)`, () => {
    it('free space beyond what the 16-bit field holds: every ACK offers 65535 (FreeBSD reordering-*.pkt)', () => {
      // 65700 is already 45 segments of 1460, so FreeBSD's tcp_mss() rounding keeps it.
      const e = opened(p, 65700);
      assert.equal(e.c.opts.rcvBuf, 65700);
      let off = 0;
      for (const n of [1, 1, 100, 1]) {
        e.h.inject(
          { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
          new Uint8Array(n),
        );
        off += n;
        e.h.advance(ms);
        expectSeg(e.h.one(), { ack: e.peerSeq + off, window: 65535 });
      }
      assert.equal(e.c.readableLength, 103);
    });

    // Linux (__tcp_select_window, RFC 1122 §4.2.3.3): the right edge stays put until the window
    // can grow by an MSS. FreeBSD: tcp_mss() first rounds the 60000-byte buffer up to whole
    // segments (42 * 1460 = 61320), then tcp_output offers the free space on every segment;
    // both send no pure window update for 100 freed bytes (less than an MSS).
    const want = p.name === 'linux' ? { first: 59900, later: 59890 } : { first: 61220, later: 61310 };
    it(`a window limited by buffer space: ${want.first}, then ${want.later} after 100 bytes are read`, () => {
      const e = opened(p, 60000);
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(100),
      );
      e.h.advance(ms);
      expectSeg(e.h.one(), { ack: e.peerSeq + 100, window: want.first });
      e.c.read(); // 100 bytes freed: less than an MSS, no update
      e.h.none();
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 100, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(10),
      );
      e.h.advance(ms);
      expectSeg(e.h.one(), { ack: e.peerSeq + 110, window: want.later });
    });
  });
}
