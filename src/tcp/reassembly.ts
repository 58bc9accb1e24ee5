/**
 * The receiver's out-of-order queue (RFC 9293 §3.10.7.4: segments beyond
 * RCV.NXT "should be held for later processing"), with the SACK blocks of
 * RFC 2018 §4.
 *
 * Stored pieces never overlap: on insert only the parts of a segment that fill
 * holes are kept, as subarrays of the caller's bytes (no copy), unless the piece is less
 * than half of the buffer behind it (a small segment in a frame slab, src/link/frame-alloc.ts,
 * or a sliver of a large frame): that piece is copied out, so a held piece never keeps
 * alive more than twice its size (a 1-byte segment would otherwise pin a 16 KiB slab).
 * Memory is bounded by `limitBytes` of payload and by `maxSegments` pieces; a segment that
 * does not fit is rejected whole ('dropped-limit') and nothing is kept of it. With an
 * `account` (the TCP layer's memory, memory.ts) each piece is charged what it costs: its
 * bytes plus PIECE_OVERHEAD (as Linux charges an skb's truesize), so a flood of tiny
 * out-of-order segments counts against the layer's limit in heap terms, not by payload.
 */
import type { SackBlock } from '../wire/tcp.ts';
import type { MemoryAccount } from './memory.ts';
import { type Seq, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.ts';

interface Piece {
  seq: Seq;
  end: Seq;
  data: Uint8Array;
}

/**
 * Heap a stored piece costs besides its bytes: the piece record, its Uint8Array view and,
 * for a copied piece, its own ArrayBuffer (measured: test/scenarios/memory-caps.test.ts).
 */
export const PIECE_OVERHEAD = 320;

/** How many recent arrivals we remember for ordering SACK blocks. */
const RECENT = 8;

export type InsertResult = 'stored' | 'duplicate' | 'dropped-limit';

export class ReassemblyQueue {
  readonly limitBytes: number;
  readonly maxSegments: number;
  /** Sorted by seq, non-overlapping. */
  #pieces: Piece[] = [];
  #bytes = 0;
  /** Sequence number just after the last data byte, i.e. the FIN's sequence number. */
  #fin: Seq | undefined;
  /** Start of recently arrived segments, most recent first (RFC 2018 §4 block order). */
  #recent: Seq[] = [];
  readonly #account: MemoryAccount | undefined;
  /** Pieces whose PIECE_OVERHEAD is charged to the account. */
  #chargedPieces = 0;

  constructor(
    limitBytes: number,
    maxSegments = Math.max(64, Math.ceil(limitBytes / 64)),
    account?: MemoryAccount,
  ) {
    if (!(limitBytes >= 0)) throw new RangeError('ReassemblyQueue: limitBytes must be >= 0');
    this.limitBytes = limitBytes;
    this.maxSegments = maxSegments;
    this.#account = account;
  }

  /** Every change of #bytes goes through here, so the memory account follows it. */
  #addBytes(n: number): void {
    this.#bytes += n;
    if (n > 0) this.#account?.charge(n);
    else if (n < 0) this.#account?.credit(-n);
  }

  /** Charges (or credits) PIECE_OVERHEAD for the pieces added (or removed) since the last call. */
  #syncPieces(): void {
    const d = this.#pieces.length - this.#chargedPieces;
    if (d === 0) return;
    this.#chargedPieces = this.#pieces.length;
    if (d > 0) this.#account?.charge(d * PIECE_OVERHEAD);
    else this.#account?.credit(-d * PIECE_OVERHEAD);
  }

  /** What the queue charges its account: bytes held plus PIECE_OVERHEAD per piece. */
  get charged(): number {
    return this.#bytes + this.#chargedPieces * PIECE_OVERHEAD;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.#bytes;
  }
  /** Stored pieces (a segment split around existing data counts once per piece). */
  get segments(): number {
    return this.#pieces.length;
  }
  /** The FIN's sequence number, when an out-of-order FIN has been queued. */
  get finSeq(): Seq | undefined {
    return this.#fin;
  }
  get isEmpty(): boolean {
    return this.#pieces.length === 0 && this.#fin === undefined;
  }

  /** Index of the first piece whose end is after `s`. */
  #firstEndingAfter(s: Seq): number {
    let lo = 0;
    let hi = this.#pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(this.#pieces[mid].end, s)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Queues a segment that starts at `seq` (with its FIN after the data when
   * `fin`). The caller has already trimmed it to the receive window and checked
   * it lies beyond rcv.nxt.
   */
  insert(seq: Seq, data: Uint8Array, fin: boolean): InsertResult {
    let end = seqAdd(seq, data.length);
    // Data beyond a known FIN is bogus: keep only what precedes it.
    if (this.#fin !== undefined && seqGt(end, this.#fin)) {
      if (seqLe(seq, this.#fin)) {
        data = data.subarray(0, seqSub(this.#fin, seq));
        end = this.#fin;
      } else {
        data = data.subarray(0, 0);
        end = seq;
      }
      fin = fin && seqLe(end, this.#fin);
    }
    let newFin = fin && this.#fin === undefined;
    if (newFin) {
      // A FIN below data we already hold contradicts it: ignore the FIN.
      const last = this.#pieces[this.#pieces.length - 1];
      if (last !== undefined && seqGt(last.end, end)) newFin = false;
    }

    // Holes of [seq, end) not covered by stored pieces.
    const first = this.#firstEndingAfter(seq);
    const gaps: Piece[] = [];
    let cur = seq;
    let i = first;
    for (; i < this.#pieces.length && seqLt(cur, end); i++) {
      const p = this.#pieces[i];
      if (seqGe(p.seq, end)) break;
      if (seqLt(cur, p.seq)) gaps.push(this.#piece(seq, data, cur, p.seq));
      cur = seqMax(cur, p.end);
    }
    if (seqLt(cur, end)) gaps.push(this.#piece(seq, data, cur, end));

    let added = 0;
    for (const g of gaps) added += g.data.length;
    if (added === 0 && !newFin) {
      if (data.length > 0) this.#touch(seq);
      return 'duplicate';
    }
    if (this.#bytes + added > this.limitBytes || this.#pieces.length + gaps.length > this.maxSegments)
      return 'dropped-limit';

    if (gaps.length > 0) {
      // Gaps are in order and each falls between consecutive stored pieces, so a
      // merge of the two sorted lists places them.
      const at = this.#firstEndingAfter(gaps[0].seq);
      const tail = this.#pieces.splice(at);
      let t = 0;
      for (const g of gaps) {
        while (t < tail.length && seqLt(tail[t].seq, g.seq)) this.#pieces.push(tail[t++]);
        this.#pieces.push(g);
      }
      while (t < tail.length) this.#pieces.push(tail[t++]);
      this.#addBytes(added);
      this.#syncPieces();
    }
    if (newFin) this.#fin = end;
    if (data.length > 0) this.#touch(seq);
    return 'stored';
  }

  #piece(seq: Seq, data: Uint8Array, from: Seq, to: Seq): Piece {
    let d = data.subarray(seqSub(from, seq), seqSub(to, seq));
    // A piece less than half of the buffer behind it is copied out of it (see the header).
    if (d.buffer.byteLength > 2 * d.length) d = d.slice();
    return { seq: from, end: to, data: d };
  }

  #touch(s: Seq): void {
    const r = this.#recent;
    const k = r.indexOf(s);
    if (k >= 0) r.splice(k, 1);
    r.unshift(s);
    if (r.length > RECENT) r.length = RECENT;
  }

  /**
   * Removes and returns the data contiguous from `rcvNxt` (trimming what lies
   * before it; no copying). `fin` is true when the queued FIN immediately follows
   * that data; it is then consumed.
   */
  take(rcvNxt: Seq): { chunks: Uint8Array[]; length: number; fin: boolean } {
    const chunks: Uint8Array[] = [];
    let length = 0;
    let cur = rcvNxt;
    let n = 0;
    const ps = this.#pieces;
    for (; n < ps.length; n++) {
      const p = ps[n];
      if (seqGt(p.seq, cur)) break;
      this.#addBytes(-p.data.length);
      if (seqLe(p.end, cur)) continue; // entirely old
      const c = p.data.subarray(seqSub(cur, p.seq));
      chunks.push(c);
      length += c.length;
      cur = p.end;
    }
    if (n > 0) {
      ps.splice(0, n);
      this.#syncPieces();
    }
    let fin = false;
    if (this.#fin !== undefined && seqLe(this.#fin, cur)) {
      fin = this.#fin === cur;
      this.#fin = undefined;
    }
    if (n > 0) this.#recent = this.#recent.filter((s) => seqGe(s, cur) || this.#contains(s));
    return { chunks, length, fin };
  }

  /**
   * The data of [seq, end) already held, as RFC 2883 §4 reports it for a duplicate above
   * RCV.NXT: from the first held byte in the range to the end of that contiguous held run
   * (capped at `end`), as Linux's tcp_data_queue_ofo sets and extends its D-SACK block.
   * Undefined when none of it is held.
   */
  heldRun(seq: Seq, end: Seq): SackBlock | undefined {
    const ps = this.#pieces;
    let i = this.#firstEndingAfter(seq);
    if (i >= ps.length || !seqLt(ps[i].seq, end)) return undefined;
    const left = seqMax(ps[i].seq, seq);
    let right = ps[i].end;
    while (i + 1 < ps.length && ps[i + 1].seq === right && seqLt(right, end)) right = ps[++i].end;
    return { left, right: seqLt(end, right) ? end : right };
  }

  #contains(s: Seq): boolean {
    const i = this.#firstEndingAfter(s);
    return i < this.#pieces.length && seqLe(this.#pieces[i].seq, s);
  }

  /**
   * Up to `max` SACK blocks (RFC 2018 §4): "The first SACK block ... MUST specify
   * the contiguous block of data containing the segment which triggered this ACK",
   * then the blocks of other recent arrivals, then the rest from the highest down.
   */
  sackBlocks(max: number): SackBlock[] {
    const blocks = this.#blocks();
    const out: SackBlock[] = [];
    if (max <= 0 || blocks.length === 0) return out;
    const used = new Uint8Array(blocks.length);
    const find = (s: Seq): number => {
      let lo = 0;
      let hi = blocks.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (seqLe(blocks[mid].right as Seq, s)) lo = mid + 1;
        else hi = mid;
      }
      return lo < blocks.length && seqLe(blocks[lo].left as Seq, s) ? lo : -1;
    };
    for (const s of this.#recent) {
      if (out.length >= max) return out;
      const k = find(s);
      if (k >= 0 && !used[k]) {
        used[k] = 1;
        out.push(blocks[k]);
      }
    }
    for (let k = blocks.length - 1; k >= 0 && out.length < max; k--) if (!used[k]) out.push(blocks[k]);
    return out;
  }

  /** Contiguous runs of stored data, ascending. */
  #blocks(): SackBlock[] {
    const out: SackBlock[] = [];
    let left: Seq | undefined;
    let right: Seq | undefined;
    for (const p of this.#pieces) {
      if (right !== undefined && p.seq === right) right = p.end;
      else {
        if (left !== undefined) out.push({ left, right: right as Seq });
        left = p.seq;
        right = p.end;
      }
    }
    if (left !== undefined) out.push({ left, right: right as Seq });
    return out;
  }

  /** Contiguous runs of stored data, ascending (diagnostics and tests). */
  blocks(): SackBlock[] {
    return this.#blocks();
  }

  /**
   * Drops everything; with `from`, only data at/after `from` (memory pressure:
   * RFC 2018 §8 allows the receiver to discard SACKed data, "reneging").
   */
  clear(from?: Seq): void {
    if (from === undefined) {
      this.#pieces = [];
      this.#addBytes(-this.#bytes);
      this.#syncPieces();
      this.#fin = undefined;
      this.#recent = [];
      return;
    }
    const ps = this.#pieces;
    let i = this.#firstEndingAfter(from);
    if (i < ps.length && seqLt(ps[i].seq, from)) {
      const p = ps[i];
      const keep = seqSub(from, p.seq);
      this.#addBytes(-(p.data.length - keep));
      ps[i] = { seq: p.seq, end: from, data: p.data.subarray(0, keep) };
      i++;
    }
    for (let j = i; j < ps.length; j++) this.#addBytes(-ps[j].data.length);
    ps.length = i;
    this.#syncPieces();
    if (this.#fin !== undefined && seqGe(this.#fin, from)) this.#fin = undefined;
    this.#recent = this.#recent.filter((s) => seqLt(s, from));
  }
}
