/**
 * Initial sequence numbers, RFC 6528 §3: "ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey)" where "M is the 4 microsecond timer" and F is
 * a keyed hash; here F = SipHash-2-4 under a 128-bit secret drawn once from the
 * Rng, truncated to 32 bits.
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { IpAddress } from '../wire/address.ts';
import { type Seq, seq } from './seq.ts';
import { putAddress, randomSipKey, type SipKey, siphash24U32 } from './siphash.ts';

/** Bytes of a hashed 4-tuple: 2 * (1 + 16) address bytes + 2 ports, with room to spare. */
export const TUPLE_BYTES = 48;

/** Serialises a 4-tuple into `out` from offset 0; returns the length used. */
export function putTuple(
  out: Uint8Array,
  localAddr: IpAddress | undefined,
  localPort: number,
  remoteAddr: IpAddress | undefined,
  remotePort: number,
): number {
  let o = putAddress(out, 0, localAddr);
  out[o++] = (localPort >>> 8) & 0xff;
  out[o++] = localPort & 0xff;
  o = putAddress(out, o, remoteAddr);
  out[o++] = (remotePort >>> 8) & 0xff;
  out[o++] = remotePort & 0xff;
  return o;
}

export class IsnGenerator {
  readonly #key: SipKey;
  readonly #clock: Clock;
  readonly #buf = new Uint8Array(TUPLE_BYTES);

  constructor(rng: Rng, clock: Clock) {
    this.#key = randomSipKey(rng);
    this.#clock = clock;
  }

  isn(localAddr: IpAddress, localPort: number, remoteAddr: IpAddress, remotePort: number): Seq {
    // RFC 6528 §3: M "is the 4 microsecond timer", wrapping mod 2^32 (about every 4.77 hours).
    const m = Math.floor(this.#clock.now() / 4) % 4294967296;
    const n = putTuple(this.#buf, localAddr, localPort, remoteAddr, remotePort);
    const f = siphash24U32(this.#key, this.#buf, 0, n);
    return seq(m + f);
  }
}
