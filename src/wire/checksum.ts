/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
 * complement sum of the data taken as big-endian 16-bit words.
 *
 * Terms used here:
 * - a *partial sum* is an unfolded running total of 16-bit words (a non-negative
 *   integer that may exceed 0xffff). Partial sums chain: checksum the pseudo-header,
 *   then the header, then the payload, passing the sum along, without copying.
 *   Only the last chunk in a chain may have an odd length (RFC 1071 pads the final
 *   odd byte with a zero low octet).
 * - `foldChecksum(sum)` folds carries back in (end-around carry) to 16 bits.
 * - the *checksum* is `~fold(sum) & 0xffff`, what goes into a header field.
 *
 * Speed: RFC 1071 §2(B) notes the sum is byte-order independent, so we add
 * little-endian 32-bit words (native order on every engine we target) and byte-swap
 * the folded result once. A 32-bit word w = lo16 + hi16 * 2^16, and 2^16 ≡ 1 in
 * one's complement (mod 0xffff) arithmetic, so summing whole 32-bit words and
 * folding is the same as summing their 16-bit halves. A JS number holds integers
 * exactly to 2^53, so up to 2^21 words can be added before folding.
 */
import type { Ipv4Address } from './address.ts';

/** Words (4 bytes each) added before the accumulator is folded: far below 2^21. */
const FOLD_EVERY_WORDS = 1 << 18;

/** Folds a (possibly huge) partial sum to at most 0x1fffe, exactly preserving the one's complement value. */
function reduce(sum: number): number {
  // `& 0xffff` is exact for integers below 2^53 (ToInt32 is modulo 2^32).
  while (sum > 0x1ffff) sum = Math.floor(sum / 65536) + (sum & 0xffff);
  return sum;
}

/** Folds carries into 16 bits (the one's complement sum, not yet complemented). */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = Math.floor(sum / 65536) + (sum & 0xffff);
  return sum;
}

/** The header field value for a partial sum: one's complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldChecksum(sum) & 0xffff;
}

/** Inputs shorter than this are summed byte by byte (faster below ~200 bytes). */
const SHORT_INPUT = 128;
/** Inputs of at least this many 32-bit words get a view of their own (see checksumPartial). */
const OWN_VIEW_WORDS = 1024;

let viewedBuffer: ArrayBufferLike | undefined;
let viewedWords: Uint32Array = new Uint32Array(0);

/** A Uint32Array over the whole of `buffer` (its trailing 0..3 bytes are not covered). */
function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  if (buffer !== viewedBuffer || viewedWords.length !== buffer.byteLength >>> 2) {
    viewedWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    viewedBuffer = buffer;
  }
  return viewedWords;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Swaps the two bytes of a 16-bit value. */
function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/**
 * The SIMD sum (WebAssembly, ours, hand-assembled; 183 bytes). Its one export `s(p, to)` adds
 * the bytes of its memory from p (64-byte aligned) to `to` as little-endian 16-bit words: it
 * first stores 64 zero bytes at `to` (so the last block is padded, an odd last byte as RFC 1071
 * pads it), then per 64 bytes makes four 16-byte loads, i32x4.extadd_pairwise_i16x8_u each
 * (eight words to four 32-bit lanes), added into one i32x4 accumulator; it returns the lanes'
 * sum (mod 2^32). A lane gains at most 4 * 0x1fffe per 64 bytes, so a 64 KiB call stays below
 * 2^29 per lane and 2^31 in all: exact as an unsigned 32-bit result. WebAssembly reads only
 * its own memory, so the bytes are copied in first; a memory copy runs ~10x faster than the
 * JS word loop, so copy plus SIMD sum is ~3x faster than the word loop at 1500 bytes
 * (bench/checksum.ts; summing during the copy in JS is slower still).
 */
const SIMD_MODULE =
  'AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBAAIHCQIBbQIAAXMAAAqPAQGMAQEBeyABIAL9CwAAIAEgAv0LABAgASAC/QsAICABIAL9CwAwIAFBP2pBQHEhAQJAA0AgACABTw0BIAIgAP0AAAD9fyAA/QAAEP1//a4BIAD9AAAg/X8gAP0AADD9f/2uAf2uAf2uASECIABBwABqIQAMAAsLIAL9GwAgAv0bAWogAv0bAmogAv0bA2oL';
/** Bytes per call of the SIMD sum at most; even, so word parity is kept. Its memory is two pages. */
const SIMD_CHUNK = 65536;
type SimdSum = { s: (p: number, to: number) => number; mem: Uint8Array };
/** The instance (made on first use; null: this engine cannot) and whether it is in use. */
let simdInstance: SimdSum | null | undefined;
let simd: SimdSum | undefined;

/**
 * Turns the WebAssembly SIMD sum on (where the engine has WebAssembly with SIMD) or off (the
 * JS word loop, as in an engine without it); returns whether it is on. Tests run both paths.
 */
export function useSimdChecksum(on: boolean): boolean {
  if (on && simdInstance === undefined) {
    simdInstance = null;
    try {
      const code = Uint8Array.from(atob(SIMD_MODULE), (c) => c.charCodeAt(0));
      const { s, m } = new WebAssembly.Instance(new WebAssembly.Module(code)).exports as {
        s: SimdSum['s'];
        m: WebAssembly.Memory;
      };
      simdInstance = { s, mem: new Uint8Array(m.buffer) };
    } catch {
      // No WebAssembly, no SIMD in this engine, or compilation refused (a CSP): the JS word loop.
    }
  }
  simd = on ? (simdInstance ?? undefined) : undefined;
  return simd !== undefined;
}
useSimdChecksum(true);

/**
 * The little-endian 16-bit word sum of bytes[start..end) (not empty) through the SIMD module;
 * unfolded. The range is copied so that `start` lands on a 64-byte boundary of the module's
 * memory: a frame that fits is copied whole (its headers too, but no view is made),
 * a longer range in 64 KiB pieces.
 */
function simdSum(bytes: Uint8Array, start: number, end: number): number {
  const { s, mem } = simd!;
  const whole = (64 - (start & 63)) & 63;
  // (Whole only when little else is in it: a short range of a big buffer is copied alone.)
  // 64 KiB at most per call keeps the lanes exact (see SIMD_MODULE); the memory is 128 KiB.
  if (end - start <= SIMD_CHUNK && bytes.length - (end - start) <= 512) {
    mem.set(bytes, whole);
    return s(whole + start, whole + end) >>> 0;
  }
  let le = 0;
  for (let i = start; i < end; i += SIMD_CHUNK) {
    const n = Math.min(SIMD_CHUNK, end - i);
    mem.set(bytes.subarray(i, i + n));
    le += s(0, n) >>> 0;
  }
  return le;
}

/**
 * Sums `bytes` as big-endian 16-bit words onto `sum` and returns the new partial
 * sum (unfolded, kept small enough to chain indefinitely).
 */
export function checksumPartial(bytes: Uint8Array, sum: number): number {
  const len = bytes.length;
  // Short inputs (pseudo-headers, headers, small segments): a byte loop is faster than
  // setting up a word view for so few words.
  if (len < SHORT_INPUT) return reduce(sum + shortSum(bytes, 0, len));
  if (simd !== undefined) return reduce(sum + swap16(foldChecksum(simdSum(bytes, 0, len))));
  // Sum little-endian 32-bit words; the folded result is the byte swap of the
  // big-endian sum (RFC 1071 §2(B)). Aligned buffers (the common case: whole
  // frames) are read through a Uint32Array, which is native order: little-endian
  // on every engine in practice; a big-endian host needs no swap at all.
  let le = 0;
  let i = 0;
  let end4 = len & ~3;
  let align = bytes.byteOffset & 3;
  if (align === 2) {
    // Two bytes past a word boundary (a TCP/UDP header after Ethernet + IPv4 headers:
    // 14 + 20 = 34): take the first 16-bit word on its own, then the rest is aligned.
    // A whole 16-bit word keeps every later word's byte order, so nothing else changes.
    sum += (bytes[0] << 8) | bytes[1];
    i = 2;
    end4 = 2 + ((len - 2) & ~3);
    align = 0;
  }
  if (align === 0) {
    const count = (end4 - i) >>> 2;
    let words: Uint32Array;
    let w: number;
    let n: number;
    if (count >= OWN_VIEW_WORDS) {
      // A long input gets a view of its own: the loop then ends at the view's length, and
      // the engine drops the bounds check from every read.
      words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, count);
      w = 0;
      n = count;
    } else {
      // One word view per buffer, kept for the next call: frames are carved from shared
      // slabs (link/frame-alloc.ts), so consecutive checksums mostly read the same buffer.
      words = wordsOf(bytes.buffer);
      w = (bytes.byteOffset + i) >>> 2;
      n = w + count;
    }
    while (w < n) {
      const stop = Math.min(n, w + FOLD_EVERY_WORDS);
      let acc = 0;
      for (; w + 4 <= stop; w += 4) acc += words[w] + words[w + 1] + words[w + 2] + words[w + 3];
      for (; w < stop; w++) acc += words[w];
      le = reduce(le + acc);
    }
    i = end4;
    if (!HOST_LITTLE_ENDIAN) {
      let s = foldChecksum(le);
      if (i + 1 < len) s += (bytes[i] << 8) | bytes[i + 1];
      else if (i < len) s += bytes[i] << 8;
      if (i + 2 < len) s += bytes[i + 2] << 8;
      return reduce(sum + s);
    }
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
    while (i < end4) {
      const stop = Math.min(end4, i + FOLD_EVERY_WORDS * 4);
      let acc = 0;
      // Unrolled by 4 words (16 bytes).
      for (; i + 16 <= stop; i += 16) {
        acc +=
          dv.getUint32(i, true) +
          dv.getUint32(i + 4, true) +
          dv.getUint32(i + 8, true) +
          dv.getUint32(i + 12, true);
      }
      for (; i < stop; i += 4) acc += dv.getUint32(i, true);
      le = reduce(le + acc);
    }
  }
  // Trailing 0..3 bytes, in little-endian 16-bit word order.
  if (i + 1 < len) {
    le += bytes[i] | (bytes[i + 1] << 8);
    i += 2;
  }
  if (i < len) le += bytes[i];
  return reduce(sum + swap16(foldChecksum(le)));
}

/**
 * The Internet checksum of `bytes[start..end)` (header field value), starting from partial
 * sum `initial`. A short range is summed in place (no view of it is made); a long one goes
 * through checksumPartial's word loop.
 */
export function internetChecksumRange(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  if (end - start >= SHORT_INPUT) {
    if (simd !== undefined)
      return finishChecksum(reduce(initial + swap16(foldChecksum(simdSum(bytes, start, end)))));
    return finishChecksum(checksumPartial(bytes.subarray(start, end), initial));
  }
  return finishChecksum(reduce(initial + shortSum(bytes, start, end)));
}

/** The big-endian 16-bit words of bytes[start..end) summed byte by byte (a short range). */
function shortSum(bytes: Uint8Array, start: number, end: number): number {
  let s = 0;
  let i = start;
  for (; i + 7 < end; i += 8) {
    s +=
      ((bytes[i] << 8) | bytes[i + 1]) +
      ((bytes[i + 2] << 8) | bytes[i + 3]) +
      ((bytes[i + 4] << 8) | bytes[i + 5]) +
      ((bytes[i + 6] << 8) | bytes[i + 7]);
  }
  for (; i + 1 < end; i += 2) s += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) s += bytes[i] << 8;
  return s;
}

/** The Internet checksum of `bytes` (header field value), starting from partial sum `initial`. */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return finishChecksum(checksumPartial(bytes, initial));
}

/**
 * Partial sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): source, destination,
 * zero, protocol, and the transport length (header + data).
 */
export function pseudoHeaderSumV4(
  src: Ipv4Address,
  dst: Ipv4Address,
  protocol: number,
  length: number,
): number {
  return (
    (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff)
  );
}

/**
 * Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): 16-byte source and
 * destination, 32-bit upper-layer length, 24 zero bits and the next header.
 */
export function pseudoHeaderSumV6(
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  length: number,
): number {
  let s = 0;
  for (let i = 0; i < 16; i += 2) {
    s += ((src[i] << 8) | src[i + 1]) + ((dst[i] << 8) | dst[i + 1]);
  }
  return s + Math.floor(length / 65536) + (length & 0xffff) + (nextHeader & 0xff);
}

/**
 * Incremental update of a checksum field when one 16-bit word of the covered data
 * changes from `oldWord` to `newWord` (RFC 1624 Eqn. 3: HC' = ~(~HC + ~m + m')).
 */
export function checksumUpdate16(oldCsum: number, oldWord: number, newWord: number): number {
  const s = (~oldCsum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldChecksum(s) & 0xffff;
}

/**
 * As checksumUpdate16 for an aligned 32-bit field (an IPv4 address, a sequence
 * number): both halves updated at once.
 */
export function checksumUpdate32(oldCsum: number, oldValue: number, newValue: number): number {
  const s =
    (~oldCsum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    ((newValue >>> 16) & 0xffff) +
    (newValue & 0xffff);
  return ~foldChecksum(s) & 0xffff;
}
