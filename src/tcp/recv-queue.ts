import type { MemoryAccount } from './memory.ts';

/**
 * A connection's receive buffer, holding received payload by reference: a large piece that
 * owns most of its frame's buffer is kept as a view of the frame (no copy; the Device
 * contract lets a receiver keep the frames it is handed), smaller pieces are copied into a
 * buffer of the queue's own, so a few bytes never pin a big frame or a shared slab. Reading
 * (`takeInto`, `take`) copies once, into the caller's buffer.
 *
 * Accounting, as the kernel's skb truesize: a kept frame is charged to the memory account at
 * its whole buffer's size until its last byte is read; copied bytes are charged as bytes (as
 * the send ring charges them). `limit` bounds the payload bytes held, as before.
 *
 * The same interface as ByteRing (ring.ts) where the receive path uses it.
 */
export class RecvQueue {
  /** Pieces in arrival order from `#head`; the first `#headOff` bytes of the head are read. */
  #chunks: Uint8Array[] = [];
  /** What each piece charged to the account (credited when it is wholly read). */
  #charges: number[] = [];
  #head = 0;
  #headOff = 0;
  #length = 0;
  /** The queue's own buffer small pieces are copied into, and how much of it is used. */
  #tail: Uint8Array = EMPTY;
  #tailUsed = 0;
  /** Whether the last piece lies in `#tail` (small pieces then extend it). */
  #lastInTail = false;
  /** Maximum payload bytes held. May be changed (SO_RCVBUF); never drops held bytes. */
  limit: number;
  readonly #account: MemoryAccount | undefined;

  constructor(limit: number, account?: MemoryAccount) {
    this.limit = limit;
    this.#account = account;
  }

  get length(): number {
    return this.#length;
  }

  /** What the queue has charged to the account for the bytes it holds (truesize, see above). */
  get charged(): number {
    let sum = 0;
    for (let i = this.#head; i < this.#charges.length; i++) sum += this.#charges[i];
    return sum;
  }

  /** What push(data, true) would charge to the account: a kept frame's whole buffer, else the bytes. */
  chargeFor(data: Uint8Array): number {
    const n = data.length;
    const truesize = data.buffer.byteLength;
    return n >= KEEP_MIN && 2 * n >= truesize ? truesize : n;
  }

  /** Bytes push() would take now: room under the limit, and in the memory account. */
  get space(): number {
    const own = Math.max(0, this.limit - this.#length);
    return this.#account ? Math.min(own, this.#account.available) : own;
  }

  /**
   * Appends as much of `data` as fits; returns the count appended. `force`: all of it, even
   * beyond the limit and the account (data inside a window already advertised, admitted by
   * the caller: receiver.ts admitData). `data` may be kept as a view: its bytes must not
   * change afterwards (a received frame's payload, which its receiver owns).
   */
  push(data: Uint8Array, force = false): number {
    const n = force ? data.length : Math.min(data.length, this.space);
    if (n === 0) return 0;
    const piece = n < data.length ? data.subarray(0, n) : data;
    const truesize = this.chargeFor(piece);
    if (truesize !== n) {
      this.#chunks.push(piece);
      this.#charges.push(truesize);
      this.#lastInTail = false;
      this.#account?.charge(truesize);
    } else this.#copyIn(piece);
    this.#length += n;
    return n;
  }

  #copyIn(piece: Uint8Array): void {
    const n = piece.length;
    let tail = this.#tail;
    if (this.#tailUsed + n > tail.length) {
      // A fresh buffer; pieces still unread in the old one keep it alive until read. Starts
      // at 64 bytes (kept on V8's heap, as ByteRing's) and grows with use, up to 64 KiB.
      let size = Math.max(MIN_TAIL, Math.min(2 * tail.length, MAX_TAIL));
      while (size < n) size *= 2;
      tail = this.#tail = new Uint8Array(size);
      this.#tailUsed = 0;
      this.#lastInTail = false;
    }
    const at = this.#tailUsed;
    tail.set(piece, at);
    this.#tailUsed = at + n;
    const chunks = this.#chunks;
    const last = chunks.length - 1;
    if (this.#lastInTail && last >= this.#head) {
      const prev = chunks[last];
      chunks[last] = tail.subarray(prev.byteOffset - tail.byteOffset, at + n);
      this.#charges[last] += n;
    } else {
      chunks.push(tail.subarray(at, at + n));
      this.#charges.push(n);
      this.#lastInTail = true;
    }
    this.#account?.charge(n);
  }

  /**
   * A view of bytes [off, off+len) from the head. Zero-copy within one piece, otherwise
   * copied into `scratch` (which must hold len bytes). Valid until the next mutation.
   */
  peek(off: number, len: number, scratch: Uint8Array): Uint8Array {
    const chunks = this.#chunks;
    let i = this.#head;
    let at = this.#headOff + off;
    while (i < chunks.length && at >= chunks[i].length) {
      at -= chunks[i].length;
      i++;
    }
    if (i >= chunks.length) return scratch.subarray(0, 0);
    if (at + len <= chunks[i].length) return chunks[i].subarray(at, at + len);
    let o = 0;
    while (o < len && i < chunks.length) {
      const c = chunks[i];
      const k = Math.min(len - o, c.length - at);
      scratch.set(c.subarray(at, at + k), o);
      o += k;
      at = 0;
      i++;
    }
    return scratch.subarray(0, o);
  }

  /** Removes up to n bytes from the head into a fresh array. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.#length));
    this.takeInto(out);
    return out;
  }

  /** Moves up to `out.length` bytes from the head into `out` (one copy); returns the count. */
  takeInto(out: Uint8Array): number {
    const n = Math.min(out.length, this.#length);
    let o = 0;
    const chunks = this.#chunks;
    let i = this.#head;
    let at = this.#headOff;
    while (o < n) {
      const c = chunks[i];
      const k = Math.min(n - o, c.length - at);
      out.set(k === c.length ? c : c.subarray(at, at + k), o);
      o += k;
      at += k;
      if (at === c.length) {
        i++;
        at = 0;
      }
    }
    this.consume(n);
    return n;
  }

  /** Drops n bytes from the head. */
  consume(n: number): void {
    n = Math.min(n, this.#length);
    if (n === 0) return;
    this.#length -= n;
    const chunks = this.#chunks;
    let left = n;
    while (left > 0) {
      const i = this.#head;
      const rest = chunks[i].length - this.#headOff;
      if (left < rest) {
        this.#headOff += left;
        break;
      }
      left -= rest;
      this.#account?.credit(this.#charges[i]);
      chunks[i] = EMPTY; // the frame may go
      this.#head = i + 1;
      this.#headOff = 0;
    }
    if (this.#length === 0) this.#reset();
    else if (this.#head > 64 && this.#head * 2 > chunks.length) {
      this.#chunks = chunks.slice(this.#head);
      this.#charges = this.#charges.slice(this.#head);
      this.#head = 0;
    }
  }

  clear(): void {
    const chunks = this.#chunks;
    for (let i = this.#head; i < chunks.length; i++) this.#account?.credit(this.#charges[i]);
    this.#length = 0;
    this.#reset();
    this.#tail = EMPTY;
  }

  /** Empty: forget the pieces; the own buffer is filled again from its start. */
  #reset(): void {
    this.#chunks.length = 0;
    this.#charges.length = 0;
    this.#head = 0;
    this.#headOff = 0;
    this.#tailUsed = 0;
    this.#lastInTail = false;
  }
}

const EMPTY = new Uint8Array(0);
/** Pieces at least this large, owning at least half their buffer, are kept by reference. */
const KEEP_MIN = 1024;
const MIN_TAIL = 64;
const MAX_TAIL = 64 * 1024;
