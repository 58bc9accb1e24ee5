/**
 * The TAP/TUN reader that runs in a worker_threads Worker.
 *
 * Why a worker: a blocking `fs.read` on a tun fd holds a libuv thread-pool thread
 * per outstanding read (the pool has 4), reaches only ~50k frames/s, and keeps the
 * process alive after close. Here a dedicated thread runs `readSync` on the
 * non-blocking fd, batches every frame it gets per wake-up into one ArrayBuffer,
 * and transfers that to the main thread in one message. When the fd is empty it
 * sleeps in poll(2) on the fd plus an eventfd that `close()` writes to, so the
 * worker stops at once.
 *
 * The worker runs this function's source text (`tapReaderSource()`), not a module
 * file: a Worker started from a `.ts` file does not get tsx's loader on Node 20, and
 * a built `dist/` has no `.ts`. So the function below must be self-contained: it
 * uses only its arguments (`require` and the worker data), no imports, no closures.
 */

/** What the main thread passes to the worker. */
export interface TapReaderData {
  /** The tun/tap fd (non-blocking; fds are process-wide so the worker may use it). */
  fd: number;
  /** eventfd the main thread writes to when it wants the worker to stop. */
  wakeFd: number;
  /** Absolute path of the koffi package (resolved by the main thread). */
  koffiPath: string;
  /** Largest frame one read may return; reads get this much room. */
  maxFrame: number;
  /** Scratch buffer size; a batch is flushed when less than `maxFrame` is left. */
  batchBytes: number;
  /** Most batches in flight (posted, not yet consumed) before the reader pauses. */
  maxInFlight: number;
  /** ctl[0] = stop flag, ctl[1] = batches in flight (Atomics). */
  ctl: SharedArrayBuffer;
  /** poll(2) timeout in ms: a safety net; the eventfd normally wakes the worker. */
  pollTimeoutMs: number;
}

/** One message from the worker: frames packed back to back in `data`, sizes in `lens`. */
export interface TapBatch {
  type: 'batch';
  data: ArrayBuffer;
  lens: Uint32Array;
}

export interface TapReaderError {
  type: 'error';
  code: string;
  /** Positive errno when known (libuv reports e.g. EBADFD as "Unknown system error -77"). */
  errno: number;
  message: string;
}

export type TapReaderMessage = TapBatch | TapReaderError;

type RequireFn = (id: string) => unknown;

/**
 * Worker body. Self-contained on purpose (see the file comment).
 */
export function tapReaderMain(require: RequireFn): void {
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const data = wt.workerData as TapReaderData;
  const koffi = require(data.koffiPath) as {
    load(name: string): { func(decl: string): (...args: unknown[]) => number };
    errno(): number;
  };
  const libc = koffi.load('libc.so.6');
  const poll = libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
  const POLLIN = 0x1;
  const ctl = new Int32Array(data.ctl);
  const port = wt.parentPort!;

  // struct pollfd { int fd; short events; short revents; } x2: the tun fd and the wake eventfd.
  const pfds = Buffer.alloc(16);
  pfds.writeInt32LE(data.fd, 0);
  pfds.writeInt16LE(POLLIN, 4);
  pfds.writeInt32LE(data.wakeFd, 8);
  pfds.writeInt16LE(POLLIN, 12);

  const scratch = Buffer.allocUnsafe(data.batchBytes);
  const maxFrames = Math.ceil(data.batchBytes / 14) + 1;
  const lens = new Uint32Array(maxFrames);
  let used = 0;
  let count = 0;

  const flush = (): void => {
    if (count === 0) return;
    // Copy the used part into a right-sized buffer and transfer it: one memcpy per
    // batch, and a quiet link does not cost a big allocation per frame.
    const out = new ArrayBuffer(used);
    new Uint8Array(out).set(scratch.subarray(0, used));
    const outLens = lens.slice(0, count);
    Atomics.add(ctl, 1, 1);
    const msg: TapBatch = { type: 'batch', data: out, lens: outLens };
    port.postMessage(msg, [out, outLens.buffer]);
    used = 0;
    count = 0;
  };

  const fail = (code: string, errno: number, message: string): void => {
    const msg: TapReaderError = { type: 'error', code, errno, message };
    port.postMessage(msg);
  };

  while (Atomics.load(ctl, 0) === 0) {
    // Back-pressure: the main thread has not caught up. Stop reading; the kernel's
    // queue fills and it drops (and counts) what does not fit.
    if (Atomics.load(ctl, 1) >= data.maxInFlight) {
      Atomics.wait(ctl, 1, Atomics.load(ctl, 1), data.pollTimeoutMs);
      continue;
    }
    let n: number;
    try {
      n = fs.readSync(data.fd, scratch, used, data.maxFrame, null);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        flush();
        const r = poll(pfds, 2, data.pollTimeoutMs);
        if (r < 0 && koffi.errno() !== 4 /* EINTR */) {
          fail('EIO', koffi.errno(), `poll failed, errno ${koffi.errno()}`);
          break;
        }
        continue;
      }
      if (code === 'EINTR') continue;
      // EBADFD / EIO: the interface went away (e.g. its namespace was deleted).
      flush();
      fail(code ?? 'EIO', Math.abs((e as { errno?: number }).errno ?? 5), (e as Error).message);
      break;
    }
    if (n <= 0) continue;
    lens[count++] = n;
    used += n;
    if (used + data.maxFrame > scratch.length || count === maxFrames) flush();
  }
  flush();
}

/** The worker's source: a CommonJS script that runs `tapReaderMain`. */
export function tapReaderSource(): string {
  // Transpilers that keep function names (tsx/esbuild keepNames) wrap inner
  // functions in `__name(fn, "name")`; give the script a no-op one.
  return `'use strict';\nconst __name = (f) => f;\n(${tapReaderMain.toString()})(require);\n`;
}
