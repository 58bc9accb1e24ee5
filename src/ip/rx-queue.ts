/**
 * An interface's receive queue: frames a device handed over, waiting for the stack's
 * next `poll` (Linux's per-CPU backlog, which net.core.netdev_max_backlog bounds). A
 * ring buffer that grows up to its capacity; a frame arriving when it is full is
 * dropped and counted.
 */

/**
 * Default capacity in frames. Deviation: larger than Linux's netdev_max_backlog (1000),
 * because a simulated link delivers a sender's whole burst at one instant (a 4 MiB
 * window is ~2900 frames at MTU 1500) where a real one would spread it out.
 */
export const RX_QUEUE_DEFAULT = 8192;

export class RxQueue {
  readonly capacity: number;
  #buf: (Uint8Array | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;
  /** Frames dropped because the queue was full. */
  drops = 0;

  constructor(capacity = RX_QUEUE_DEFAULT) {
    this.capacity = Math.max(1, capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** Queues `frame`; false (and a drop counted) when the queue is full. */
  push(frame: Uint8Array): boolean {
    if (this.#length >= this.capacity) {
      this.drops++;
      return false;
    }
    if (this.#length === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#length) & (this.#buf.length - 1)] = frame;
    this.#length++;
    return true;
  }

  /** The oldest frame, removed; undefined when empty. */
  shift(): Uint8Array | undefined {
    if (this.#length === 0) return undefined;
    const f = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#length--;
    return f;
  }

  #grow(): void {
    // The buffer length stays a power of two so positions wrap with a mask.
    const old = this.#buf;
    const next: (Uint8Array | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
