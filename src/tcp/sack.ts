/**
 * The sender's SACK scoreboard and the RFC 6675 helpers IsLost, NextSeg and
 * SetPipe.
 *
 * Conventions: blocks are [left, right) (RFC 2018). `highRxt` is passed as the
 * sequence number just after the highest retransmitted octet (RFC 6675's HighRxt
 * + 1); the connection sets it to snd.una when recovery starts.
 */
import type { SackBlock } from '../wire/tcp.ts';
import { type Seq, seq, seqAdd, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq.ts';

/** RFC 6675 §2: DupThresh, "the number of duplicate acknowledgments ... 3". */
export const DUP_THRESH = 3;
/** Most blocks the scoreboard keeps; beyond that the highest are forgotten (safe: treated as unSACKed). */
export const MAX_SCOREBOARD_BLOCKS = 256;

interface Block {
  left: Seq;
  right: Seq;
}

export class SackScoreboard {
  /** Sorted, non-overlapping, non-adjacent blocks, all at/after the last snd.una. */
  #blocks: Block[] = [];
  #sacked = 0;
  readonly maxBlocks: number;

  constructor(maxBlocks = MAX_SCOREBOARD_BLOCKS) {
    this.maxBlocks = Math.max(1, maxBlocks);
  }

  /** Bytes SACKed above snd.una. */
  get sackedBytes(): number {
    return this.#sacked;
  }
  /** Number of disjoint SACKed ranges. */
  get blockCount(): number {
    return this.#blocks.length;
  }
  /** A copy of the blocks, ascending (diagnostics and tests). */
  blocks(): SackBlock[] {
    return this.#blocks.map((b) => ({ left: b.left, right: b.right }));
  }

  /**
   * Merges the SACK blocks of an arriving ACK. Blocks that are empty, inverted,
   * at or below `sndUna` (D-SACK, RFC 2883, or stale) or, when `sndNxt` is given,
   * beyond it are ignored; a block straddling snd.una is clipped.
   */
  update(blocks: readonly SackBlock[], sndUna: Seq, sndNxt?: Seq): void {
    this.advance(sndUna);
    for (const b of blocks) {
      let left = seq(b.left);
      const right = seq(b.right);
      if (!seqLt(left, right)) continue;
      if (seqLe(right, sndUna)) continue;
      if (sndNxt !== undefined && seqGt(right, sndNxt)) continue;
      if (seqLt(left, sndUna)) left = sndUna;
      this.#add(left, right);
    }
  }

  #add(left: Seq, right: Seq): void {
    const bs = this.#blocks;
    // First block whose right edge is >= left (it may touch or overlap).
    let lo = 0;
    let hi = bs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(bs[mid].right, left)) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let l = left;
    let r = right;
    let removed = 0;
    while (j < bs.length && seqLe(bs[j].left, r)) {
      l = seqMin(l, bs[j].left);
      r = seqMax(r, bs[j].right);
      removed += seqSub(bs[j].right, bs[j].left);
      j++;
    }
    bs.splice(lo, j - lo, { left: l, right: r });
    this.#sacked += seqSub(r, l) - removed;
    while (bs.length > this.maxBlocks) {
      const b = bs.pop()!;
      this.#sacked -= seqSub(b.right, b.left);
    }
  }

  /** Forgets everything below the new cumulative ACK. */
  advance(sndUna: Seq): void {
    const bs = this.#blocks;
    let n = 0;
    while (n < bs.length && seqLe(bs[n].right, sndUna)) {
      this.#sacked -= seqSub(bs[n].right, bs[n].left);
      n++;
    }
    if (n > 0) bs.splice(0, n);
    if (bs.length > 0 && seqLt(bs[0].left, sndUna)) {
      this.#sacked -= seqSub(sndUna, bs[0].left);
      bs[0] = { left: sndUna, right: bs[0].right };
    }
  }

  isSacked(s: Seq): boolean {
    const i = this.#indexEndingAfter(s);
    return i < this.#blocks.length && seqLe(this.#blocks[i].left, s);
  }

  /** Index of the first block whose right edge is after `s`. */
  #indexEndingAfter(s: Seq): number {
    const bs = this.#blocks;
    let lo = 0;
    let hi = bs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(bs[mid].right, s)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The right edge (exclusive) of the highest SACK block: one past the highest SACKed octet. */
  highestSacked(): Seq | undefined {
    const last = this.#blocks[this.#blocks.length - 1];
    return last?.right;
  }

  /** SACKed bytes in [from, to). */
  sackedIn(from: Seq, to: Seq): number {
    let n = 0;
    const bs = this.#blocks;
    for (let i = this.#indexEndingAfter(from); i < bs.length && seqLt(bs[i].left, to); i++)
      n += seqSub(seqMin(bs[i].right, to), seqMax(bs[i].left, from));
    return n;
  }

  /**
   * RFC 6675 §4 IsLost(SeqNum): "returns true when either DupThresh discontiguous
   * SACKed sequences have arrived above 'SeqNum' or more than (DupThresh - 1) *
   * SMSS bytes with sequence numbers greater than 'SeqNum' have been SACKed."
   * (Discontiguous sequences are counted as SACK blocks above SeqNum.)
   */
  isLost(s: Seq, mss: number): boolean {
    const bs = this.#blocks;
    let bytes = 0;
    let count = 0;
    for (let i = bs.length - 1; i >= 0; i--) {
      const b = bs[i];
      if (seqLe(b.right, seqAdd(s, 1))) break;
      bytes += seqSub(b.right, seqMax(b.left, seqAdd(s, 1)));
      count++;
      if (count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return true;
    }
    return false;
  }

  /**
   * RFC 6675 §4 NextSeg() rule (1): the first unSACKed range starting at S2 with
   * "(1.a) S2 is greater than HighRxt", "(1.b) S2 is less than the highest octet
   * covered by any received SACK" and "(1.c) IsLost (S2) returns true"; the result
   * is at most one SMSS and does not cross SACKed data.
   *
   * Rule (2) (new data) is the connection's. Pass `newDataAvailable = false` when
   * rule (2) cannot send (no unsent data or no window) to get rule (3): "one
   * segment of up to SMSS octets starting with S3" meeting (1.a) and (1.b) only.
   * Rule (4) (rescue retransmission) is the connection's too.
   */
  nextSeg(
    sndUna: Seq,
    sndNxt: Seq,
    mss: number,
    highRxt: Seq,
    newDataAvailable = true,
  ): { seq: Seq; len: number } | undefined {
    const high = this.highestSacked();
    if (high === undefined) return undefined;
    const limit = seqMin(high, sndNxt);
    let cur = seqMax(sndUna, highRxt);
    const bs = this.#blocks;
    let i = this.#indexEndingAfter(cur);
    let rule3: { seq: Seq; len: number } | undefined;
    while (seqLt(cur, limit) && i < bs.length) {
      const b = bs[i];
      if (seqLe(b.left, cur)) {
        cur = b.right;
        i++;
        continue;
      }
      // Hole [cur, b.left).
      const len = Math.min(mss, seqSub(seqMin(b.left, limit), cur));
      if (len <= 0) break;
      if (this.isLost(cur, mss)) return { seq: cur, len };
      // IsLost only gets "less true" higher up: no later hole is lost either.
      rule3 = { seq: cur, len };
      break;
    }
    return newDataAvailable ? undefined : rule3;
  }

  /**
   * RFC 6675 §4 SetPipe(): for each octet in [snd.una, snd.nxt) not SACKed,
   * "(a) If IsLost (S1) returns false: Pipe is incremented by 1 octet" and
   * "(b) If S1 <= HighRxt: Pipe is incremented by 1 octet". Returns bytes.
   */
  pipe(sndUna: Seq, sndNxt: Seq, mss: number, highRxt: Seq): number {
    const span = seqSub(sndNxt, sndUna);
    if (span <= 0) return 0;
    // IsLost is monotone (true below some point, false from it on): binary search
    // the first octet that is not lost.
    let lo = 0;
    let hi = span;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.isLost(seqAdd(sndUna, mid), mss)) lo = mid + 1;
      else hi = mid;
    }
    const notLostFrom = seqAdd(sndUna, lo);
    let pipe = seqSub(sndNxt, notLostFrom) - this.sackedIn(notLostFrom, sndNxt);
    const rxtEnd = seqMin(seqMax(highRxt, sndUna), sndNxt);
    pipe += seqSub(rxtEnd, sndUna) - this.sackedIn(sndUna, rxtEnd);
    return pipe;
  }

  clear(): void {
    this.#blocks = [];
    this.#sacked = 0;
  }
}
