import type { MemoryAccount } from './memory.ts';

/**
 * A bounded byte ring that grows lazily (doubling) up to its limit, so idle
 * connections hold no buffer memory. Used for the send and receive buffers.
 * With an `account` (the TCP layer's memory, memory.ts), the bytes held are charged
 * to it, and the ring accepts no more than the account has available.
 */
export class ByteRing {
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #length = 0;
  /** Maximum bytes held. May be changed (SO_SNDBUF/SO_RCVBUF); never drops held bytes. */
  limit: number;
  readonly #account: MemoryAccount | undefined;
  constructor(limit: number, account?: MemoryAccount) {
    this.limit = limit;
    this.#account = account;
  }
  get length(): number {
    return this.#length;
  }
  /** Bytes push() would take now: room under the limit, and in the memory account. */
  get space(): number {
    const own = Math.max(0, this.limit - this.#length);
    return this.#account ? Math.min(own, this.#account.available) : own;
  }
  /**
   * Appends as much of `data` as fits; returns the count appended. `force`: append all of
   * it even beyond the limit and the memory account (received data inside a window we
   * already advertised, which the caller has admitted: receiver.ts admitData).
   */
  push(data: Uint8Array, force = false): number {
    const n = force ? data.length : Math.min(data.length, this.space);
    if (n === 0) return 0;
    this.ensure(this.#length + n);
    const buf = this.#buf;
    const cap = buf.length;
    const end = (this.#start + this.#length) % cap;
    const first = Math.min(n, cap - end);
    if (n <= SMALL_COPY) {
      // A few bytes (request/response) are copied by hand: no views, no set() calls.
      for (let i = 0, j = end; i < n; i++, j = j + 1 === cap ? 0 : j + 1) buf[j] = data[i]!;
    } else {
      buf.set(first === data.length ? data : data.subarray(0, first), end);
      if (first < n) buf.set(data.subarray(first, n), 0);
    }
    this.#length += n;
    this.#account?.charge(n);
    return n;
  }
  /**
   * A view of bytes [off, off+len) from the head. Zero-copy when contiguous,
   * otherwise copied into `scratch` (which must hold len bytes). Valid until the next mutation.
   */
  peek(off: number, len: number, scratch: Uint8Array): Uint8Array {
    const cap = this.#buf.length;
    const s = (this.#start + off) % cap;
    if (cap <= MIN_CAPACITY) {
      // A ring this small lives on V8's heap (see ensure): a view of it would move it out to
      // an ArrayBuffer of its own, the allocation the small start avoids. Its bytes are copied.
      const buf = this.#buf;
      for (let i = 0, j = s; i < len; i++, j = j + 1 === cap ? 0 : j + 1) scratch[i] = buf[j]!;
      return scratch.subarray(0, len);
    }
    if (s + len <= cap) return this.#buf.subarray(s, s + len);
    const first = cap - s;
    scratch.set(this.#buf.subarray(s, cap), 0);
    scratch.set(this.#buf.subarray(0, len - first), first);
    return scratch.subarray(0, len);
  }
  /** Copies bytes [off, off+len) from the head into `out` (which must hold len bytes), by hand: for a few bytes. */
  copyOut(off: number, len: number, out: Uint8Array): void {
    const buf = this.#buf;
    const cap = buf.length;
    for (let i = 0, j = (this.#start + off) % cap; i < len; i++, j = j + 1 === cap ? 0 : j + 1)
      out[i] = buf[j]!;
  }
  /** Removes up to n bytes from the head into a fresh array. */
  take(n: number): Uint8Array {
    n = Math.min(n, this.#length);
    const out = new Uint8Array(n);
    if (n === 0) return out;
    const cap = this.#buf.length;
    const first = Math.min(n, cap - this.#start);
    out.set(this.#buf.subarray(this.#start, this.#start + first), 0);
    if (first < n) out.set(this.#buf.subarray(0, n - first), first);
    this.consume(n);
    return out;
  }
  /** Moves up to `out.length` bytes from the head into `out` (one copy); returns the count. */
  takeInto(out: Uint8Array): number {
    const n = Math.min(out.length, this.#length);
    if (n === 0) return 0;
    const cap = this.#buf.length;
    const first = Math.min(n, cap - this.#start);
    out.set(this.#buf.subarray(this.#start, this.#start + first), 0);
    if (first < n) out.set(this.#buf.subarray(0, n - first), first);
    this.consume(n);
    return n;
  }
  /** The bytes are in a SharedArrayBuffer (`share`). */
  get shared(): boolean {
    return HAS_SAB && this.#buf.buffer instanceof SharedArrayBuffer;
  }
  /**
   * Moves the bytes into a SharedArrayBuffer of at least SHARED_MIN bytes, which growth keeps
   * (until the ring empties its buffer: trim, clear): a send ring whose super-segments go to
   * a device that gathers them by reference (TcpEnv.txGather). Bytes once pushed never move
   * within a buffer (growth copies them into a new one), so a view of them stays valid until
   * they are consumed. Not for a limit below SHARED_MIN, nor where the platform has no
   * SharedArrayBuffer. Not by default: V8 copies out of a SharedArrayBuffer slowly (~400 ns
   * more per MTU-sized segment, Node 20).
   */
  share(): void {
    if (!HAS_SAB || this.shared || this.limit < SHARED_MIN) return;
    this.moveTo(new Uint8Array(new SharedArrayBuffer(Math.max(this.#buf.length, SHARED_MIN))));
  }
  /** Drops n bytes from the head. */
  consume(n: number): void {
    n = Math.min(n, this.#length);
    if (n === 0) return;
    this.#length -= n;
    this.#account?.credit(n);
    this.#start = this.#length === 0 ? 0 : (this.#start + n) % this.#buf.length;
  }
  clear(): void {
    this.#account?.credit(this.#length);
    this.#start = 0;
    this.#length = 0;
    this.#buf = EMPTY;
  }
  /** An empty ring lets go of its buffer (an idle connection then holds none; it grows again on use). */
  trim(): void {
    if (this.#length !== 0) return;
    this.#start = 0;
    this.#buf = EMPTY;
  }
  // Private methods are TypeScript `private`, not `#`: `#` methods give every instance a
  // brand field, 8 bytes per connection (bench/idle.ts).
  private ensure(need: number): void {
    const cap = this.#buf.length;
    if (need <= cap) return;
    // Start at 64 bytes: V8 keeps typed arrays that small on its own heap, so a connection
    // that moves a few bytes (request/response, connect/echo/close) never allocates an
    // ArrayBuffer backing store, the costliest allocation on that path.
    let next = Math.max(cap * 2, MIN_CAPACITY);
    while (next < need) next *= 2;
    // At most the limit, but at least half as much again: a limit that rises a little at a
    // time (send-buffer autotuning, sndbuf-auto.ts) must not cost a copy of the whole ring
    // each time.
    next = Math.max(need, Math.min(next, Math.max(this.limit, need, cap + (cap >> 1))));
    this.moveTo(this.shared ? new Uint8Array(new SharedArrayBuffer(next)) : new Uint8Array(next));
  }
  private moveTo(nb: Uint8Array): void {
    const cap = this.#buf.length;
    if (this.#length > 0) {
      const first = Math.min(this.#length, cap - this.#start);
      nb.set(this.#buf.subarray(this.#start, this.#start + first), 0);
      if (first < this.#length) nb.set(this.#buf.subarray(0, this.#length - first), first);
    }
    this.#buf = nb;
    this.#start = 0;
  }
}

const EMPTY = new Uint8Array(0);
const MIN_CAPACITY = 64;
/** Smallest shared buffer: a ring smaller than that carries no super-segments worth gathering. */
const SHARED_MIN = 64 * 1024;
/** A browser page has SharedArrayBuffer only when cross-origin isolated. */
const HAS_SAB = typeof SharedArrayBuffer === 'function';
/** Pushes of at most this many bytes are copied byte by byte. */
const SMALL_COPY = 16;
