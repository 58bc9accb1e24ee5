/**
 * Frame buffers for the transmit path. A fresh ArrayBuffer per frame costs a native
 * allocation and its GC bookkeeping (a few µs each, more than building the frame);
 * small frames are therefore carved out of shared slabs, as Node's Buffer pool does
 * for small Buffers. Each frame is its own Uint8Array view (its own byteOffset), and a
 * slab is never reused: it is freed when no frame in it is referenced any more.
 *
 * Cost of sharing: a frame kept long (a queue, an out-of-order segment) keeps its whole
 * slab alive, at most SLAB_SIZE bytes. Frames above MAX_POOLED get their own buffer.
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
  if (length > MAX_POOLED) return new Uint8Array(length);
  if (used + length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    used = 0;
  }
  const frame = new Uint8Array(slab, used, length);
  used = (used + length + 7) & ~7;
  return frame;
}
