/**
 * The readiness waiters of a socket implementation: `waitReadable` / `waitWritable`
 * (backend.ts) park here until the socket's events call `wake()`. One helper for the
 * stack's stream and datagram sockets and the os backend's.
 */
export class Waiters {
  readonly #set = new Set<() => void>();

  /**
   * Resolves at the next `wake()`, or at once when `ready()` holds; rejects with the
   * signal's reason when it aborts (already aborted: at once). `ready()` is asked as the wait
   * is made, synchronously, so no wake-up can come in between and be lost. Without a
   * signal nothing cancels it (a blocking call with no timeout): no listener, the EventTarget
   * work a wait per recv would pay.
   */
  wait(signal: AbortSignal | undefined, ready?: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      // Without a signal the promise's own resolve waits in the set: no closure at all.
      let done: () => void = resolve;
      if (signal) {
        const onAbort = (): void => {
          this.#set.delete(done);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        done = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      }
      if (ready?.()) done();
      else this.#set.add(done);
    });
  }

  /** Lets every parked wait go (each then re-checks its socket). */
  wake(): void {
    // Letting a wait go runs no code synchronously (a resolve), so none is added meanwhile.
    for (const w of this.#set) w();
    this.#set.clear();
  }
}
