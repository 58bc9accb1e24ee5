/**
 * Randomness is an input to the stack: ISNs, ephemeral ports, IP IDs, impairments.
 * Tests and simulations use a seeded generator; production uses crypto.
 */
export interface Rng {
  /** A uniformly random unsigned 32-bit integer. */
  nextU32(): number;
  /** A uniformly random float in [0, 1). */
  nextFloat(): number;
  /** A uniformly random integer in [0, n), for 0 < n <= 2^32. */
  below(n: number): number;
  /** Fills `out` with random bytes. */
  fill(out: Uint8Array): void;
}

abstract class RngBase implements Rng {
  abstract nextU32(): number;
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }
  below(n: number): number {
    if (!(n > 0 && n <= 4294967296)) throw new RangeError(`below(${n}): n must be in (0, 2^32]`);
    // Rejection sampling removes modulo bias.
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }
  fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i += 4) {
      let x = this.nextU32();
      for (let j = i; j < i + 4 && j < out.length; j++) {
        out[j] = x & 0xff;
        x >>>= 8;
      }
    }
  }
}

/** xoshiro128** seeded through splitmix32: fast, small state, good statistics. */
export class SeededRng extends RngBase {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  constructor(seed: number) {
    super();
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }
  nextU32(): number {
    const s1 = this.#s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }
  /** An independent generator derived from this one (for per-link streams). */
  fork(): SeededRng {
    return new SeededRng(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Cryptographically strong randomness from WebCrypto (Node >= 19 and browsers). */
export class CryptoRng extends RngBase {
  #buf = new Uint32Array(256);
  #i = 256;
  nextU32(): number {
    if (this.#i >= this.#buf.length) {
      globalThis.crypto.getRandomValues(this.#buf);
      this.#i = 0;
    }
    return this.#buf[this.#i++];
  }
  override fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i += 65536)
      globalThis.crypto.getRandomValues(out.subarray(i, i + 65536) as Uint8Array<ArrayBuffer>);
  }
}
