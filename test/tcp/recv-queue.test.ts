/**
 * The receive queue (src/tcp/recv-queue.ts): large pieces owning their frame's buffer are kept
 * by reference and charged at the buffer's true size; small pieces (or pieces of a shared
 * buffer) are copied, so they never pin a big frame; reads copy once and give every byte back
 * in order; the account gets back exactly what it was charged.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import type { MemoryAccount } from '../../src/tcp/memory.ts';
import { RecvQueue } from '../../src/tcp/recv-queue.ts';
import { allocRunFrame, RUN_BUFFER, recycleRunFrame } from '../../src/wire/gso.ts';

class Account implements MemoryAccount {
  inUse = 0;
  available = Number.POSITIVE_INFINITY;
  charge(n: number): void {
    this.inUse += n;
  }
  credit(n: number): void {
    this.inUse -= n;
    assert.ok(this.inUse >= 0, 'never credited more than charged');
  }
}

/** A "frame": `head` bytes of headers, then `n` payload bytes from `from`; returns the payload view. */
function framePayload(n: number, from: number, head = 66): Uint8Array {
  const frame = new Uint8Array(head + n);
  for (let i = 0; i < n; i++) frame[head + i] = (from + i) & 0xff;
  return frame.subarray(head);
}

it('keeps a large piece that owns its frame by reference, charged at the frame size; copies small ones', () => {
  const acc = new Account();
  const q = new RecvQueue(1 << 20, acc);
  const big = framePayload(60_000, 0);
  assert.equal(q.push(big, true), 60_000);
  assert.equal(acc.inUse, 60_066, 'the whole frame is charged (truesize)');
  assert.equal(q.peek(0, 100, new Uint8Array(100)).buffer, big.buffer, 'a view of the frame, not a copy');
  const small = framePayload(100, 60_000);
  q.push(small, true);
  assert.notEqual(q.peek(60_000, 100, new Uint8Array(100)).buffer, small.buffer, 'a small piece is copied');
  assert.equal(acc.inUse, 60_166);
  // A big piece of a shared buffer (a batch of frames, a slab) is copied too.
  const shared = new Uint8Array(1 << 20).subarray(5000, 9000);
  q.push(shared, true);
  assert.notEqual(q.peek(60_100, 10, new Uint8Array(10)).buffer, shared.buffer);
  assert.equal(q.charged, acc.inUse);
  assert.equal(q.length, 64_100);
  // Reading all of the kept frame gives its charge back.
  const out = new Uint8Array(60_000);
  assert.equal(q.takeInto(out), 60_000);
  assert.deepEqual(out, big);
  assert.equal(acc.inUse, 4100);
  q.clear();
  assert.equal(acc.inUse, 0);
  assert.equal(q.length, 0);
});

it('random pushes, peeks and reads give back every byte in order and the account balances', () => {
  for (const seed of [1, 2, 3, 4]) {
    const rng = new SeededRng(seed);
    const acc = new Account();
    const q = new RecvQueue(200_000, acc);
    let written = 0;
    let read = 0;
    for (let step = 0; step < 3000; step++) {
      const k = rng.below(3);
      if (k === 0) {
        const n = rng.below(3) === 0 ? 1 + rng.below(40) : 1 + rng.below(9000);
        const head = rng.below(2) === 0 ? 66 : 20_000; // sometimes a piece of a much larger buffer
        const got = q.push(framePayload(n, written, head));
        written += got;
        assert.ok(q.length <= 200_000);
      } else if (k === 1 && q.length > 0) {
        const off = rng.below(q.length);
        const len = 1 + rng.below(Math.min(5000, q.length - off));
        const v = q.peek(off, len, new Uint8Array(len));
        assert.equal(v.length, len);
        for (let i = 0; i < len; i += 97) assert.equal(v[i], (read + off + i) & 0xff, `seed ${seed} peek`);
      } else {
        let out: Uint8Array;
        let n: number;
        if (rng.below(2) === 0) {
          out = q.take(1 + rng.below(12_000));
          n = out.length;
        } else {
          out = new Uint8Array(1 + rng.below(12_000));
          n = q.takeInto(out);
        }
        for (let i = 0; i < n; i++) assert.equal(out[i], (read + i) & 0xff, `seed ${seed} step ${step}`);
        read += n;
      }
      assert.equal(q.length, written - read);
      assert.equal(q.charged, acc.inUse);
    }
    const rest = q.take(q.length);
    for (let i = 0; i < rest.length; i++) assert.equal(rest[i], (read + i) & 0xff);
    assert.equal(acc.inUse, 0, `seed ${seed}: everything credited`);
  }
});

it('trim: an empty queue lets go of its storage and fills again; one holding bytes keeps them', () => {
  const acct = new Account();
  const q = new RecvQueue(1 << 20, acct);
  q.push(framePayload(10, 0));
  q.trim(); // holds bytes: nothing happens
  assert.equal(q.length, 10);
  assert.deepEqual([...q.take(10)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  q.trim();
  assert.equal(q.length, 0);
  assert.equal(acct.inUse, 0);
  q.push(framePayload(5, 20));
  q.push(framePayload(2000, 25));
  assert.equal(q.length, 2005);
  const out = new Uint8Array(2005);
  assert.equal(q.takeInto(out), 2005);
  for (let i = 0; i < 2005; i++) assert.equal(out[i], (20 + i) & 0xff);
  assert.equal(acct.inUse, 0);
});

/** A GRO run's frame in a run buffer (allocRunFrame): `head` header bytes, then `n` payload bytes from `from`. */
function runPayload(n: number, from: number, head = 66): Uint8Array {
  const frame = allocRunFrame(head + n);
  for (let i = 0; i < n; i++) frame[head + i] = (from + i) & 0xff;
  return frame.subarray(head);
}

it("hands a GRO run's buffer back once its sole piece is read through, never a shared or foreign one", () => {
  const account = new Account();
  const q = new RecvQueue(1 << 20, account);
  const n = 60_000;
  const sole = runPayload(n, 0);
  assert.equal(sole.buffer.byteLength, RUN_BUFFER);
  assert.equal(q.push(sole, true, true), n);
  assert.equal(account.inUse, RUN_BUFFER, 'charged its whole buffer, as a kept frame');
  // Half read: still held, so the next run gets another buffer.
  const out = new Uint8Array(n);
  assert.equal(q.takeInto(out.subarray(0, 1000)), 1000);
  const other = allocRunFrame(100);
  assert.notEqual(other.buffer, sole.buffer);
  recycleRunFrame(other);
  // Read through: the buffer goes back and is the next one handed out (after `other`).
  assert.equal(q.takeInto(out.subarray(1000)), n - 1000);
  for (let i = 0; i < n; i++) assert.equal(out[i], i & 0xff);
  assert.equal(account.inUse, 0);
  const again = [allocRunFrame(10), allocRunFrame(10)];
  assert.ok(again.some((f) => f.buffer === sole.buffer));
  // Handed back twice by mistake: it is in the pool once (two allocations, two buffers).
  recycleRunFrame(again[0]);
  recycleRunFrame(again[0]);
  recycleRunFrame(again[1]);
  const x = allocRunFrame(10);
  const y = allocRunFrame(10);
  const z = allocRunFrame(10);
  assert.equal(new Set([x.buffer, y.buffer, z.buffer]).size, 3);

  // A piece that is not the segment's only reference (reassembled) is never handed back, nor
  // is a frame of another allocator pushed as sole.
  const shared = runPayload(n, 0);
  q.push(shared, true, false);
  const foreign = framePayload(n, 0);
  q.push(foreign, true, true);
  assert.equal(q.takeInto(new Uint8Array(2 * n)), 2 * n);
  const fresh = Array.from({ length: 20 }, () => allocRunFrame(10));
  assert.ok(!fresh.some((f) => f.buffer === shared.buffer || f.buffer === foreign.buffer));
  assert.equal(account.inUse, 0);
});

it("hands a short GRO run's buffer back as soon as its bytes are copied in, never a shared one", () => {
  const account = new Account();
  const q = new RecvQueue(1 << 20, account);
  // Three segments of 1448: under half of a run buffer, so the queue copies them.
  const n = 3 * 1448;
  const short = runPayload(n, 7);
  assert.equal(q.push(short, true, true), n);
  assert.equal(account.inUse, n, 'charged its bytes: a copy, not the frame');
  // Back in the pool already: the next run is built in it, and the queued bytes stay as they came.
  const next = allocRunFrame(100);
  assert.equal(next.buffer, short.buffer);
  next.fill(0xee);
  const out = new Uint8Array(n);
  assert.equal(q.takeInto(out), n);
  for (let i = 0; i < n; i++) assert.equal(out[i], (7 + i) & 0xff);
  recycleRunFrame(next);
  // Not the segment's only reference (reassembled data): copied, but the buffer stays out.
  const shared = runPayload(n, 0);
  q.push(shared, true, false);
  const fresh = Array.from({ length: 20 }, () => allocRunFrame(10));
  assert.ok(!fresh.some((f) => f.buffer === shared.buffer));
  assert.equal(q.takeInto(new Uint8Array(n)), n);
  assert.equal(account.inUse, 0);
});
