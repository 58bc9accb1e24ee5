/**
 * The per-segment transmit record RACK needs (RFC 8985 §5.2 "Per-Segment Variables"):
 * for every segment sent and not yet cumulatively acknowledged, its sequence range, when
 * it was last (re)transmitted (Segment.xmit_ts, in clock microseconds, with the TSval it
 * carried), whether it was ever retransmitted, whether RACK has marked it lost, and
 * whether it is SACKed. Linux keeps the same in its tsorted retransmission queue.
 *
 * Data only (a leaf): rack.ts reads and changes it. Segments are kept in sequence order,
 * non-overlapping and contiguous from SND.UNA to SND.MAX; a retransmission whose bounds
 * differ from the original's splits the record at them.
 */
import type { Instant } from '../time/instant.ts';
import { type Seq, seqGe, seqGt, seqLe, seqLt, seqSub } from './seq.ts';

export interface TxSegment {
  start: Seq;
  end: Seq;
  /** RFC 8985 Segment.xmit_ts: when it was last sent. */
  xmitTs: Instant;
  /** Transmission order: a count that grows with every transmission (see rack.ts rackSentAfter). */
  order: number;
  /** The TSval it last carried (RFC 7323), to tell an ACK of the original from one of the retransmission. */
  tsVal: number;
  /** Retransmitted at least once. */
  rtx: boolean;
  /** Marked lost and not retransmitted since. */
  lost: boolean;
  /** Wholly covered by SACK blocks. */
  sacked: boolean;
}

export class TxLog {
  #segs: TxSegment[] = [];
  #head = 0;
  /** Bytes in segments marked lost (and not SACKed since). */
  lostBytes = 0;
  /** Segments SACKed (RACK.segs_sacked). */
  sackedSegs = 0;
  /** Transmissions recorded so far (the last `order` given). */
  sent = 0;

  /** Segments recorded (from SND.UNA). */
  get size(): number {
    return this.#segs.length - this.#head;
  }
  /** The i-th segment from SND.UNA. */
  at(i: number): TxSegment {
    return this.#segs[this.#head + i]!;
  }
  /** The end of the last recorded segment, undefined when empty. */
  get end(): Seq | undefined {
    return this.size > 0 ? this.#segs[this.#segs.length - 1]!.end : undefined;
  }

  /** Index (from SND.UNA) of the first segment ending after `s`. */
  indexEndingAfter(s: Seq): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(this.at(mid).end, s)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** New data [start, end) went out at `now`. */
  append(start: Seq, end: Seq, now: Instant, tsVal: number): void {
    this.#segs.push({
      start,
      end,
      xmitTs: now,
      order: ++this.sent,
      tsVal,
      rtx: false,
      lost: false,
      sacked: false,
    });
  }

  /** Splits the segment holding `s` so that one starts at `s` (no-op at a boundary). */
  splitAt(s: Seq): void {
    const i = this.indexEndingAfter(s);
    if (i >= this.size) return;
    const seg = this.at(i);
    if (!seqGt(s, seg.start)) return;
    const tail: TxSegment = { ...seg, start: s };
    seg.end = s;
    if (seg.sacked) this.sackedSegs++;
    this.#segs.splice(this.#head + i + 1, 0, tail);
  }

  /** Marks a segment lost (or not), keeping lostBytes. */
  setLost(seg: TxSegment, lost: boolean): void {
    if (seg.lost === lost) return;
    seg.lost = lost;
    const n = seqSub(seg.end, seg.start);
    this.lostBytes += lost ? n : -n;
  }

  /** Marks a segment SACKed (it is no longer lost). */
  setSacked(seg: TxSegment): void {
    if (seg.sacked) return;
    this.setLost(seg, false);
    seg.sacked = true;
    this.sackedSegs++;
  }

  /**
   * Forgets everything below the new cumulative ACK `una`, calling `delivered` for each
   * segment (or part) acknowledged that was not SACKed before.
   */
  ackTo(una: Seq, delivered: (seg: TxSegment) => void): void {
    while (this.size > 0) {
      const seg = this.at(0);
      if (seqLe(seg.end, una)) {
        this.setLost(seg, false);
        if (seg.sacked) this.sackedSegs--;
        else delivered(seg);
        this.#head++;
        continue;
      }
      if (seqLt(seg.start, una)) {
        // A partial ACK of a segment: its front is delivered.
        if (!seg.sacked) delivered({ ...seg, end: una });
        if (seg.lost) this.lostBytes -= seqSub(una, seg.start);
        seg.start = una;
      }
      break;
    }
    if (this.#head > 64 && this.#head * 2 > this.#segs.length) {
      this.#segs.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Everything goes (the connection closed, or a fresh start is wanted). */
  clear(): void {
    this.#segs = [];
    this.#head = 0;
    this.lostBytes = 0;
    this.sackedSegs = 0;
  }

  /** After an RTO: nothing is SACKed or lost any more (RFC 2018 §8: the receiver may have reneged). */
  forgetMarks(): void {
    for (let i = 0; i < this.size; i++) {
      const seg = this.at(i);
      seg.sacked = false;
      seg.lost = false;
    }
    this.lostBytes = 0;
    this.sackedSegs = 0;
  }

  /** True when `s` lies in [first start, end). */
  covers(s: Seq): boolean {
    return this.size > 0 && seqGe(s, this.at(0).start) && seqLt(s, this.end!);
  }
}
