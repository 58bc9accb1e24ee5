import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocFrame, allocOwnFrame, releaseFrame } from '../../src/link/frame-alloc.ts';
import { markSuperSegment, superSegmentGsoSize } from '../../src/wire/gso.ts';

describe('frame buffers (allocFrame / releaseFrame)', () => {
  it('reuses a released big frame of the same size, zero-filled', () => {
    const a = allocFrame(65534);
    a.fill(0xab);
    releaseFrame(a);
    const b = allocFrame(65534);
    assert.equal(b.buffer, a.buffer, 'the same buffer comes back');
    assert.equal(b.length, 65534);
    assert.equal(b.byteOffset, 0);
    assert.equal(b.byteLength, b.buffer.byteLength, 'a big frame is all of its buffer');
    assert.ok(
      b.every((v) => v === 0),
      'zero-filled, as a fresh frame',
    );
    const c = allocFrame(65534);
    assert.notEqual(c.buffer, a.buffer, 'handed out once');
  });

  it('does not reuse across sizes, nor small frames, nor views into a larger buffer', () => {
    const a = allocFrame(9014);
    releaseFrame(a);
    assert.notEqual(allocFrame(9000).buffer, a.buffer);
    assert.equal(allocFrame(9014).buffer, a.buffer);
    const small = allocFrame(60);
    releaseFrame(small); // carved from a shared slab: ignored
    const view = new Uint8Array(new ArrayBuffer(70000), 8, 60000);
    releaseFrame(view);
    assert.notEqual(allocFrame(60000).buffer, view.buffer);
  });

  it('keeps at most 8 MiB of released buffers', () => {
    const size = 65536 + 12; // a size no other test uses
    const frames = Array.from({ length: 200 }, () => allocFrame(size));
    for (const f of frames) releaseFrame(f);
    const buffers = new Set(frames.map((f) => f.buffer));
    let reused = 0;
    for (let i = 0; i < 200; i++) if (buffers.has(allocFrame(size).buffer)) reused++;
    assert.ok(reused > 0 && reused <= Math.floor((8 << 20) / size), `reused ${reused}`);
  });

  it('zeroes a reused buffer only before `writtenFrom` (the caller writes the rest)', () => {
    const size = 65536 + 20; // a size no other test uses
    const a = allocFrame(size);
    a.fill(0xab);
    releaseFrame(a);
    const b = allocFrame(size, 100);
    assert.equal(b.buffer, a.buffer);
    assert.ok(
      b.subarray(0, 100).every((v) => v === 0),
      'the header part is zero-filled',
    );
  });

  it('allocOwnFrame gives a small frame a buffer of its own, which can be released and reused', () => {
    const a = allocOwnFrame(300);
    assert.equal(a.byteOffset, 0);
    assert.equal(a.byteLength, a.buffer.byteLength);
    releaseFrame(a); // at most 2048 bytes: left to the garbage collector
    assert.notEqual(allocOwnFrame(300).buffer, a.buffer);
  });

  it('a released super-segment buffer comes back with no gso size recorded', () => {
    const size = 65536 + 24;
    const a = allocOwnFrame(size);
    markSuperSegment(a, 1448);
    assert.equal(superSegmentGsoSize(a), 1448);
    releaseFrame(a);
    const b = allocFrame(size);
    assert.equal(b.buffer, a.buffer);
    assert.equal(superSegmentGsoSize(b), 0, 'the next frame in that buffer is not a super-segment');
  });

  it('over its budget the pool drops buffers of other sizes before the one just released', () => {
    const a = 65536 + 28; // sizes no other test uses
    const b = 65536 + 32;
    const many = Array.from({ length: 200 }, () => allocFrame(a));
    for (const f of many) releaseFrame(f); // fills the 8 MiB budget with size a
    const one = allocFrame(b);
    releaseFrame(one);
    assert.equal(allocFrame(b).buffer, one.buffer, 'the size in use now is kept');
    const again = allocFrame(a);
    assert.ok(
      many.some((f) => f.buffer === again.buffer),
      'buffers of the older size are still there, fewer',
    );
  });
});
