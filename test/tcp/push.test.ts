/**
 * Where PSH goes: Linux's marks at the end of each write and on forced pushes (push.ts,
 * config.pushWriteEnd), its PSH on every GSO packet of more than one segment
 * (config.pushBurstEnd), and FreeBSD's rule (the segment that empties the send buffer), on
 * hand-made ACKs at virtual times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, PEER_PORT, TCP_ACK, TCP_PSH } from './harness.ts';

describe('PSH on Linux GSO packets (config.pushBurstEnd)', () => {
  it('new data leaves in packets of tcp_tso_autosize segments, each ending with PSH', () => {
    // 100 ms SRTT, cwnd 10 x 1460: the pacing rate (200 % of cwnd per SRTT) gives 285 bytes
    // per 2^10 µs, under one segment: packets of the minimum, 2 segments.
    const e = established();
    e.c.write(new Uint8Array(40_000));
    const psh = pushes(e).map(([, p]) => p);
    assert.deepEqual(psh, [false, true, false, true, false, true, false, true, false, true]);
  });

  it('tcp_min_tso_segs raises the packet size (config.minTsoSegs)', () => {
    const e = established({ config: { minTsoSegs: 5 } });
    e.c.write(new Uint8Array(40_000));
    const psh = pushes(e).map(([, p]) => p);
    assert.deepEqual(psh, [false, false, false, false, true, false, false, false, false, true]);
  });

  it('without it (FreeBSD), PSH marks only the segment that empties the send buffer', () => {
    const e = established({ config: FREEBSD_RULE });
    e.c.write(new Uint8Array(40_000));
    const segs = pushes(e);
    assert.ok(segs.length >= 2);
    assert.ok(segs.every(([, p]) => !p));
    const f = established({ config: FREEBSD_RULE });
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
/** Linux's write-end marks alone (no GSO packets), so each segment's PSH is the marks'. */
const MARKS = { pushBurstEnd: false };

describe('PSH at the end of each write (Linux tcp_push / tcp_mark_push)', () => {
  it('several writes into one window: each write ends with PSH, the middle of a write has none', () => {
    const e = established({ config: MARKS });
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
    const e = established({ config: MARKS });
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
    for (const config of [MARKS, FREEBSD_RULE]) {
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
    const linux = run(MARKS);
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

  it('forced push: a full skb is marked once more than half the largest window went unpushed', () => {
    // Peer window 8000: half is 4000, and Linux's skbs hold two segments (2920 bytes, at most
    // half the window). Of one 20000-byte write the skbs ending at 5840 and 11680 (and 17520)
    // are marked: each is the first full skb more than 4000 bytes past the last mark.
    const e = established({ peerWindow: 8000, config: MARKS });
    e.c.setOptions({ noDelay: true });
    e.c.write(bytes(20_000));
    const first = pushes(e);
    assert.deepEqual(
      first.map(([, p]) => p),
      [false, false, false, true, false],
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
    // From 7300: the third segment ends at 11680.
    const next = pushes(e);
    assert.deepEqual(
      next.slice(0, 4).map(([, p]) => p),
      [false, false, true, false],
      JSON.stringify(next),
    );
    // Without the rule no segment of this write but the last carries PSH.
    const f = established({ peerWindow: 8000, config: FREEBSD_RULE });
    f.c.setOptions({ noDelay: true });
    f.c.write(bytes(20_000));
    assert.ok(pushes(f).every(([, p]) => !p));
  });
});
