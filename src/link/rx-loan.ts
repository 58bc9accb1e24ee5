/**
 * Receive buffers a device lends to the stack and gets back once the data in them was read
 * (as a NIC driver's receive ring gets its pages back when the last skb reference goes).
 * Receive by reference keeps payload as views of its frame until the application reads it,
 * so a device that hands up a fresh buffer per frame makes one garbage buffer per frame;
 * at bulk rates their collection (V8 runs a full GC per tens of MB of such external
 * memory) cost more than the data path itself (bench/tap-tcp.ts: 19 full GCs per GiB).
 *
 * Rule: a device lends only a buffer that is all of one frame and that nothing else refers
 * to once its `onReceive` returned. The holders that keep a view beyond that call count
 * themselves (`holdFrame` / `dropFrame`): TCP's receive queue does, for the pieces it keeps
 * by reference. When the last holder drops it, the buffer goes back to the device. A lent
 * frame nobody held is never given back; it is left to the garbage collector, as before.
 */

interface Loan {
  back: (buf: ArrayBuffer) => void;
  holds: number;
}

const loans = new WeakMap<ArrayBufferLike, Loan>();

/** Lends `frame`'s buffer: `back` receives it when the last holder has dropped it. */
export function lendFrame(frame: Uint8Array, back: (buf: ArrayBuffer) => void): void {
  loans.set(frame.buffer, { back, holds: 0 });
}

/** A view of `buf` is kept beyond the delivery (no-op unless the buffer was lent). */
export function holdFrame(buf: ArrayBufferLike): void {
  const l = loans.get(buf);
  if (l !== undefined) l.holds++;
}

/** A view kept with holdFrame is gone; the last one gives the buffer back. */
export function dropFrame(buf: ArrayBufferLike): void {
  const l = loans.get(buf);
  if (l === undefined || --l.holds > 0) return;
  loans.delete(buf);
  l.back(buf as ArrayBuffer);
}
