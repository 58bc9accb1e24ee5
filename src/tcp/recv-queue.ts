import { dropFrame, holdFrame } from '../link/rx-loan.ts';
import { recycleRunFrame } from '../wire/gso.ts';
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
 * the send ring charges them). `limit` bounds the payload bytes held, as before. A kept
 * frame's buffer is held while a piece of it is queued, and dropped once that piece is read
 * (rx-loan.ts: a device that lent it gets it back).
 *
 * The same interface as ByteRing (ring.ts) where the receive path uses it.
 */
export class RecvQueue {
  // Pieces in arrival order from `#head`: piece i is #bufs[i][#starts[i], #ends[i]) (parallel
  // arrays, so appending to the own buffer allocates nothing), and what it charged the account.
  // Until the first piece they are shared empty arrays that nothing writes to (every write is
  // below #n): an idle connection holds no arrays of its own.
  #bufs: Uint8Array[] = NO_BUFS;
  #starts: number[] = NO_NUMBERS;
  #ends: number[] = NO_NUMBERS;
  #charges: number[] = NO_NUMBERS;
  #head = 0;
  /** Pieces in the arrays (slots past it are spare: emptying never shrinks the arrays). */
  #n = 0;
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
    for (let i = this.#head; i < this.#n; i++) sum += Math.abs(this.#charges[i]);
    return sum;
  }

  /** What push(data, true) would charge to the account: a kept frame's whole buffer, else the bytes. */
  chargeFor(data: Uint8Array): number {
    const n = data.length;
    if (n < KEEP_MIN) return n;
    const truesize = data.buffer.byteLength;
    return 2 * n >= truesize ? truesize : n;
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
   * change afterwards (a received frame's payload, which its receiver owns). `sole`: nothing
   * else refers to `data`'s frame (a segment's own in-order bytes), so once read a run
   * buffer of GRO's goes back to it (recycleRunFrame).
   */
  push(data: Uint8Array, force = false, sole = false): number {
    const n = force ? data.length : Math.min(data.length, this.space);
    if (n === 0) return 0;
    const truesize = n >= KEEP_MIN ? this.chargeFor(data) : n;
    if (truesize !== n) {
      // (A negative charge marks a piece whose frame is handed back once read.)
      this.add(data, 0, n, sole ? -truesize : truesize);
      holdFrame(data.buffer);
      this.#lastInTail = false;
      this.#account?.charge(truesize);
    } else {
      this.copyIn(data, n);
      // Copied: a run buffer of GRO's goes back at once (its next run is built after this
      // segment's processing returned; nothing else refers to a `sole` segment's frame). A few
      // bytes are no run (request/response): no lookup for them.
      if (sole && n > SMALL_COPY) recycleRunFrame(data);
    }
    this.#length += n;
    return n;
  }

  // Private methods are TypeScript `private`, not `#`: `#` methods give every instance a
  // brand field, 8 bytes per connection (bench/idle.ts).
  private copyIn(data: Uint8Array, n: number): void {
    let tail = this.#tail;
    if (this.#tailUsed + n > tail.length) {
      // A fresh buffer; pieces still unread in the old one keep it alive until read. Starts
      // at 64 bytes (kept on V8's heap, as ByteRing's) and doubles with use up to the limit,
      // so a steady stream of small pieces fills one buffer, emptied by reading, again and again.
      let size = Math.max(MIN_TAIL, Math.min(2 * tail.length, this.limit));
      while (size < n) size *= 2;
      tail = this.#tail = new Uint8Array(size);
      this.#tailUsed = 0;
      this.#lastInTail = false;
    }
    const at = this.#tailUsed;
    // A few bytes (request/response) are copied by hand: set() costs more than the loop.
    if (n <= SMALL_COPY) for (let i = 0; i < n; i++) tail[at + i] = data[i]!;
    else if (n === data.length) tail.set(data, at);
    else tail.set(data.subarray(0, n), at);
    this.#tailUsed = at + n;
    const last = this.#n - 1;
    if (this.#lastInTail && last >= this.#head) {
      this.#ends[last] = at + n;
      this.#charges[last] += n;
    } else {
      this.add(tail, at, at + n, n);
      this.#lastInTail = true;
    }
    this.#account?.charge(n);
  }

  private add(buf: Uint8Array, start: number, end: number, charge: number): void {
    if (this.#bufs === NO_BUFS) {
      // Arrays of one element (#n is 0 here, reset() ran): a connection that receives one
      // piece holds 4 small arrays, where empty ones grown by push() take 17 slots each (about
      // 600 bytes per connection; bench crr). A second piece grows them as push() does.
      this.#bufs = [buf];
      this.#starts = [start];
      this.#ends = [end];
      this.#charges = [charge];
      this.#n = 1;
      return;
    }
    const i = this.#n++;
    if (i < this.#bufs.length) {
      this.#bufs[i] = buf;
      this.#starts[i] = start;
      this.#ends[i] = end;
      this.#charges[i] = charge;
    } else {
      this.#bufs.push(buf);
      this.#starts.push(start);
      this.#ends.push(end);
      this.#charges.push(charge);
    }
  }

  /**
   * A view of bytes [off, off+len) from the head. Zero-copy within one piece, otherwise
   * copied into `scratch` (which must hold len bytes). Valid until the next mutation.
   */
  peek(off: number, len: number, scratch: Uint8Array): Uint8Array {
    const bufs = this.#bufs;
    const starts = this.#starts;
    const ends = this.#ends;
    let i = this.#head;
    let at = off;
    const n = this.#n;
    while (i < n && at >= ends[i] - starts[i]) {
      at -= ends[i] - starts[i];
      i++;
    }
    if (i >= n) return scratch.subarray(0, 0);
    if (starts[i] + at + len <= ends[i]) return bufs[i].subarray(starts[i] + at, starts[i] + at + len);
    let o = 0;
    while (o < len && i < n) {
      const from = starts[i] + at;
      const k = Math.min(len - o, ends[i] - from);
      scratch.set(bufs[i].subarray(from, from + k), o);
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
    if (n === 0) return 0;
    const bufs = this.#bufs;
    const starts = this.#starts;
    const ends = this.#ends;
    let o = 0;
    let i = this.#head;
    while (o < n) {
      const from = starts[i];
      const b = bufs[i];
      const k = Math.min(n - o, ends[i] - from);
      if (k <= SMALL_COPY) for (let j = 0; j < k; j++) out[o + j] = b[from + j]!;
      else out.set(from === 0 && k === b.length ? b : b.subarray(from, from + k), o);
      o += k;
      if (from + k === ends[i]) i++;
      else starts[i] = from + k;
    }
    this.release(i, n);
    return n;
  }

  /** Drops n bytes from the head. */
  consume(n: number): void {
    n = Math.min(n, this.#length);
    if (n === 0) return;
    const starts = this.#starts;
    const ends = this.#ends;
    let left = n;
    let i = this.#head;
    while (left > 0) {
      const rest = ends[i] - starts[i];
      if (left < rest) {
        starts[i] += left;
        break;
      }
      left -= rest;
      i++;
    }
    this.release(i, n);
  }

  /** Pieces before `upTo` were read wholly: their charges go back, their frames may go. */
  private release(upTo: number, n: number): void {
    this.#length -= n;
    const bufs = this.#bufs;
    const tail = this.#tail;
    for (let i = this.#head; i < upTo; i++) {
      const charge = this.#charges[i];
      const b = bufs[i];
      this.#account?.credit(Math.abs(charge));
      if (charge < 0) recycleRunFrame(b);
      // A kept frame was held (push); the queue's own buffer never was. Not even asked: `.buffer`
      // of a small buffer on V8's heap moves it off the heap (~0.3 µs, twice per crr connection).
      if (b !== tail) dropFrame(b.buffer);
      bufs[i] = EMPTY;
    }
    this.#head = upTo;
    if (this.#length === 0) this.reset();
    else if (upTo > 64 && upTo * 2 > this.#n) {
      this.#bufs = bufs.slice(upTo, this.#n);
      this.#starts = this.#starts.slice(upTo, this.#n);
      this.#ends = this.#ends.slice(upTo, this.#n);
      this.#charges = this.#charges.slice(upTo, this.#n);
      this.#n -= upTo;
      this.#head = 0;
    }
  }

  clear(): void {
    this.#length = 0;
    this.reset();
    this.#tail = EMPTY;
  }

  /**
   * An empty queue lets go of its storage (the piece arrays, its own buffer): an idle
   * connection then holds none (Tcb, when its last timer goes). Nothing when bytes are held.
   */
  trim(): void {
    if (this.#length !== 0) return;
    this.reset();
    this.#bufs = NO_BUFS;
    this.#starts = NO_NUMBERS;
    this.#ends = NO_NUMBERS;
    this.#charges = NO_NUMBERS;
    this.#tail = EMPTY;
  }

  /** Empty (or cleared): unread pieces give their charges back; the own buffer is filled again from its start. */
  private reset(): void {
    const bufs = this.#bufs;
    for (let i = this.#head; i < this.#n; i++) {
      const charge = this.#charges[i];
      this.#account?.credit(Math.abs(charge));
      if (charge < 0) recycleRunFrame(bufs[i]);
      bufs[i] = EMPTY;
    }
    this.#n = 0;
    this.#head = 0;
    this.#tailUsed = 0;
    this.#lastInTail = false;
  }
}

const EMPTY = new Uint8Array(0);
const NO_BUFS: Uint8Array[] = [];
const NO_NUMBERS: number[] = [];
/** Pieces at least this large, owning at least half their buffer, are kept by reference. */
const KEEP_MIN = 1024;
const MIN_TAIL = 64;
/** Copies of at most this many bytes go byte by byte (no view, no set() call). */
const SMALL_COPY = 16;
