/**
 * The send and receive sequence variables of a TCB (RFC 9293 §3.3.1, Figures 2 and 3:
 * SND.UNA, SND.NXT, SND.WND, SND.UP, SND.WL1, SND.WL2; RCV.NXT, RCV.WND, RCV.UP).
 *
 * Each sequence number is kept as an int32 (`v | 0`) and read back as the uint32 it is
 * (`>>> 0`): to V8 on 64-bit Node an int32 is a small integer held in the field itself,
 * where a uint32 above 2^31 would be a boxed 16-byte HeapNumber, for half of all
 * connections (the ISN is random). Readers and writers see plain Seq values.
 */
import type { Seq } from './seq.ts';

/** SND.UNA, SND.NXT, SND.WND, SND.WL1, SND.WL2, SND.UP. */
export class SendSequence {
  #una = 0;
  #nxt = 0;
  #wl1 = 0;
  #wl2 = 0;
  #up = 0;
  /** The send window, bytes (already scaled). */
  wnd = 0;
  get una(): Seq {
    return (this.#una >>> 0) as Seq;
  }
  set una(v: Seq) {
    this.#una = v | 0;
  }
  get nxt(): Seq {
    return (this.#nxt >>> 0) as Seq;
  }
  set nxt(v: Seq) {
    this.#nxt = v | 0;
  }
  /** Segment sequence number used for the last window update. */
  get wl1(): Seq {
    return (this.#wl1 >>> 0) as Seq;
  }
  set wl1(v: Seq) {
    this.#wl1 = v | 0;
  }
  /** Segment acknowledgment number used for the last window update. */
  get wl2(): Seq {
    return (this.#wl2 >>> 0) as Seq;
  }
  set wl2(v: Seq) {
    this.#wl2 = v | 0;
  }
  get up(): Seq {
    return (this.#up >>> 0) as Seq;
  }
  set up(v: Seq) {
    this.#up = v | 0;
  }
}

/** RCV.NXT, RCV.WND, RCV.UP. */
export class ReceiveSequence {
  #nxt = 0;
  #up = 0;
  /** The receive window, bytes. */
  wnd = 0;
  get nxt(): Seq {
    return (this.#nxt >>> 0) as Seq;
  }
  set nxt(v: Seq) {
    this.#nxt = v | 0;
  }
  get up(): Seq {
    return (this.#up >>> 0) as Seq;
  }
  set up(v: Seq) {
    this.#up = v | 0;
  }
}
