/** ring.ts alone: the send buffer's views (peek) and copies (copyOut) across the wrap, small rings and grown ones. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteRing } from '../../../src/tcp/ring.ts';

/** Bytes counting up from `from` (mod 256). */
function bytes(n: number, from: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) & 0xff;
  return b;
}

describe('ByteRing.peek and copyOut (unit)', () => {
  for (const size of [40, 64, 300]) {
    it(`gives the bytes at every offset and length, also across the wrap (${size} bytes held)`, () => {
      // The ring's head walks round the buffer: push and consume so the held bytes wrap.
      const ring = new ByteRing(1 << 20);
      let next = 0;
      let head = 0;
      ring.push(bytes(size, next));
      next += size;
      for (let round = 0; round < 5; round++) {
        const drop = 1 + ((round * 17) % (size - 1));
        ring.consume(drop);
        head += drop;
        ring.push(bytes(drop, next));
        next += drop;
        assert.equal(ring.length, size);
        const scratch = new Uint8Array(size);
        for (const off of [0, 1, size >> 1, size - 1]) {
          for (const len of [1, size - off]) {
            const got = ring.peek(off, len, scratch);
            assert.deepEqual([...got], [...bytes(len, head + off)], `off ${off} len ${len} round ${round}`);
            const copied = new Uint8Array(len);
            ring.copyOut(off, len, copied);
            assert.deepEqual([...copied], [...bytes(len, head + off)], `copyOut off ${off} len ${len}`);
          }
        }
      }
    });
  }

  it('a view of a small ring does not change when the scratch is reused for another peek', () => {
    const ring = new ByteRing(1024);
    ring.push(bytes(10, 0));
    const a = ring.peek(0, 4, new Uint8Array(16));
    assert.deepEqual([...a], [0, 1, 2, 3]);
    const b = ring.peek(4, 4, new Uint8Array(16));
    assert.deepEqual([...b], [4, 5, 6, 7]);
    assert.deepEqual([...a], [0, 1, 2, 3]);
  });
});
