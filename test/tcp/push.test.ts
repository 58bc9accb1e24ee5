/** Where PSH goes (RFC 1122 §4.2.2.2; Linux also ends each window-limited burst with it). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, PEER_PORT, TCP_ACK, TCP_PSH } from './harness.ts';

describe('PSH placement', () => {
  it('the last segment of a burst the congestion window cuts short carries PSH (config.pushBurstEnd)', () => {
    const e = established();
    e.c.write(new Uint8Array(40_000));
    const segs = e.h.take().filter((s) => s.payload.length > 0);
    assert.ok(segs.length >= 2 && segs.length * 1460 < 40_000, `${segs.length} segments`);
    const psh = segs.map((s) => (s.repr.flags & TCP_PSH) !== 0);
    assert.deepEqual(psh, [...new Array(segs.length - 1).fill(false), true]);
  });

  it('without it, PSH marks only the segment that empties the send buffer (FreeBSD)', () => {
    const e = established({ config: { pushBurstEnd: false } });
    e.c.write(new Uint8Array(40_000));
    const segs = e.h.take().filter((s) => s.payload.length > 0);
    assert.ok(segs.length >= 2);
    assert.ok(segs.every((s) => (s.repr.flags & TCP_PSH) === 0));
    const f = established({ config: { pushBurstEnd: false } });
    f.c.write(new Uint8Array(100));
    assert.ok((f.h.one().repr.flags & TCP_PSH) !== 0);
  });
});

const bytes = (n: number) => new Uint8Array(n);
/** [payload length, PSH?] of each data segment sent since the last take(). */
function pushes(e: ReturnType<typeof established>): [number, boolean][] {
  return e.h
    .take()
    .filter((s) => s.payload.length > 0)
    .map((s) => [s.payload.length, (s.repr.flags & TCP_PSH) !== 0]);
}
const FREEBSD_RULE = { pushWriteEnd: false, pushBurstEnd: false };

describe('PSH at the end of each write (Linux tcp_push / tcp_mark_push)', () => {
  it('several writes into one window: each write ends with PSH, the middle of a write has none', () => {
    const e = established();
    e.c.setOptions({ noDelay: true });
    e.c.write(bytes(100));
    e.c.write(bytes(3000));
    assert.deepEqual(pushes(e), [
      [100, true],
      [1460, false],
      [1460, false],
      [80, true],
    ]);
  });

  it('MSG_MORE leaves the write unmarked; the next write without it marks the end', () => {
    const e = established();
    e.c.setOptions({ noDelay: true });
    e.c.write(bytes(3000), true);
    assert.deepEqual(pushes(e), [
      [1460, false],
      [1460, false],
    ]);
    e.c.write(bytes(100));
    assert.deepEqual(pushes(e), [[180, true]]);
  });

  it('TCP_CORK: a write appended to a still unsent segment takes its mark over; uncorking sends the end with PSH', () => {
    for (const config of [{}, FREEBSD_RULE]) {
      const e = established({ config });
      e.c.setOptions({ cork: true, noDelay: true });
      e.c.write(bytes(1000));
      e.c.write(bytes(1000));
      // The first write ended at 1000, inside this segment, but the second filled its skb.
      assert.deepEqual(pushes(e), [[1460, false]]);
      e.c.setOptions({ cork: false });
      assert.deepEqual(pushes(e), [[540, true]]);
    }
  });

  it('a retransmission that ends where a write ended carries PSH, in the middle of the buffer too', () => {
    const run = (config: object) => {
      const e = established({ config });
      e.c.setOptions({ noDelay: true });
      for (let i = 0; i < 3; i++) e.c.write(bytes(1460));
      const first = pushes(e);
      // RTO (300 ms after a 100 ms handshake): SND.UNA's segment again.
      e.h.advance(301);
      const rto = pushes(e);
      // The first segment is acknowledged: the middle one is resent next (go-back-N).
      e.h.inject({
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: (e.iss + 1 + 1460) >>> 0,
        flags: TCP_ACK,
      });
      const middle = pushes(e)[0];
      return { first, rto, middle };
    };
    const linux = run({});
    assert.deepEqual(linux.first, [
      [1460, true],
      [1460, true],
      [1460, true],
    ]);
    assert.deepEqual(linux.rto, [[1460, true]]);
    assert.deepEqual(linux.middle, [1460, true]);
    // FreeBSD's rule: PSH only where the segment empties the send buffer, so not on these.
    const bsd = run(FREEBSD_RULE);
    assert.deepEqual(bsd.rto, [[1460, false]]);
    assert.deepEqual(bsd.middle, [1460, false]);
  });

  it('forced push: a full segment is marked once more than half the largest window went unpushed', () => {
    // Peer window 8000: half is 4000. Of one 20000-byte write, the segments ending at 4380
    // (3 x 1460, the first full skb past 4000) and then 8760 are marked (forced_push).
    const e = established({ peerWindow: 8000 });
    e.c.setOptions({ noDelay: true });
    e.c.write(bytes(20_000));
    const first = pushes(e);
    assert.deepEqual(
      first.map(([, p]) => p),
      [false, false, true, false, false],
      JSON.stringify(first),
    );
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq,
      ack: (e.iss + 1 + 7300) >>> 0,
      flags: TCP_ACK,
      window: 8000,
    });
    // Sequence offsets now 7300..: the segment ending at 8760 carries the next mark.
    const next = pushes(e);
    assert.equal(next[0]![0], 1460);
    assert.equal(next[0]![1], true, `7300..8760 ends a forced push: ${JSON.stringify(next)}`);
    // Without the rule no segment of this write but the last carries PSH.
    const f = established({ peerWindow: 8000, config: FREEBSD_RULE });
    f.c.setOptions({ noDelay: true });
    f.c.write(bytes(20_000));
    assert.ok(pushes(f).every(([, p]) => !p));
  });
});
