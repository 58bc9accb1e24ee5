/**
 * Lent receive buffers (src/link/rx-loan.ts) with TCP's receive queue as their holder: a
 * lent frame kept by reference goes back to its device exactly once, after its last byte was
 * read, never while a piece of it is still queued; frames the queue copied, frames never
 * lent, and frames still unread when the queue is cleared never go back.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { dropFrame, holdFrame, lendFrame } from '../../src/link/rx-loan.ts';
import { RecvQueue } from '../../src/tcp/recv-queue.ts';

/** A lent 64 KiB frame with `n` payload bytes after a 66-byte header; `back` records returns. */
function lent(n: number, fill: number, back: ArrayBuffer[]): Uint8Array {
  const frame = new Uint8Array(65536);
  frame.fill(fill, 66, 66 + n);
  lendFrame(frame, (b) => back.push(b));
  return frame.subarray(66, 66 + n);
}

it('a kept frame goes back once its last byte is read, not before', () => {
  const back: ArrayBuffer[] = [];
  const q = new RecvQueue(1 << 20);
  const a = lent(60000, 1, back);
  const b = lent(60000, 2, back);
  assert.equal(q.push(a), 60000);
  assert.equal(q.push(b), 60000);
  const out = new Uint8Array(50000);
  assert.equal(q.takeInto(out), 50000);
  assert.ok(out.every((x) => x === 1));
  assert.equal(back.length, 0, 'part of the first frame is still queued');
  assert.equal(q.takeInto(out), 50000);
  assert.equal(back.length, 1, 'the first frame was read out');
  assert.equal(back[0], a.buffer);
  assert.ok(out.subarray(0, 10000).every((x) => x === 1));
  assert.ok(out.subarray(10000).every((x) => x === 2));
  q.consume(20000);
  assert.deepEqual(back, [a.buffer, b.buffer]);
  // Given back once: a later drop (a stray holder) does nothing.
  dropFrame(a.buffer);
  assert.equal(back.length, 2);
});

it('two pieces of one frame: it goes back after both were read', () => {
  const back: ArrayBuffer[] = [];
  const q = new RecvQueue(1 << 20);
  // Halves of a frame with no room to spare (a piece is kept when it is at least half of its
  // buffer), as data taken in two runs would arrive.
  const p = new Uint8Array(60000).fill(7);
  lendFrame(p, (b) => back.push(b));
  q.push(p.subarray(0, 30000));
  q.push(p.subarray(30000));
  q.consume(30000);
  assert.equal(back.length, 0, 'the second half is still queued');
  q.consume(30000);
  assert.equal(back.length, 1);
});

it('copied pieces, frames nobody lent, and a cleared queue: nothing goes back', () => {
  const back: ArrayBuffer[] = [];
  const q = new RecvQueue(1 << 20);
  // 500 bytes of a 64 KiB frame: copied into the queue's own buffer, the frame not kept.
  q.push(lent(500, 3, back));
  const plain = new Uint8Array(65536).subarray(66, 60066);
  q.push(plain);
  q.consume(q.length);
  assert.equal(back.length, 0);
  // Held elsewhere too (another holder counting itself): not back until that one drops it.
  const held = lent(60000, 4, back);
  holdFrame(held.buffer);
  q.push(held);
  q.consume(60000);
  assert.equal(back.length, 0, 'the other holder still has it');
  dropFrame(held.buffer);
  assert.equal(back.length, 1);
  // Unread when the connection goes: left to the garbage collector.
  q.push(lent(60000, 5, back));
  q.clear();
  assert.equal(back.length, 1);
});
