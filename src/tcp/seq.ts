/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4: "all arithmetic dealing
 * with sequence numbers must be performed modulo 2**32"). Values are plain unsigned
 * 32-bit numbers branded as `Seq`; never compare two of them with `<`.
 */
export type Seq = number & { readonly __seq: unique symbol };

export const seq = (n: number): Seq => (n >>> 0) as Seq;
export const seqAdd = (a: Seq, n: number): Seq => ((a + n) >>> 0) as Seq;
/** a - b as a signed 32-bit distance. */
export const seqSub = (a: Seq, b: Seq): number => (a - b) | 0;
export const seqLt = (a: Seq, b: Seq): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: Seq, b: Seq): boolean => ((a - b) | 0) <= 0;
export const seqGt = (a: Seq, b: Seq): boolean => ((a - b) | 0) > 0;
export const seqGe = (a: Seq, b: Seq): boolean => ((a - b) | 0) >= 0;
export const seqMax = (a: Seq, b: Seq): Seq => (seqGt(a, b) ? a : b);
export const seqMin = (a: Seq, b: Seq): Seq => (seqLt(a, b) ? a : b);
/** lo <= x < hi, modulo 2^32. */
export const seqInRange = (x: Seq, lo: Seq, hi: Seq): boolean => seqLe(lo, x) && seqLt(x, hi);
