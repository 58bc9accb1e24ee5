import type { Instant } from './instant.ts';

/**
 * What a timer calls when it fires: a function, or an object's `onTimer` method (no
 * closure per owner: a connection is its own timer target).
 */
export type TimerCallback = ((now: Instant) => void) | { onTimer(now: Instant): void };

/**
 * A timer owned by a TimerQueue. Cancelling or re-arming is O(1): the heap entry
 * is left behind and skipped when it surfaces (lazy deletion), so connections can
 * re-arm timers on every segment cheaply.
 */
export class Timer {
  /** Deadline while armed; undefined when idle. */
  deadline: Instant | undefined = undefined;
  /** Bumped on every (re)arm/cancel so stale heap entries can be recognised. */
  generation = 0;
  readonly #queue: TimerQueue;
  /** What the timer calls; a no-op once disposed. */
  callback: TimerCallback;
  constructor(queue: TimerQueue, callback: TimerCallback) {
    this.#queue = queue;
    this.callback = callback;
  }
  get armed(): boolean {
    return this.deadline !== undefined;
  }
  /** Arms (or re-arms) the timer to fire at `deadline`. */
  set(deadline: Instant): void {
    if (this.deadline !== undefined) this.#queue.noteCancel(); // the old heap entry is now stale
    this.deadline = deadline;
    this.generation++;
    this.#queue.push(this, deadline, this.generation);
  }
  cancel(): void {
    if (this.deadline === undefined) return;
    this.deadline = undefined;
    this.generation++;
    this.#queue.noteCancel();
  }
  /**
   * Cancels the timer for good (it must not be armed again) and lets go of its callback: the
   * heap entry it may leave behind (lazy deletion) then keeps only this small object alive,
   * not the owner. A closed connection's RTO entry, due long after it closed, would otherwise
   * hold the connection and its buffers until compaction, long enough to be promoted out of
   * the young generation (bench crr: about a thousand dead connections alive at any time).
   */
  dispose(): void {
    this.cancel();
    this.callback = DISPOSED;
  }
}

const DISPOSED: TimerCallback = () => {};

/**
 * Compaction waits for this many stale entries (and for them to be half the heap, so its
 * cost stays constant per cancel). Low, so the heap stays near its live size: one closed
 * connection leaves an entry due an RTO later, and at a thousand connections a second a
 * floor of 1024 kept a heap twice as deep as the live timers need (bench crr).
 */
const COMPACT_MIN = 64;

/**
 * A binary min-heap of (deadline, timer, generation) entries stored in parallel
 * arrays (no per-entry objects). Ties fire in insertion order.
 */
export class TimerQueue {
  #deadlines: number[] = [];
  #seqs: number[] = [];
  #timers: Timer[] = [];
  #gens: number[] = [];
  #seq = 0;
  #stale = 0;

  /**
   * Called when an arm makes a timer the earliest one, so a real-time driver
   * sleeping until the old earliest deadline can re-arm its wake-up (`kick()`).
   * Simulations ignore it: they ask `nextDeadline()` every step.
   */
  onEarliestChanged: ((deadline: Instant) => void) | null = null;

  /** Creates a timer bound to this queue; it is idle until `set`. */
  timer(callback: TimerCallback): Timer {
    return new Timer(this, callback);
  }

  /** Number of heap entries, including stale ones (for tests and stats). */
  get size(): number {
    return this.#timers.length;
  }

  /** @internal */
  noteCancel(): void {
    this.#stale++;
    // Compact when mostly garbage, so cancelled timers cannot pile up without bound.
    if (this.#stale > COMPACT_MIN && this.#stale > this.#timers.length / 2) this.#compact();
  }

  /** @internal */
  push(timer: Timer, deadline: Instant, gen: number): void {
    const i = this.#timers.length;
    this.#deadlines.push(deadline);
    this.#seqs.push(this.#seq++);
    this.#timers.push(timer);
    this.#gens.push(gen);
    this.#up(i);
    if (this.onEarliestChanged !== null && this.#timers[0] === timer && this.#gens[0] === gen) {
      this.onEarliestChanged(deadline);
    }
    if (this.#stale > COMPACT_MIN && this.#stale > this.#timers.length / 2) this.#compact();
  }

  /** The earliest live deadline, or undefined. */
  nextDeadline(): Instant | undefined {
    this.#dropStaleTop();
    return this.#timers.length ? this.#deadlines[0] : undefined;
  }

  /** Fires every timer due at or before `now`, earliest first. Returns how many fired. */
  runDue(now: Instant): number {
    let fired = 0;
    for (;;) {
      this.#dropStaleTop();
      if (this.#timers.length === 0 || this.#deadlines[0] > now) return fired;
      const t = this.#timers[0];
      this.#pop();
      t.deadline = undefined;
      t.generation++;
      fired++;
      const cb = t.callback;
      if (typeof cb === 'function') cb(now);
      else cb.onTimer(now);
    }
  }

  #dropStaleTop(): void {
    while (this.#timers.length) {
      const t = this.#timers[0];
      if (t.generation === this.#gens[0] && t.deadline === this.#deadlines[0]) return;
      this.#pop();
      if (this.#stale > 0) this.#stale--;
    }
  }

  #less(a: number, b: number): boolean {
    const da = this.#deadlines[a];
    const db = this.#deadlines[b];
    return da < db || (da === db && this.#seqs[a] < this.#seqs[b]);
  }

  #swap(a: number, b: number): void {
    const d = this.#deadlines;
    const s = this.#seqs;
    const t = this.#timers;
    const g = this.#gens;
    // Element by element through a temporary (a destructuring swap may build arrays).
    const dt = d[a];
    d[a] = d[b];
    d[b] = dt;
    const st = s[a];
    s[a] = s[b];
    s[b] = st;
    const tt = t[a];
    t[a] = t[b];
    t[b] = tt;
    const gt = g[a];
    g[a] = g[b];
    g[b] = gt;
  }

  #up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const n = this.#timers.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(l, m)) m = l;
      if (r < n && this.#less(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #pop(): void {
    const last = this.#timers.length - 1;
    if (last > 0) this.#swap(0, last);
    this.#deadlines.pop();
    this.#seqs.pop();
    this.#timers.pop();
    this.#gens.pop();
    if (last > 0) this.#down(0);
  }

  #compact(): void {
    const keep: number[] = [];
    for (let i = 0; i < this.#timers.length; i++) {
      const t = this.#timers[i];
      if (t.generation === this.#gens[i] && t.deadline === this.#deadlines[i]) keep.push(i);
    }
    const d = keep.map((i) => this.#deadlines[i]);
    const s = keep.map((i) => this.#seqs[i]);
    const t = keep.map((i) => this.#timers[i]);
    const g = keep.map((i) => this.#gens[i]);
    this.#deadlines = d;
    this.#seqs = s;
    this.#timers = t;
    this.#gens = g;
    this.#stale = 0;
    for (let i = (this.#timers.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }
}
