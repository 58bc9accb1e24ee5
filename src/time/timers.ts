import type { Instant } from './instant.ts';

/**
 * What a timer calls when it fires: a function, or an object's `onTimer` method (no
 * closure per owner: a connection is its own timer target).
 */
export type TimerCallback = ((now: Instant) => void) | { onTimer(now: Instant): void };

/**
 * A timer owned by a TimerQueue. Arming, re-arming and cancelling are O(log n) in place:
 * the timer knows its heap slot, so a re-armed timer moves there (no entry left behind to
 * skip later) and a cancelled one leaves the heap at once.
 */
export class Timer {
  /** Deadline while armed; undefined when idle. */
  deadline: Instant | undefined = undefined;
  /** Bumped on every (re)arm/cancel (an arm's identity, for whoever keeps one). */
  generation = 0;
  /** @internal The heap slot while armed, -1 when idle. */
  index = -1;
  /** @internal Arming order: ties fire in it (a re-arm takes a fresh place). */
  seq = 0;
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
    this.deadline = deadline;
    this.generation++;
    this.#queue.place(this);
  }
  cancel(): void {
    if (this.deadline === undefined) return;
    this.deadline = undefined;
    this.generation++;
    this.#queue.remove(this);
  }
  /**
   * Cancels the timer for good (it must not be armed again) and lets go of its callback, so
   * nothing it was made for stays reachable through it.
   */
  dispose(): void {
    this.cancel();
    this.callback = DISPOSED;
  }
}

const DISPOSED: TimerCallback = () => {};

/**
 * A binary min-heap of armed timers, each knowing its slot (an indexed heap: no stale
 * entries, so the heap is exactly the armed timers). Ties fire in arming order.
 */
export class TimerQueue {
  readonly #heap: Timer[] = [];
  #seq = 0;

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

  /** Number of armed timers. */
  get size(): number {
    return this.#heap.length;
  }

  /** @internal `t` was armed (its deadline set): into the heap, or moved within it. */
  place(t: Timer): void {
    t.seq = this.#seq++;
    const heap = this.#heap;
    let i = t.index;
    if (i < 0) {
      i = heap.length;
      heap.push(t);
      t.index = i;
      this.#up(i);
    } else if (!this.#up(i)) this.#down(i);
    if (this.onEarliestChanged !== null && heap[0] === t) this.onEarliestChanged(t.deadline!);
  }

  /** @internal `t` was cancelled: out of the heap. */
  remove(t: Timer): void {
    const i = t.index;
    if (i < 0) return;
    t.index = -1;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (last === t) return;
    heap[i] = last;
    last.index = i;
    if (!this.#up(i)) this.#down(i);
  }

  /** The earliest deadline, or undefined. */
  nextDeadline(): Instant | undefined {
    const heap = this.#heap;
    return heap.length ? heap[0]!.deadline : undefined;
  }

  /** Fires every timer due at or before `now`, earliest first. Returns how many fired. */
  runDue(now: Instant): number {
    const heap = this.#heap;
    let fired = 0;
    for (;;) {
      if (heap.length === 0) return fired;
      const t = heap[0]!;
      if (t.deadline! > now) return fired;
      this.remove(t);
      t.deadline = undefined;
      t.generation++;
      fired++;
      const cb = t.callback;
      if (typeof cb === 'function') cb(now);
      else cb.onTimer(now);
    }
  }

  #less(a: Timer, b: Timer): boolean {
    const da = a.deadline!;
    const db = b.deadline!;
    return da < db || (da === db && a.seq < b.seq);
  }

  /** Moves slot i's timer towards the root while it is earlier; whether it moved. */
  #up(i: number): boolean {
    const heap = this.#heap;
    const t = heap[i]!;
    const from = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = heap[p]!;
      if (!this.#less(t, pt)) break;
      heap[i] = pt;
      pt.index = i;
      i = p;
    }
    heap[i] = t;
    t.index = i;
    return i !== from;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const t = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && this.#less(heap[r]!, heap[l]!)) m = r;
      const mt = heap[m]!;
      if (!this.#less(mt, t)) break;
      heap[i] = mt;
      mt.index = i;
      i = m;
    }
    heap[i] = t;
    t.index = i;
  }
}
