/**
 * Ephemeral port selection, RFC 6056 §3.3.4 "Algorithm 4: Double-Hash Port
 * Selection Algorithm". Shared by TCP and UDP.
 *
 *   offset = F(local_IP, remote_IP, remote_port, secret_key1)
 *   index = G(local_IP, remote_IP, remote_port, secret_key2)
 *   count = num_ephemeral
 *   do { port = min_ephemeral + (offset + table[index]) % num_ephemeral
 *        table[index]++
 *        if (check_suitable_port(port)) return port
 *        count-- } while (count > 0)
 *
 * F and G are SipHash-2-4 under independent random keys. The search visits every
 * port of the range at most once, so it always terminates.
 */
import type { Rng } from '../rand/rng.ts';
import { putAddress, randomSipKey, type SipKey, siphash24U32 } from '../tcp/siphash.ts';
import type { IpAddress } from '../wire/address.ts';

/** RFC 6056 §3.2 / IANA: the dynamic and/or private ports. */
export const EPHEMERAL_MIN = 49152;
export const EPHEMERAL_MAX = 65535;
/** RFC 6056 §3.3.4: "TABLE_LENGTH ... a value of 10 should be fine"; a power of two lets us mask. */
export const PORT_TABLE_LENGTH = 16;

export class EphemeralPorts {
  readonly min: number;
  readonly max: number;
  readonly #k1: SipKey;
  readonly #k2: SipKey;
  readonly #table: Uint16Array;
  readonly #buf = new Uint8Array(40);
  /** The last pick's hashed bytes (#lastLen of them) and their offset (F) and index (G). */
  readonly #last = new Uint8Array(40);
  #lastLen = -1;
  #offset = 0;
  #index = 0;

  constructor(rng: Rng, range: [number, number] = [EPHEMERAL_MIN, EPHEMERAL_MAX]) {
    const [lo, hi] = range;
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && 1 <= lo && lo <= hi && hi <= 65535))
      throw new RangeError(`bad ephemeral port range [${lo}, ${hi}]`);
    this.min = lo;
    this.max = hi;
    this.#k1 = randomSipKey(rng);
    this.#k2 = randomSipKey(rng);
    this.#table = new Uint16Array(PORT_TABLE_LENGTH);
    // RFC 6056 §3.3.4: "table[] could be initialized with random values".
    for (let i = 0; i < PORT_TABLE_LENGTH; i++) this.#table[i] = rng.below(65536);
  }

  /** Number of ports in the range. */
  get size(): number {
    return this.max - this.min + 1;
  }

  /**
   * Picks a port for a connection to (remoteAddr, remotePort) from localAddr
   * (either may be undefined for unconnected/unbound sockets). `inUse(port)` says
   * whether the port can't be used. Returns undefined when every port is in use.
   */
  pick(
    localAddr: IpAddress | undefined,
    remoteAddr: IpAddress | undefined,
    remotePort: number,
    inUse: (port: number) => boolean,
  ): number | undefined {
    let o = putAddress(this.#buf, 0, localAddr);
    o = putAddress(this.#buf, o, remoteAddr);
    this.#buf[o++] = (remotePort >>> 8) & 0xff;
    this.#buf[o++] = remotePort & 0xff;
    const n = this.size;
    // F and G of the last destination are kept: a client connecting again and again to one
    // peer hashes it once (both are pure functions of the bytes compared here).
    const buf = this.#buf;
    const last = this.#last;
    let same = o === this.#lastLen;
    for (let i = 0; same && i < o; i++) same = buf[i] === last[i];
    if (!same) {
      this.#offset = siphash24U32(this.#k1, buf, 0, o) % n;
      this.#index = siphash24U32(this.#k2, buf, 0, o) & (PORT_TABLE_LENGTH - 1);
      for (let i = 0; i < o; i++) last[i] = buf[i]!;
      this.#lastLen = o;
    }
    const offset = this.#offset;
    const index = this.#index;
    // Walk (offset + table[index] + i) mod n for i = 0..n-1: every port exactly once.
    const base = this.#table[index];
    for (let i = 0; i < n; i++) {
      const port = this.min + ((offset + base + i) % n);
      if (!inUse(port)) {
        // "table[index]++" per probe: the next pick for this destination starts past this port.
        this.#table[index] = (base + i + 1) & 0xffff;
        return port;
      }
    }
    this.#table[index] = (base + 1) & 0xffff;
    return undefined;
  }
}
