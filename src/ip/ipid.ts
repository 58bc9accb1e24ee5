/**
 * IPv4 Identification (RFC 6864). The field only has to be unique per
 * (source, destination, protocol) within the maximum datagram lifetime, and should be
 * hard to predict so off-path attackers cannot inject fragments or count a host's
 * traffic (RFC 6864 §4.3, RFC 7739 §5). Like Linux's ip_idents, we keep a table of
 * counters indexed by a keyed hash of (source, destination, protocol): each flow's
 * counter starts at a random value and advances by one plus a small random step,
 * so no global counter leaks and consecutive IDs of a flow stay distinct.
 */
import type { Rng } from '../rand/rng.ts';
import type { Ipv4Address } from '../wire/address.ts';

const BUCKETS = 2048;

export class IpIdGenerator {
  readonly #rng: Rng;
  readonly #counters = new Uint16Array(BUCKETS);
  readonly #key0: number;
  readonly #key1: number;

  constructor(rng: Rng) {
    this.#rng = rng;
    const seed = new Uint8Array(BUCKETS * 2);
    rng.fill(seed);
    this.#counters.set(new Uint16Array(seed.buffer));
    this.#key0 = rng.nextU32();
    this.#key1 = rng.nextU32();
  }

  next(src: Ipv4Address, dst: Ipv4Address, protocol: number): number {
    const i = this.#hash(src, dst, protocol) & (BUCKETS - 1);
    // Step 1..8: unpredictable, yet at least 8192 datagrams of a flow before a repeat.
    const step = 1 + (this.#rng.nextU32() & 7);
    const v = (this.#counters[i] + step) & 0xffff;
    this.#counters[i] = v;
    return v;
  }

  #hash(src: number, dst: number, protocol: number): number {
    let h = this.#key0 ^ Math.imul(src, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ dst;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ (protocol + this.#key1);
    h ^= h >>> 16;
    return h >>> 0;
  }
}
