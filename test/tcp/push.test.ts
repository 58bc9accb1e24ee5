/** Where PSH goes (RFC 1122 §4.2.2.2; Linux also ends each window-limited burst with it). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, TCP_PSH } from './harness.ts';

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
