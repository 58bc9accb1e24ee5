/**
 * The TAP/TUN reader that runs in a worker_threads Worker.
 *
 * Why a worker: a blocking `fs.read` on a tun fd holds a libuv thread-pool thread
 * per outstanding read (the pool has 4), reaches only ~50k frames/s, and keeps the
 * process alive after close. Here a dedicated thread runs read(2) (through koffi) on the
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
  /**
   * ctl[0] = stop flag, ctl[1] = batches in flight, ctl[2] = the reader's thread id, ctl[3] =
   * frames read into a buffer given back (lent), all Atomics.
   */
  ctl: SharedArrayBuffer;
  /** poll(2) timeout in ms: a safety net; the eventfd normally wakes the worker. */
  pollTimeoutMs: number;
  /**
   * TapOptions.lendRx: large frames' buffers come back here (arrays of them) once the stack
   * has read their data, and are read into again before any new buffer is taken.
   */
  lent?: import('node:worker_threads').MessagePort;
}

/**
 * One message from the worker, frames in arrival order: `lens[i]` is a frame's size; small
 * frames sit back to back in `data`, a large one (`lens[i] & TAP_OWN_BUFFER`) is at the start
 * of the next buffer of `own`, which holds it alone.
 */
export interface TapBatch {
  type: 'batch';
  data: ArrayBuffer;
  lens: Uint32Array;
  own: ArrayBuffer[];
}

/** In TapBatch.lens: the frame has a buffer of its own (the low 31 bits are its size). */
export const TAP_OWN_BUFFER = 0x80000000;

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
  const data = wt.workerData as TapReaderData;
  const koffi = require(data.koffiPath) as {
    load(name: string): { func(decl: string): (...args: unknown[]) => number };
    errno(): number;
  };
  const libc = koffi.load('libc.so.6');
  const poll = libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
  // read(2) itself, not fs.readSync: every wake-up ends in a read that finds the fd empty,
  // and fs.readSync throws for EAGAIN, an Error with its stack (about 10 us, against 0.7 us
  // for the call here, measured on Node 20).
  const read = libc.func('long read(int fd, void *buf, unsigned long count)');
  const ERRNO: Record<number, string> = { 4: 'EINTR', 5: 'EIO', 11: 'EAGAIN', 19: 'ENODEV', 77: 'EBADFD' };
  const POLLIN = 0x1;
  const ctl = new Int32Array(data.ctl);
  // The thread id, for per-thread CPU accounting (/proc/self/task/TID/stat).
  Atomics.store(ctl, 2, libc.func('int gettid()')());
  const port = wt.parentPort!;

  // struct pollfd { int fd; short events; short revents; } x2: the tun fd and the wake eventfd.
  const pfds = Buffer.alloc(16);
  pfds.writeInt32LE(data.fd, 0);
  pfds.writeInt16LE(POLLIN, 4);
  pfds.writeInt32LE(data.wakeFd, 8);
  pfds.writeInt16LE(POLLIN, 12);

  // Every read lands in `frame`, a buffer of the largest frame's size, never zero-filled. A
  // large frame (a GSO super-segment) keeps it: the buffer is transferred as it is and a new
  // one taken, so its bytes are never copied here. Small frames are packed into `scratch`
  // and copied once per batch into a right-sized buffer.
  const OWN = 0x80000000;
  const large = Math.min(32 * 1024, data.maxFrame);
  let frame: Buffer = Buffer.allocUnsafeSlow(data.maxFrame);
  // Buffers given back (lendRx), at most FREE_MAX of them: a bulk receiver's window in frames.
  const free: ArrayBuffer[] = [];
  const FREE_MAX = 256;
  const nextFrame = (): Buffer => {
    const lent = data.lent;
    if (free.length === 0 && lent !== undefined) {
      for (let i = 0; i < 64; i++) {
        const m = wt.receiveMessageOnPort(lent);
        if (m === undefined) break;
        for (const b of m.message as ArrayBuffer[])
          if (b.byteLength === data.maxFrame && free.length < FREE_MAX) free.push(b);
      }
    }
    const b = free.pop();
    if (b === undefined) return Buffer.allocUnsafeSlow(data.maxFrame);
    Atomics.add(ctl, 3, 1);
    return Buffer.from(b);
  };
  const scratch = Buffer.allocUnsafe(data.batchBytes);
  const maxFrames = Math.ceil(data.batchBytes / 14) + 1;
  const lens = new Uint32Array(maxFrames);
  let own: ArrayBuffer[] = [];
  let used = 0;
  let ownBytes = 0;
  let count = 0;

  const flush = (): void => {
    if (count === 0) return;
    const out = Buffer.allocUnsafeSlow(used).buffer as ArrayBuffer;
    new Uint8Array(out).set(scratch.subarray(0, used));
    const outLens = lens.slice(0, count);
    Atomics.add(ctl, 1, 1);
    const msg: TapBatch = { type: 'batch', data: out, lens: outLens, own };
    port.postMessage(msg, [out, outLens.buffer, ...own]);
    own = [];
    used = 0;
    ownBytes = 0;
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
    const n = read(data.fd, frame, data.maxFrame);
    if (n < 0) {
      const errno = koffi.errno();
      if (errno === 11 /* EAGAIN, EWOULDBLOCK */) {
        flush();
        const r = poll(pfds, 2, data.pollTimeoutMs);
        if (r < 0 && koffi.errno() !== 4 /* EINTR */) {
          fail('EIO', koffi.errno(), `poll failed, errno ${koffi.errno()}`);
          break;
        }
        continue;
      }
      if (errno === 4) continue;
      // EBADFD / EIO: the interface went away (e.g. its namespace was deleted).
      flush();
      const code = ERRNO[errno] ?? `E${errno}`;
      fail(code, errno, `${code}: read failed (errno ${errno})`);
      break;
    }
    if (n <= 0) continue;
    if (n >= large) {
      lens[count++] = (n | OWN) >>> 0;
      own.push(frame.buffer as ArrayBuffer);
      ownBytes += n;
      frame = nextFrame();
    } else {
      scratch.set(frame.subarray(0, n), used);
      lens[count++] = n;
      used += n;
    }
    if (used + large > scratch.length || ownBytes >= scratch.length || count === maxFrames) flush();
  }
  flush();
}

/** The worker's source: a CommonJS script that runs `tapReaderMain`. */
export function tapReaderSource(): string {
  // Transpilers that keep function names (tsx/esbuild keepNames) wrap inner
  // functions in `__name(fn, "name")`; give the script a no-op one.
  return `'use strict';\nconst __name = (f) => f;\n(${tapReaderMain.toString()})(require);\n`;
}

/**
 * The writer side: frames go from the main thread into a ring in a SharedArrayBuffer and a
 * second worker writes them to the fd, so the write syscalls (and the kernel's receive
 * processing that runs inside them: a TAP write hands the frame straight to the kernel's
 * network stack) overlap with the stack's own work instead of adding to it.
 *
 * Ring layout: `ring` holds records [u32 length][frame, padded to 4 bytes]; a length of
 * RING_WRAP (or fewer than 4 bytes left) sends the reader back to offset 0; a length of
 * RING_MSG (no bytes follow) stands for a large frame whose buffer was transferred in a
 * message on `port` instead of copied (one message costs less than copying 64 KiB into a
 * ring that does not stay in cache); written, such buffers go back to the stack in batches. `ctl` (Int32):
 * [0] stop flag, [1] bytes in use (records plus wrap waste; the producer adds after writing
 * a record, the writer subtracts after writing it to the fd, both with Atomics), [2] frames
 * the kernel refused (EINVAL/EIO...), [3] EAGAIN retries, [4] the writer's thread id, [5] 1 while
 * the writer sleeps until notified (the producer notifies only then).
 */
export interface TapWriterData {
  fd: number;
  /** Frames whose buffer is transferred come here (a RING_MSG record says when); written buffers go back on it. */
  port: import('node:worker_threads').MessagePort;
  /** Absolute path of the koffi package (for gettid). */
  koffiPath: string;
  ring: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  /** Atomics.wait timeout in ms while the ring is empty (a safety net; the producer notifies). */
  idleTimeoutMs: number;
  /**
   * Once the ring is empty the writer first waits this many times for `shortWaitMs` each
   * without asking to be woken (the producer does not notify it then), and only then sleeps
   * until notified: a bulk sender's next frame comes within that time, and a wake-up
   * (Atomics.notify, a futex wake) cost the stack's thread 30-40 µs per frame under load.
   */
  shortWaits: number;
  shortWaitMs: number;
}

/** A frame sent by message to the writer: its buffer (transferred, all of it the frame) and the header to write before it. */
export interface TapWriterFrame {
  buf: ArrayBuffer;
  head: Uint8Array | null;
}

/** A shared buffer the writer reads gathered payloads from (RING_SHARE), and the id records name it by. */
export interface TapWriterShared {
  sab: SharedArrayBuffer;
  id: number;
}

export const RING_WRAP = 0xffffffff;
/** A ring record of this length stands for the next TapWriterFrame message on the writer's port. */
export const RING_MSG = 0xfffffffe;
/**
 * A gathered frame: [RING_GATHER][head length][buffer id][offset][length] then the head (vnet
 * header and the frame's headers, padded to 4 bytes); the payload is `length` bytes at `offset`
 * of the shared buffer of that id, written after the head.
 */
export const RING_GATHER = 0xfffffffd;
/** The next message on the writer's port is a TapWriterShared: keep its buffer under its id. */
export const RING_SHARE = 0xfffffffc;
/** [RING_FORGET][id]: no later record names that shared buffer; let go of it. */
export const RING_FORGET = 0xfffffffb;
export const WCTL_STOP = 0;
export const WCTL_USED = 1;
export const WCTL_ERRORS = 2;
export const WCTL_RETRIES = 3;
export const WCTL_TID = 4;
export const WCTL_SLEEPING = 5;

/** Writer body. Self-contained, as tapReaderMain (constants repeated on purpose). */
export function tapWriterMain(require: RequireFn): void {
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const data = wt.workerData as TapWriterData;
  const ctl = new Int32Array(data.ctl);
  const size = data.ring.byteLength;
  const bytes = Buffer.from(data.ring);
  const view = new DataView(data.ring);
  const STOP = 0;
  const USED = 1;
  const ERRORS = 2;
  const RETRIES = 3;
  const WRAP = 0xffffffff;
  const koffi = require(data.koffiPath) as { load(name: string): { func(decl: string): () => number } };
  Atomics.store(ctl, 4, koffi.load('libc.so.6').func('int gettid()')());
  const SLEEPING = 5;
  const MSG = 0xfffffffe;
  const GATHER = 0xfffffffd;
  const SHARE = 0xfffffffc;
  const FORGET = 0xfffffffb;
  // Shared send-ring buffers gathered payloads are read from, by id (RING_SHARE).
  const shared = new Map<number, Buffer>();
  let done: ArrayBuffer[] = [];
  const giveBack = (): void => {
    if (done.length === 0) return;
    data.port.postMessage(done, done);
    done = [];
  };
  let pos = 0;
  let shortWaits = 0;
  for (;;) {
    const used = Atomics.load(ctl, USED);
    if (used === 0) {
      if (Atomics.load(ctl, STOP) !== 0) break;
      giveBack();
      if (shortWaits < data.shortWaits) {
        shortWaits++;
        Atomics.wait(ctl, USED, 0, data.shortWaitMs);
        continue;
      }
      // Say so before sleeping, then look once more: a producer that added a frame either
      // sees the flag (and notifies) or its frame is seen here (sequentially consistent).
      Atomics.store(ctl, SLEEPING, 1);
      if (Atomics.load(ctl, USED) === 0 && Atomics.load(ctl, STOP) === 0)
        Atomics.wait(ctl, USED, 0, data.idleTimeoutMs);
      Atomics.store(ctl, SLEEPING, 0);
      continue;
    }
    shortWaits = 0;
    if (size - pos < 4 || view.getUint32(pos, true) === WRAP) {
      Atomics.sub(ctl, USED, size - pos);
      pos = 0;
      continue;
    }
    const len = view.getUint32(pos, true);
    let rec: number;
    let frame: Uint8Array;
    let head: Uint8Array | null = null;
    let buf: ArrayBuffer | null = null;
    if (len === SHARE || len === FORGET) {
      if (len === SHARE) {
        const m = wt.receiveMessageOnPort(data.port)?.message as TapWriterShared | undefined;
        if (m === undefined) Atomics.add(ctl, ERRORS, 1);
        else shared.set(m.id, Buffer.from(m.sab));
      } else shared.delete(view.getUint32(pos + 4, true));
      rec = len === SHARE ? 4 : 8;
      pos += rec;
      if (pos >= size) pos = 0;
      Atomics.sub(ctl, USED, rec);
      continue;
    }
    if (len === GATHER) {
      const hl = view.getUint32(pos + 4, true);
      const b = shared.get(view.getUint32(pos + 8, true));
      const off = view.getUint32(pos + 12, true);
      rec = 20 + ((hl + 3) & ~3);
      head = bytes.subarray(pos + 20, pos + 20 + hl);
      if (b === undefined) {
        Atomics.add(ctl, ERRORS, 1);
        pos += rec;
        if (pos >= size) pos = 0;
        Atomics.sub(ctl, USED, rec);
        continue;
      }
      frame = b.subarray(off, off + view.getUint32(pos + 16, true));
    } else if (len === MSG) {
      // The frame came by message, its buffer transferred (posted before this record).
      const m = wt.receiveMessageOnPort(data.port)?.message as TapWriterFrame | undefined;
      rec = 4;
      if (m === undefined) {
        Atomics.add(ctl, ERRORS, 1);
        Atomics.sub(ctl, USED, rec);
        pos += rec;
        if (pos >= size) pos = 0;
        continue;
      }
      buf = m.buf;
      frame = new Uint8Array(buf);
      head = m.head;
    } else {
      rec = 4 + ((len + 3) & ~3);
      frame = bytes.subarray(pos + 4, pos + 4 + len);
    }
    // Bounded retries: a TAP write that would block is rare (the kernel queues or drops).
    for (let attempt = 0; attempt < 1000; attempt++) {
      try {
        if (head === null) fs.writeSync(data.fd, frame);
        else fs.writevSync(data.fd, [head, frame]);
        break;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if ((code === 'EAGAIN' || code === 'EWOULDBLOCK') && Atomics.load(ctl, STOP) === 0) {
          Atomics.add(ctl, RETRIES, 1);
          Atomics.wait(ctl, STOP, 0, 1);
          continue;
        }
        Atomics.add(ctl, ERRORS, 1);
        break;
      }
    }
    pos += rec;
    if (pos >= size) pos = 0;
    Atomics.sub(ctl, USED, rec);
    if (buf !== null) {
      // Written: the buffer goes back for the stack's next frame, several to a message.
      done.push(buf);
      if (done.length >= 8) giveBack();
    }
  }
  giveBack();
}

/** The writer worker's source (see tapReaderSource). */
export function tapWriterSource(): string {
  return `'use strict';\nconst __name = (f) => f;\n(${tapWriterMain.toString()})(require);\n`;
}
