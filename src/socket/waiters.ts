/**
 * The readiness waiters of a socket implementation: `waitReadable` / `waitWritable`
 * (backend.ts) park here until the socket's events call `wake()`. One helper for the
 * stack's stream and datagram sockets and the os backend's.
 */
export class Waiters {
  readonly #set = new Set<() => void>();

  /** Number of parked waits. */
  get size(): number {
    return this.#set.size;
  }

  /**
   * Resolves at the next `wake()`, or at once when `ready()` holds; rejects with the
   * signal's reason when it aborts (already aborted: at once). The wait is registered
   * before `ready()` is asked, so a wake-up that comes in between is not lost. Without a
   * signal nothing cancels it (a blocking call with no timeout): no listener, the EventTarget
   * work a wait per recv would pay.
   */
  wait(signal: AbortSignal | undefined, ready?: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        this.#set.delete(done);
        reject(signal!.reason);
      };
      const done = (): void => {
        this.#set.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#set.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
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
