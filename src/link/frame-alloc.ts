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

/** Bytes per slab. */
const SLAB_SIZE = 16 * 1024;
/** Largest frame carved from a slab (a 1500-byte-MTU Ethernet frame fits). */
const MAX_POOLED = 2048;

let slab = new ArrayBuffer(0);
let used = 0;

/**
 * A zero-filled buffer of `length` bytes for a frame the caller fills and then hands to
 * a device (which takes ownership, as with any frame). Starts on an 8-byte boundary, so
 * alignment-sensitive code (the checksum's word loop) sees the same offsets as in a
 * buffer of its own.
 */
export function allocFrame(length: number): Uint8Array {
  if (length > MAX_POOLED) return allocBig(length);
  if (used + length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    used = 0;
  }
  const frame = new Uint8Array(slab, used, length);
  used = (used + length + 7) & ~7;
  return frame;
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
function allocBig(length: number): Uint8Array {
  const list = bigFree.get(length);
  const buf = list?.pop();
  if (buf === undefined) return new Uint8Array(length);
  if (list!.length === 0) bigFree.delete(length);
  bigKept -= length;
  const frame = new Uint8Array(buf);
  frame.fill(0); // callers get a zero-filled frame, as from a fresh buffer
  return frame;
}

/**
 * Hands a frame's buffer back for reuse. Only for a frame from `allocFrame` that nothing
 * references any more (the device that owned it has finished with it); small frames
 * (carved from shared slabs) and frames of other origins are left alone.
 */
export function releaseFrame(frame: Uint8Array): void {
  const buf = frame.buffer;
  if (frame.byteOffset !== 0 || !(buf instanceof ArrayBuffer) || frame.byteLength !== buf.byteLength) return;
  const size = buf.byteLength;
  if (size <= MAX_POOLED || bigKept + size > BIG_KEPT_MAX) return;
  let list = bigFree.get(size);
  if (list === undefined) {
    list = [];
    bigFree.set(size, list);
  }
  list.push(buf);
  bigKept += size;
}
