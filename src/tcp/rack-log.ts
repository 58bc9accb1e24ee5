/**
 * The per-segment transmit record RACK needs (RFC 8985 §5.2 "Per-Segment Variables"):
 * for every segment sent and not yet cumulatively acknowledged, its sequence range, when
 * it was last (re)transmitted (Segment.xmit_ts, in clock microseconds, with the TSval it
 * carried), whether it was ever retransmitted, whether RACK has marked it lost, and
 * whether it is SACKed. Linux keeps the same in its tsorted retransmission queue.
 *
 * Data only (a leaf): rack.ts reads and changes it. Entries are kept in sequence order,
 * non-overlapping and contiguous from SND.UNA to SND.MAX. New data sent at the same instant
 * as the entry before it extends that entry (one entry per burst, like a TSO skb in Linux);
 * a retransmission or a SACK block whose bounds fall inside an entry splits it there, so an
 * entry is always wholly SACKed or not, and retransmitted or not.
 */
import type { Instant } from '../time/instant.ts';
import { type Seq, seqGt, seqLe, seqLt, seqSub } from './seq.ts';

export interface TxSegment {
  start: Seq;
  end: Seq;
  /** RFC 8985 Segment.xmit_ts: when it was last sent. */
  xmitTs: Instant;
  /** Segments the entry was sent as (one per transmission, TSO-style entries hold several). */
  segs: number;
  /** Transmission order: a count that grows with every transmission (see rack.ts rackSentAfter). */
  order: number;
  /** Retransmitted at least once. */
  rtx: boolean;
  /** Marked lost and not retransmitted since. */
  lost: boolean;
  /** Wholly covered by SACK blocks. */
  sacked: boolean;
  /**
   * Delivery-rate stamps taken when it was (last) sent (rate.ts, Linux tcp_rate_skb_sent): the
   * connection's delivered bytes then, when that count last grew (-1 once a SACK used the
   * entry for a sample), the send time of the most recently delivered segment then, and
   * whether the sender was application-limited.
   */
  delivered: number;
  deliveredTs: Instant;
  firstTxTs: Instant;
  appLimited: boolean;
}

/** The delivery-rate stamps a transmission carries (TxSegment's last four fields). */
export interface TxRateStamp {
  delivered: number;
  deliveredTs: Instant;
  firstTxTs: Instant;
  appLimited: boolean;
}

const NO_STAMP: TxRateStamp = { delivered: 0, deliveredTs: -1, firstTxTs: 0, appLimited: false };

export class TxLog {
  /** NO_SEGS (shared, never written) until the first entry: see addEntry. */
  #segs: TxSegment[] = NO_SEGS;
  #head = 0;
  /** Bytes in segments marked lost (and not SACKed since). */
  lostBytes = 0;
  /** Segments SACKed (RACK.segs_sacked), by the entries' segment counts. */
  sackedSegs = 0;
  /** Transmissions recorded so far (the last `order` given). */
  sent = 0;
  /**
   * The entry last dropped as acknowledged, reused by the next append: a request/response
   * exchange (one entry in flight at a time) then allocates no entry per segment.
   */
  #spare: TxSegment | undefined = undefined;

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

  /**
   * New data [start, end) went out at `now`: a new entry, or the last one extended (when it
   * went out at the same instant with the same delivery-rate stamps).
   */
  append(start: Seq, end: Seq, now: Instant, stamp: TxRateStamp = NO_STAMP): void {
    const n = this.#segs.length;
    if (n > this.#head) {
      const last = this.#segs[n - 1]!;
      if (
        last.end === start &&
        last.xmitTs === now &&
        !last.rtx &&
        !last.lost &&
        !last.sacked &&
        last.delivered === stamp.delivered &&
        last.deliveredTs === stamp.deliveredTs &&
        last.firstTxTs === stamp.firstTxTs &&
        last.appLimited === stamp.appLimited
      ) {
        last.end = end;
        last.segs++;
        return;
      }
    }
    const spare = this.#spare;
    if (spare !== undefined) {
      this.#spare = undefined;
      spare.start = start;
      spare.end = end;
      spare.segs = 1;
      spare.xmitTs = now;
      spare.order = ++this.sent;
      spare.rtx = false;
      spare.lost = false;
      spare.sacked = false;
      spare.delivered = stamp.delivered;
      spare.deliveredTs = stamp.deliveredTs;
      spare.firstTxTs = stamp.firstTxTs;
      spare.appLimited = stamp.appLimited;
      this.addEntry(spare);
      return;
    }
    this.addEntry({
      start,
      end,
      segs: 1,
      xmitTs: now,
      order: ++this.sent,
      rtx: false,
      lost: false,
      sacked: false,
      delivered: stamp.delivered,
      deliveredTs: stamp.deliveredTs,
      firstTxTs: stamp.firstTxTs,
      appLimited: stamp.appLimited,
    });
  }

  /**
   * Appends an entry. The first makes an array of one: a connection that sends a few
   * segments (connect, echo, close) does not grow an empty array to 17 slots (bench crr).
   */
  private addEntry(seg: TxSegment): void {
    if (this.#segs === NO_SEGS) this.#segs = [seg];
    else this.#segs.push(seg);
  }

  /**
   * Splits the entry holding `s` so that one starts at `s` (no-op at a boundary). Its
   * segment count is shared in proportion to the bytes.
   */
  splitAt(s: Seq): void {
    const i = this.indexEndingAfter(s);
    if (i >= this.size) return;
    const seg = this.at(i);
    if (!seqGt(s, seg.start)) return;
    const total = seg.segs;
    const all = seqSub(seg.end, seg.start);
    const tailSegs =
      total > 1 ? Math.min(total - 1, Math.max(1, Math.round((total * seqSub(seg.end, s)) / all))) : 1;
    const tail: TxSegment = { ...seg, start: s, segs: tailSegs };
    seg.end = s;
    seg.segs = Math.max(1, total - tailSegs);
    if (seg.sacked) this.sackedSegs += seg.segs + tail.segs - total;
    this.#segs.splice(this.#head + i + 1, 0, tail);
  }

  /** Bytes of [left, right) that lie in retransmitted entries (Linux's TCPCB_RETRANS skbs). */
  retransmittedIn(left: Seq, right: Seq): number {
    let n = 0;
    for (let i = this.indexEndingAfter(left); i < this.size; i++) {
      const seg = this.at(i);
      if (!seqLt(seg.start, right)) break;
      if (!seg.rtx) continue;
      const l = seqGt(seg.start, left) ? seg.start : left;
      const r = seqLt(seg.end, right) ? seg.end : right;
      n += seqSub(r, l);
    }
    return n;
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
    this.sackedSegs += seg.segs;
  }

  /**
   * Drops the first entry (wholly acknowledged). The caller may still read it until the next
   * append, which may reuse it.
   */
  shift(): void {
    const seg = this.#segs[this.#head]!;
    this.setLost(seg, false);
    if (seg.sacked) this.sackedSegs -= seg.segs;
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#segs.length) {
      this.#segs.splice(0, this.#head);
      this.#head = 0;
    }
    this.#spare = seg;
  }

  /** The first entry now starts at `una` (its front is acknowledged). */
  trimFront(una: Seq): void {
    const seg = this.#segs[this.#head]!;
    if (seg.lost) this.lostBytes -= seqSub(una, seg.start);
    seg.start = una;
  }

  /** Everything goes (the connection closed, or a fresh start is wanted). */
  clear(): void {
    this.#segs = NO_SEGS;
    this.#head = 0;
    this.#spare = undefined;
    this.lostBytes = 0;
    this.sackedSegs = 0;
  }

  /**
   * Nothing recorded (everything acknowledged): lets go of the array and the acknowledged
   * entries it still holds before the head; the counters stay (Tcb.trimIfIdle).
   */
  trim(): void {
    if (this.size !== 0 || this.#segs.length === 0) return;
    this.#segs = NO_SEGS;
    this.#head = 0;
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
}

const NO_SEGS: TxSegment[] = [];
