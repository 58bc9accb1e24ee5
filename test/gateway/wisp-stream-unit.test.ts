/**
 * wispStream (src/gateway/wisp-dialer.ts) over a hand-made Wisp stream whose write reports
 * the change at once, as WispStream's pump does: bytes queued while the stream had no room go
 * out exactly once, in order, when room comes, however the stream calls back during the write.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { wispStream } from '../../src/gateway/wisp-dialer.ts';
import type { WispStream } from '../../src/wisp/client.ts';

/** A TCP Wisp stream taking at most `room` bytes until more room is given. */
function fakeStream() {
  const sent: number[] = [];
  const f = {
    state: 'open' as const,
    receivedBytes: 0,
    room: 0,
    onChange: null as (() => void) | null,
    write(data: Uint8Array): number {
      const n = Math.min(f.room, data.length);
      for (let i = 0; i < n; i++) sent.push(data[i]!);
      f.room -= n;
      // WispStream.write -> pump -> #changed: the owner hears of it inside the write.
      if (n > 0) f.onChange?.();
      return n;
    },
    read: (): undefined => undefined,
    close: () => {},
  };
  return { f, sent };
}

it('queued bytes go out once, in order, when a write calls back into the stream owner', () => {
  const { f, sent } = fakeStream();
  const hs = wispStream(f as unknown as WispStream);
  let drains = 0;
  hs.onDrain = () => drains++;
  const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  // No room: everything waits (in three pieces).
  assert.equal(hs.write(data.subarray(0, 1000)), false);
  assert.equal(hs.write(data.subarray(1000, 2000)), false);
  assert.equal(hs.write(data.subarray(2000)), false);
  assert.equal(sent.length, 0);
  // Room for some of it, in steps smaller and larger than a piece.
  for (const room of [700, 1500, 10_000]) {
    f.room = room;
    f.onChange?.();
  }
  assert.deepEqual(sent, [...data], 'every byte once, in order');
  assert.equal(drains, 1, 'one drain once the queue emptied');
});
