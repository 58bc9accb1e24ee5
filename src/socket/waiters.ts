/**
 * The readiness waiters of a socket implementation: `waitReadable` / `waitWritable`
 * (backend.ts) park here until the socket's events call `wake()`. One helper for the
 * stack's stream and datagram sockets and the os backend's.
 */
export class Waiters {
  readonly #set = new Set<() => void>();

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
      const onAbort = (): void => {
        this.#set.delete(done);
        reject(signal.reason);
      };
      const done = (): void => {
        this.#set.delete(done);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#set.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
      if (ready?.()) done();
    });
  }

  /** Lets every parked wait go (each then re-checks its socket). */
  wake(): void {
    if (this.#set.size === 0) return;
    for (const w of [...this.#set]) w();
  }
}
