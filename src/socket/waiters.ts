/**
 * The readiness waiters of a socket implementation: `waitReadable` / `waitWritable`
 * (backend.ts) park here until the socket's events call `wake()`. One helper for the
 * stack's stream and datagram sockets and the os backend's.
 */
/**
 * The signal of a wait nothing can cancel (a blocking call without a timeout): Waiters.wait
 * registers no abort listener on it, the EventTarget work a wait per recv would pay.
 */
export const NO_ABORT: AbortSignal = new AbortController().signal;

export class Waiters {
  readonly #set = new Set<() => void>();

  /** Number of parked waits. */
  get size(): number {
    return this.#set.size;
  }

  /**
   * Resolves at the next `wake()`, or at once when `ready()` holds; rejects with the
   * signal's reason when it aborts (already aborted: at once). The wait is registered
   * before `ready()` is asked, so a wake-up that comes in between is not lost.
   */
  wait(signal: AbortSignal, ready?: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const live = signal !== NO_ABORT;
      const onAbort = (): void => {
        this.#set.delete(done);
        reject(signal.reason);
      };
      const done = (): void => {
        this.#set.delete(done);
        if (live) signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#set.add(done);
      if (live) signal.addEventListener('abort', onAbort, { once: true });
      if (ready?.()) done();
    });
  }

  /** Lets every parked wait go (each then re-checks its socket). */
  wake(): void {
    // Each wait deletes itself, which a Set's iteration allows; none is added meanwhile (a
    // resolve runs no code synchronously), so no copy of the set.
    for (const w of this.#set) w();
  }
}
