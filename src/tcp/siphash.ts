/**
 * SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012)
 * with 32-bit operations: each 64-bit word is a (hi, lo) pair of unsigned
 * 32-bit numbers, so no BigInt and no allocation on the hot path.
 */

/** A 128-bit key split into 32-bit little-endian words: k0 = (k0hi:k0lo), k1 = (k1hi:k1lo). */
export interface SipKey {
  readonly k0lo: number;
  readonly k0hi: number;
  readonly k1lo: number;
  readonly k1hi: number;
}

const le32 = (b: Uint8Array, i: number): number =>
  (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;

/** Reads a key from 16 bytes (k0 = bytes 0..7 little-endian, k1 = bytes 8..15). */
export function sipKey(bytes: Uint8Array): SipKey {
  if (bytes.length !== 16) throw new RangeError('SipHash key must be 16 bytes');
  return { k0lo: le32(bytes, 0), k0hi: le32(bytes, 4), k1lo: le32(bytes, 8), k1hi: le32(bytes, 12) };
}

/**
 * SipHash-2-4 of `data[start, end)` under `key`. Writes the 64-bit result into
 * `out` as [lo, hi] (the little-endian 64-bit value) and returns `out`.
 */
export function siphash24(
  key: SipKey,
  data: Uint8Array,
  out: Uint32Array = new Uint32Array(2),
  start = 0,
  end = data.length,
): Uint32Array {
  // "somepseudorandomlygeneratedbytes". Rounds are written out (generated) with the
  // state in locals: about 10x faster than module-level state or a round function.
  let v0h = (key.k0hi ^ 0x736f6d65) >>> 0;
  let v0l = (key.k0lo ^ 0x70736575) >>> 0;
  let v1h = (key.k1hi ^ 0x646f7261) >>> 0;
  let v1l = (key.k1lo ^ 0x6e646f6d) >>> 0;
  let v2h = (key.k0hi ^ 0x6c796765) >>> 0;
  let v2l = (key.k0lo ^ 0x6e657261) >>> 0;
  let v3h = (key.k1hi ^ 0x74656462) >>> 0;
  let v3l = (key.k1lo ^ 0x79746573) >>> 0;
  let t = 0;
  const len = end - start;
  const whole = start + (len & ~7);
  let i = start;
  let mh = 0;
  let ml = 0;
  let last = false;
  for (;;) {
    if (i < whole) {
      ml = le32(data, i);
      mh = le32(data, i + 4);
      i += 8;
    } else {
      // Last block: remaining bytes, length mod 256 in the top byte.
      last = true;
      ml = 0;
      mh = (len & 0xff) << 24;
      const rem = end - i;
      for (let j = 0; j < rem; j++) {
        if (j < 4) ml |= data[i + j] << (8 * j);
        else mh |= data[i + j] << (8 * (j - 4));
      }
      ml >>>= 0;
      mh >>>= 0;
    }
    v3h = (v3h ^ mh) >>> 0;
    v3l = (v3l ^ ml) >>> 0;
    // c = 2 SipRounds per block
    for (let r = 0; r < 2; r++) {
      t = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (t < v0l ? 1 : 0)) >>> 0;
      v0l = t;
      t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      v1l = (((v1l << 13) | (v1h >>> 19)) ^ v0l) >>> 0;
      v1h = (t ^ v0h) >>> 0;
      t = v0h;
      v0h = v0l;
      v0l = t;
      t = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (t < v2l ? 1 : 0)) >>> 0;
      v2l = t;
      t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      v3l = (((v3l << 16) | (v3h >>> 16)) ^ v2l) >>> 0;
      v3h = (t ^ v2h) >>> 0;
      t = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (t < v0l ? 1 : 0)) >>> 0;
      v0l = t;
      t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      v3l = (((v3l << 21) | (v3h >>> 11)) ^ v0l) >>> 0;
      v3h = (t ^ v0h) >>> 0;
      t = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (t < v2l ? 1 : 0)) >>> 0;
      v2l = t;
      t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      v1l = (((v1l << 17) | (v1h >>> 15)) ^ v2l) >>> 0;
      v1h = (t ^ v2h) >>> 0;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    v0h = (v0h ^ mh) >>> 0;
    v0l = (v0l ^ ml) >>> 0;
    if (last) break;
  }
  v2l = (v2l ^ 0xff) >>> 0;
  // d = 4 finalization SipRounds
  for (let r = 0; r < 4; r++) {
    t = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    v1l = (((v1l << 13) | (v1h >>> 19)) ^ v0l) >>> 0;
    v1h = (t ^ v0h) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    t = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    v3l = (((v3l << 16) | (v3h >>> 16)) ^ v2l) >>> 0;
    v3h = (t ^ v2h) >>> 0;
    t = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    v3l = (((v3l << 21) | (v3h >>> 11)) ^ v0l) >>> 0;
    v3h = (t ^ v0h) >>> 0;
    t = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    v1l = (((v1l << 17) | (v1h >>> 15)) ^ v2l) >>> 0;
    v1h = (t ^ v2h) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
  }
  out[0] = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  out[1] = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  return out;
}

const scratch = new Uint32Array(2);

/** The low 32 bits of SipHash-2-4, for hash-table and ISN use. */
export function siphash24U32(key: SipKey, data: Uint8Array, start = 0, end = data.length): number {
  return siphash24(key, data, scratch, start, end)[0];
}

/** The full 64-bit value as a BigInt (tests, diagnostics). */
export function siphash24BigInt(key: SipKey, data: Uint8Array): bigint {
  const r = siphash24(key, data, scratch);
  return (BigInt(r[1]) << 32n) | BigInt(r[0]);
}

/** A key from an Rng-like source of 32-bit words. */
export function randomSipKey(rng: { nextU32(): number }): SipKey {
  return {
    k0lo: rng.nextU32() >>> 0,
    k0hi: rng.nextU32() >>> 0,
    k1lo: rng.nextU32() >>> 0,
    k1hi: rng.nextU32() >>> 0,
  };
}

/**
 * Writes the bytes of an address into `out` at `off`: 4 bytes (IPv4, network
 * order), 16 bytes (IPv6) or nothing (undefined). Returns the new offset.
 * Helper for hashing 4-tuples (ISNs, SYN cookies, ephemeral ports).
 */
export function putAddress(
  out: Uint8Array,
  off: number,
  addr: { family: 4; v4: number } | { family: 6; v6: Uint8Array } | undefined,
): number {
  if (addr === undefined) {
    out[off] = 0;
    return off + 1;
  }
  if (addr.family === 4) {
    out[off] = 4;
    out[off + 1] = addr.v4 >>> 24;
    out[off + 2] = (addr.v4 >>> 16) & 0xff;
    out[off + 3] = (addr.v4 >>> 8) & 0xff;
    out[off + 4] = addr.v4 & 0xff;
    return off + 5;
  }
  out[off] = 6;
  out.set(addr.v6.subarray(0, 16), off + 1);
  return off + 17;
}
