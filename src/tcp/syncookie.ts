/**
 * SYN cookies: when the SYN queue is full, the listener answers a SYN with a
 * SYN-ACK whose ISN encodes what it must remember, keeps no state, and rebuilds
 * the connection from the returning ACK (ack - 1 = cookie, seq - 1 = client ISN).
 *
 * Layout (FreeBSD-style, which keeps the options even without timestamps):
 *
 *     bit 31 ........................ 8 | 7 | 6 5 4 | 3 | 2 1 0
 *          MAC (24 bits)                  P   MSS     S   WS
 *
 *   P   low bit of the time counter (a counter tick is 64 s); decode accepts the
 *       current and the previous counter, whichever has this parity, so a
 *       cookie lives between 64 and 128 s.
 *   MSS index into MSS_TABLE (rounded down from the client's MSS).
 *   S   client sent SACK-permitted.
 *   WS  index into WSCALE_TABLE (0 = no window scaling; else rounded down).
 *   MAC = SipHash-2-4(secret, 4-tuple | counter | client ISN | low byte) low 24 bits.
 *
 * Deviation from Linux: Linux keeps the counter's low 8 bits in the cookie's top
 * bits and only the MSS (2 bits) in the cookie proper, encoding wscale/SACK in the
 * timestamp; FreeBSD (syncookies since 2013) puts everything in the cookie as here.
 * A forged cookie passes with probability 2^-24 per guess, as with Linux.
 * Rounding the peer's window scale down is safe (we under-estimate its window).
 *
 * What is lost: the exact MSS (rounded down to the table) and, without cookie
 * state, whether timestamps were negotiated: the stack treats timestamps as on
 * exactly when the returning ACK carries a TS option (RFC 7323 §3.2: once
 * negotiated "all segments" carry it), and must then echo its SYN-ACK's TSval
 * from the ACK's TSecr. Nothing else from the SYN (data, TFO) survives.
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { IpAddress } from '../wire/address.ts';
import { putTuple, TUPLE_BYTES } from './isn.ts';
import { type Seq, seq } from './seq.ts';
import { randomSipKey, type SipKey, siphash24U32 } from './siphash.ts';

/** Counter period: 64 s, in µs. */
export const SYNCOOKIE_PERIOD = 64_000_000;
/** MSS values a cookie can carry (ascending). */
export const MSS_TABLE: readonly number[] = [216, 536, 1200, 1360, 1400, 1440, 1460, 8960];
/** Window scale shifts a cookie can carry; index 0 means "no window scale option". */
export const WSCALE_TABLE: readonly (number | undefined)[] = [undefined, 0, 2, 4, 6, 7, 8, 9];

export interface SynCookieOptions {
  /** Client sent SACK-permitted. */
  sackOk: boolean;
  /** Client's window scale shift, when it sent the option. */
  wscale?: number;
  /** Timestamps offered; not stored in the cookie (see module comment). */
  ts?: boolean;
}

export interface SynCookieData {
  /** The client's MSS, rounded down to MSS_TABLE. */
  mss: number;
  sackOk: boolean;
  /** The client's window scale shift (rounded down), undefined when it sent none. */
  wscale?: number;
}

export class SynCookies {
  readonly #key: SipKey;
  readonly #clock: Clock;
  readonly #buf = new Uint8Array(TUPLE_BYTES + 16);

  constructor(rng: Rng, clock: Clock) {
    this.#key = randomSipKey(rng);
    this.#clock = clock;
  }

  #counter(): number {
    return Math.floor(this.#clock.now() / SYNCOOKIE_PERIOD);
  }

  #mac(
    localAddr: IpAddress,
    localPort: number,
    remoteAddr: IpAddress,
    remotePort: number,
    counter: number,
    clientIsn: Seq,
    low: number,
  ): number {
    const b = this.#buf;
    let o = putTuple(b, localAddr, localPort, remoteAddr, remotePort);
    const c = counter >>> 0;
    b[o++] = c >>> 24;
    b[o++] = (c >>> 16) & 0xff;
    b[o++] = (c >>> 8) & 0xff;
    b[o++] = c & 0xff;
    b[o++] = clientIsn >>> 24;
    b[o++] = (clientIsn >>> 16) & 0xff;
    b[o++] = (clientIsn >>> 8) & 0xff;
    b[o++] = clientIsn & 0xff;
    b[o++] = low & 0xff;
    return siphash24U32(this.#key, b, 0, o) & 0xffffff;
  }

  /** The ISN for our SYN-ACK. `mss` is the MSS the client offered (536 if it sent none). */
  encode(
    localAddr: IpAddress,
    localPort: number,
    remoteAddr: IpAddress,
    remotePort: number,
    clientIsn: Seq,
    mss: number,
    opts: SynCookieOptions,
  ): Seq {
    let mi = 0;
    for (let i = MSS_TABLE.length - 1; i > 0; i--)
      if (mss >= MSS_TABLE[i]) {
        mi = i;
        break;
      }
    let wi = 0;
    if (opts.wscale !== undefined) {
      wi = 1;
      for (let i = WSCALE_TABLE.length - 1; i > 1; i--)
        if (opts.wscale >= (WSCALE_TABLE[i] as number)) {
          wi = i;
          break;
        }
    }
    const counter = this.#counter();
    const low = ((counter & 1) << 7) | (mi << 4) | (opts.sackOk ? 8 : 0) | wi;
    const mac = this.#mac(localAddr, localPort, remoteAddr, remotePort, counter, clientIsn, low);
    return seq(mac * 256 + low);
  }

  /**
   * Checks the cookie from an ACK (`cookie` = SEG.ACK - 1, `clientIsn` = SEG.SEQ - 1).
   * Returns what `encode` stored, or undefined for a forged, tampered or expired cookie.
   */
  decode(
    localAddr: IpAddress,
    localPort: number,
    remoteAddr: IpAddress,
    remotePort: number,
    cookie: Seq,
    clientIsn: Seq,
  ): SynCookieData | undefined {
    const low = cookie & 0xff;
    const mac = cookie >>> 8;
    const now = this.#counter();
    // The current counter or the previous one: the one whose low bit matches P.
    const counter = (now & 1) === low >>> 7 ? now : now - 1;
    if (counter < 0) return undefined;
    if (this.#mac(localAddr, localPort, remoteAddr, remotePort, counter, clientIsn, low) !== mac)
      return undefined;
    const wscale = WSCALE_TABLE[low & 7];
    const data: SynCookieData = { mss: MSS_TABLE[(low >>> 4) & 7], sackOk: (low & 8) !== 0 };
    if (wscale !== undefined) data.wscale = wscale;
    return data;
  }
}
