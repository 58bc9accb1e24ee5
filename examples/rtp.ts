/**
 * The little of RTP (RFC 3550) the voice examples need: the 12-byte fixed header
 * (§5.1) and the receiver's statistics (§6.4.1 and Appendix A.3, A.8): packets expected
 * from the sequence numbers, packets lost, and the interarrival jitter.
 */

/** RFC 3551 §6: payload type 0 is PCMU (G.711 μ-law), 8000 samples per second. */
export const PT_PCMU = 0;
export const CLOCK_RATE = 8000;
export const HEADER_LEN = 12;

export interface RtpPacket {
  readonly seq: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payloadType: number;
  readonly payload: Uint8Array;
}

/** RFC 3550 §5.1: V=2, no padding, no extension, no CSRC, marker on the first packet. */
export function encodeRtp(p: RtpPacket, marker = false): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + p.payload.length);
  const dv = new DataView(out.buffer);
  out[0] = 2 << 6;
  out[1] = (marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  dv.setUint16(2, p.seq & 0xffff);
  dv.setUint32(4, p.timestamp >>> 0);
  dv.setUint32(8, p.ssrc >>> 0);
  out.set(p.payload, HEADER_LEN);
  return out;
}

/** The header of a datagram, or undefined when it is not RTP version 2. */
export function decodeRtp(b: Uint8Array): RtpPacket | undefined {
  if (b.length < HEADER_LEN || b[0] >> 6 !== 2) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const cc = b[0] & 0x0f;
  const at = HEADER_LEN + 4 * cc;
  if (at > b.length) return undefined;
  return {
    seq: dv.getUint16(2),
    timestamp: dv.getUint32(4),
    ssrc: dv.getUint32(8),
    payloadType: b[1] & 0x7f,
    payload: b.subarray(at),
  };
}

/** One synthetic 20 ms frame of a 440 Hz tone, μ-law-like 8-bit samples (no real codec). */
export function toneFrame(firstSample: number, samples = 160): Uint8Array {
  const out = new Uint8Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = 128 + Math.round(100 * Math.sin((2 * Math.PI * 440 * (firstSample + i)) / CLOCK_RATE));
  return out;
}

/** A receiver's view of one source (RFC 3550 Appendix A.3 and A.8). */
export class ReceiverStats {
  received = 0;
  outOfOrder = 0;
  duplicates = 0;
  #first = -1;
  /** Highest sequence number seen, extended past 16-bit wraps. */
  #highest = -1;
  #seen = new Set<number>();
  /** Interarrival jitter in timestamp units (J in §6.4.1). */
  #jitter = 0;
  #lastTransit: number | undefined;

  /** A packet arrived at `arrival` (in timestamp units, the receiver's clock). */
  add(p: RtpPacket, arrival: number): void {
    let seq = p.seq;
    if (this.#highest >= 0) {
      // Extend to 32 bits: the nearest value to the highest seen (A.1's wrap handling).
      const base = this.#highest - (this.#highest & 0xffff);
      seq = base + p.seq;
      if (seq < this.#highest - 0x8000) seq += 0x10000;
      else if (seq > this.#highest + 0x8000) seq -= 0x10000;
    }
    if (this.#seen.has(seq)) {
      this.duplicates++;
      return;
    }
    this.#seen.add(seq);
    this.received++;
    if (this.#first < 0 || seq < this.#first) this.#first = seq;
    if (seq < this.#highest) this.outOfOrder++;
    else this.#highest = seq;
    // §6.4.1: D(i,j) = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16.
    const transit = arrival - p.timestamp;
    if (this.#lastTransit !== undefined) {
      const d = Math.abs(transit - this.#lastTransit);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }

  /** Packets the sequence numbers say were sent (A.3: extended max - base + 1). */
  get expected(): number {
    return this.#highest < 0 ? 0 : this.#highest - this.#first + 1;
  }

  /** Expected minus received (A.3), never negative. */
  get lost(): number {
    return Math.max(0, this.expected - this.received);
  }

  /** The jitter in milliseconds. */
  get jitterMs(): number {
    return (this.#jitter * 1000) / CLOCK_RATE;
  }
}
