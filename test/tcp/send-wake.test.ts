/**
 * When a full send buffer is writable again (src/tcp/buffers.ts sndSpaceReady, profile
 * sendBufferWake), driven with hand-made ACKs at virtual times: a writer that found the
 * buffer full hears onWritable (what wakes a blocking send, the net adapter's drain and
 * epoll) at the first ACK that makes the rule true, and `writeReady` (poll's POLLOUT) agrees.
 *
 * - Linux sk_stream_is_writeable: free room >= half of what is queued (sk_stream_wspace >=
 *   sk_stream_min_wspace). A 21000-byte buffer is writable again at 14000 queued.
 * - FreeBSD sowriteable: free room >= so_snd.sb_lowat, MCLBYTES (2048) or the buffer if less.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sndSpaceReady } from '../../src/tcp/buffers.ts';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, type TcpProfile } from '../../src/tcp/profile.ts';
import { established, TCP_ACK } from './harness.ts';

const SNDBUF = 21000;
const MSS = 1000;

/** A connection whose 21000-byte send buffer a 61000-byte write filled (10 segments sent). */
function filled(profile: TcpProfile) {
  const o = established({
    config: { ...tcpConfigFor(profile), quickAck: false },
    peerOptions: { mss: MSS },
    peerWindow: 50000,
    connectOptions: { options: { sndBuf: SNDBUF } },
  });
  const { h, c } = o;
  assert.equal(c.write(new Uint8Array(61000)), SNDBUF, 'the write takes what fits');
  assert.equal(c.unackedLength, SNDBUF);
  assert.ok(h.take().length >= 10, 'the initial window left');
  assert.equal(c.writeReady, false, 'full: not writable');
  o.ev.log.length = 0;
  /** The peer acknowledges our first `n` bytes 100 ms later; returns whether onWritable came. */
  const ack = (n: number): boolean => {
    h.advance(100);
    o.ev.log.length = 0;
    h.inject({
      srcPort: 5555,
      dstPort: o.port,
      seq: o.peerSeq,
      ack: o.iss + 1 + n,
      flags: TCP_ACK,
      window: 50000,
    });
    h.take();
    return o.ev.log.includes('writable');
  };
  return { ...o, ack };
}

describe('send buffer writable again (profile sendBufferWake)', () => {
  it('the profiles: Linux wakes on half of the queue free, FreeBSD at the 2048-byte low-water mark', () => {
    assert.equal(tcpConfigFor(LINUX).sndLowat, 0);
    assert.equal(tcpConfigFor(FREEBSD).sndLowat, 2048);
  });

  it('Linux: no wake while free < queued / 2 (6000 free of 21000); the ACK leaving 14000 queued wakes the writer once', () => {
    const { c, ack } = filled(LINUX);
    assert.equal(ack(2000), false, 'queued 19000, free 2000');
    assert.equal(ack(3000), false, 'queued 18000, free 3000: above the FreeBSD mark, not Linux');
    assert.equal(ack(6000), false, 'queued 15000, free 6000 < 7500 (a quarter free is not enough)');
    assert.equal(c.writeReady, false, 'poll agrees: no POLLOUT');
    assert.equal(c.writableSpace, 6000, 'though the buffer has room');
    assert.equal(ack(7000), true, 'queued 14000, free 7000 = 14000 / 2: sk_stream_is_writeable');
    assert.equal(c.writeReady, true);
    assert.equal(ack(8000), false, 'told once: the writer has not written since');
  });

  it('FreeBSD: the first ACK that frees 2048 bytes wakes the writer (sbspace >= sb_lowat)', () => {
    const { c, ack } = filled(FREEBSD);
    assert.equal(ack(2000), false, 'free 2000 < 2048');
    assert.equal(c.writeReady, false);
    assert.equal(ack(3000), true, 'free 3000 >= 2048');
    assert.equal(c.writeReady, true);
  });

  it('a writer that writes again and fills the buffer is told again at the next wake point', () => {
    const { c, ack } = filled(LINUX);
    assert.equal(ack(7000), true);
    assert.equal(c.write(new Uint8Array(40000)), 7000, 'fills the 7000 free');
    assert.equal(c.writeReady, false);
    // Queued 21000 from byte 7000: the point is again 14000 queued, the ACK of 14000.
    assert.equal(ack(13000), false, 'queued 15000');
    assert.equal(ack(14000), true, 'queued 14000');
  });

  it('poll before any wait: Linux reports POLLOUT only with a third of the buffer free, FreeBSD from 2048 bytes', () => {
    for (const [profile, want] of [
      [LINUX, false],
      [FREEBSD, true],
    ] as const) {
      const o = established({
        config: { ...tcpConfigFor(profile), quickAck: false },
        peerOptions: { mss: MSS },
        peerWindow: 50000,
        connectOptions: { options: { sndBuf: SNDBUF } },
      });
      assert.equal(o.c.writeReady, true, `${profile.name}: empty buffer`);
      assert.equal(o.c.write(new Uint8Array(16000)), 16000);
      // 5000 free, 16000 queued: 5000 < 8000 (Linux), 5000 >= 2048 (FreeBSD).
      assert.equal(o.c.writeReady, want, profile.name);
    }
  });

  it('sndSpaceReady: the rules on their own, the low-water mark capped at the buffer', () => {
    const buf = (limit: number, length: number) => ({ limit, length, space: limit - length });
    assert.equal(sndSpaceReady(buf(3000, 2000), 0), true, 'free 1000 >= 2000 / 2');
    assert.equal(sndSpaceReady(buf(3000, 2001), 0), false);
    assert.equal(sndSpaceReady(buf(3000, 0), 0), true, 'empty');
    // soreserve: a mark above the buffer becomes the buffer, so an empty one is writable.
    assert.equal(sndSpaceReady(buf(1500, 0), 2048), true);
    assert.equal(sndSpaceReady(buf(1500, 1), 2048), false);
    assert.equal(sndSpaceReady(buf(21000, 18952), 2048), true, 'free 2048');
    assert.equal(sndSpaceReady(buf(21000, 18953), 2048), false);
  });
});
