/**
 * Frame buffers for the transmit path. A fresh ArrayBuffer per frame costs a native
 * allocation and its GC bookkeeping (a few µs each, more than building the frame);
 * small frames are therefore carved out of shared slabs, as Node's Buffer pool does
 * for small Buffers. Each frame is its own Uint8Array view (its own byteOffset), and a
 * slab is never reused: it is freed when no frame in it is referenced any more.
 *
 * Cost of sharing: a frame kept long (a queue, an out-of-order segment) keeps its whole
 * slab alive, at most SLAB_SIZE bytes. Frames above MAX_POOLED get their own buffer, which
 * a device may hand back with `releaseFrame` once it is done with it (a stream link does,
 * when its write completed): a bulk transfer at a 64 KiB MTU then reuses a few buffers
 * instead of allocating one per segment, whose garbage collection cost the gateway a third
 * of its time in a guest download.
 */

import { unmarkSuperSegment } from '../wire/gso.ts';

/**
 * Bytes per slab. Each new ArrayBuffer costs a few µs whatever its size up to 64 KiB (its
 * native allocation, the external-memory bookkeeping, the collections it brings on), so 64 KiB
 * slabs (43 full-sized frames each) cost half what 16 KiB ones did per frame (bulk at MTU 1500:
 * ~180 ns against ~370 ns; larger slabs gain nothing more). Receivers copy small pieces out of
 * their frames (RecvQueue, ReassemblyQueue), so a slab is not pinned by a few held bytes.
 */
const SLAB_SIZE = 64 * 1024;
/** Largest frame carved from a slab (a 1500-byte-MTU Ethernet frame fits). */
const MAX_POOLED = 2048;

let slab = new ArrayBuffer(0);
let used = 0;

/**
 * A zero-filled buffer of `length` bytes for a frame the caller fills and then hands to
 * a device (which takes ownership, as with any frame). Starts on an 8-byte boundary, so
 * alignment-sensitive code (the checksum's word loop) sees the same offsets as in a
 * buffer of its own. `writtenFrom`: the caller writes every byte from this offset to the
 * end itself (a payload copy), so a reused buffer need not be zeroed there.
 */
export function allocFrame(length: number, writtenFrom = length): Uint8Array {
  if (length > MAX_POOLED) return allocBig(length, writtenFrom);
  if (used + length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    used = 0;
  }
  const frame = new Uint8Array(slab, used, length);
  used = (used + length + 7) & ~7;
  return frame;
}

/**
 * As `allocFrame`, but the frame is all of a buffer of its own whatever its size (what a
 * TCP super-segment needs: its gso size is recorded by its buffer, see markSuperSegment).
 */
export function allocOwnFrame(length: number, writtenFrom = length): Uint8Array {
  return allocBig(length, writtenFrom);
}

/** Bytes of released big buffers kept at most (beyond it they go to the garbage collector). */
const BIG_KEPT_MAX = 8 * 1024 * 1024;
const bigFree = new Map<number, ArrayBuffer[]>();
let bigKept = 0;

/**
 * A big frame: a released buffer of exactly this size (a bulk transfer's segments are all
 * one size), else a new one. Each big frame is all of its buffer, so a link may transfer
 * the buffer (message-port.ts).
 */
function allocBig(length: number, writtenFrom: number): Uint8Array {
  const list = bigFree.get(length);
  const buf = list?.pop();
  if (buf === undefined) return new Uint8Array(length);
  if (list!.length === 0) bigFree.delete(length);
  bigKept -= length;
  const frame = new Uint8Array(buf);
  // Callers get a zero-filled frame, as from a fresh buffer, up to where they write it all.
  frame.fill(0, 0, Math.min(Math.max(writtenFrom, 0), length));
  return frame;
}

/**
 * Hands a frame's buffer back for reuse, under one ownership rule: only the device that
 * finally consumed a transmitted frame's bytes (wrote them to a file descriptor, copied
 * them into a ring) may release it, and only once nothing refers to it. `transmit` hands
 * ownership over and a wrapping device (capture, impairment) is done with the frame before
 * it passes it on, so that device holds the only reference. Received frames are never
 * released: receive by reference keeps views of them until the application reads them.
 * Only frames that are all of their buffer are taken (`allocFrame`'s big frames,
 * `allocOwnFrame`'s); small frames (carved from shared slabs) and views into larger
 * buffers are left to the garbage collector.
 */
export function releaseFrame(frame: Uint8Array): void {
  const buf = frame.buffer;
  if (frame.byteOffset !== 0 || !(buf instanceof ArrayBuffer) || frame.byteLength !== buf.byteLength) return;
  const size = buf.byteLength;
  if (size <= MAX_POOLED) return;
  // Over the budget: buffers of other sizes go first (a bulk sender's sizes change with its
  // window; the size just released is the one in use), then this one is dropped.
  if (bigKept + size > BIG_KEPT_MAX) {
    for (const [other, list] of bigFree) {
      if (other === size) continue;
      while (list.length > 0 && bigKept + size > BIG_KEPT_MAX) {
        list.pop();
        bigKept -= other;
      }
      if (list.length === 0) bigFree.delete(other);
      if (bigKept + size <= BIG_KEPT_MAX) break;
    }
    if (bigKept + size > BIG_KEPT_MAX) return;
  }
  // A super-segment's gso size is recorded by its buffer: the next frame in it is not one.
  unmarkSuperSegment(frame);
  let list = bigFree.get(size);
  if (list === undefined) {
    list = [];
    bigFree.set(size, list);
  }
  list.push(buf);
  bigKept += size;
}
