/**
 * UDP header codec (RFC 768). The checksum covers a pseudo-header supplied by the
 * caller as a partial sum (`pseudoHeaderSumV4/V6` from checksum.ts, with the UDP
 * length), then the header and data.
 */
import { checksumPartial, foldChecksum, internetChecksum } from './checksum.ts';
import { type WireError, wireError } from './error.ts';

export const UDP_HEADER_LEN = 8;

export interface UdpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
}

/** Zero-copy view over a UDP datagram. */
export class UdpView {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** Checks that the Length field is at least 8 and fits the bytes. */
  static check(bytes: Uint8Array): UdpView | WireError {
    if (bytes.length < UDP_HEADER_LEN) return wireError('truncated', `udp: ${bytes.length} < 8 bytes`);
    const v = new UdpView(bytes);
    const len = v.length;
    if (len < UDP_HEADER_LEN) return wireError('malformed', `udp: length field ${len} < 8`);
    if (len > bytes.length) return wireError('truncated', `udp: length field ${len} > ${bytes.length} bytes`);
    return v;
  }
  get srcPort(): number {
    return this.dv.getUint16(0);
  }
  set srcPort(v: number) {
    this.dv.setUint16(0, v);
  }
  get dstPort(): number {
    return this.dv.getUint16(2);
  }
  set dstPort(v: number) {
    this.dv.setUint16(2, v);
  }
  /** Length of header + data. */
  get length(): number {
    return this.dv.getUint16(4);
  }
  set length(v: number) {
    this.dv.setUint16(4, v);
  }
  get checksum(): number {
    return this.dv.getUint16(6);
  }
  set checksum(v: number) {
    this.dv.setUint16(6, v);
  }
  /** Data bounded by the Length field. */
  get payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LEN, this.length);
  }
  /** Verifies the checksum given the pseudo-header partial sum (a zero field passes: "no checksum"). */
  verifyChecksum(pseudoSum: number): boolean {
    if (this.checksum === 0) return true;
    return foldChecksum(checksumPartial(this.bytes.subarray(0, this.length), pseudoSum)) === 0xffff;
  }
  /** Computes the checksum in place; a computed zero is sent as 0xffff (RFC 768). */
  fillChecksum(pseudoSum: number): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes.subarray(0, this.length), pseudoSum) || 0xffff;
  }
}

export function udpHeaderLength(_repr?: UdpRepr): number {
  return UDP_HEADER_LEN;
}

export interface UdpParseOptions {
  /**
   * Whether a zero checksum field ("no checksum") is accepted. True for IPv4
   * (RFC 768); IPv6 requires a checksum (RFC 8200 §8.1), so pass false there.
   */
  readonly allowZeroChecksum?: boolean;
}

/**
 * Parses a UDP datagram. When `pseudoSum` is given the checksum is verified (a zero
 * field means none was sent, for IPv4). `payload` is bounded by the Length field.
 */
export function parseUdp(
  bytes: Uint8Array,
  pseudoSum?: number,
  opts?: UdpParseOptions,
): { repr: UdpRepr; payload: Uint8Array } | WireError {
  const v = UdpView.check(bytes);
  if (!(v instanceof UdpView)) return v;
  if (v.checksum === 0 && opts?.allowZeroChecksum === false) {
    return wireError('checksum', 'udp: zero checksum not allowed');
  }
  if (pseudoSum !== undefined && !v.verifyChecksum(pseudoSum)) {
    return wireError('checksum', `udp: bad checksum 0x${v.checksum.toString(16)}`);
  }
  return { repr: { srcPort: v.srcPort, dstPort: v.dstPort }, payload: v.payload };
}

/**
 * Writes header and `payload` into `out` and returns 8 + payload length. With
 * `pseudoSum` (covering length 8 + payload.length) the checksum is computed, and a
 * computed 0 is sent as 0xffff; without it the field is 0 (no checksum, IPv4 only).
 * `payload` may already sit at out[8..] (emit in place).
 */
export function emitUdp(repr: UdpRepr, payload: Uint8Array, out: Uint8Array, pseudoSum?: number): number {
  const len = UDP_HEADER_LEN + payload.length;
  if (len > 0xffff) throw new RangeError(`emitUdp: length ${len} > 65535`);
  if (out.length < len) throw new RangeError(`emitUdp: buffer ${out.length} < ${len}`);
  const v = new UdpView(out.subarray(0, len));
  v.srcPort = repr.srcPort;
  v.dstPort = repr.dstPort;
  v.length = len;
  if (payload.buffer !== out.buffer || payload.byteOffset !== out.byteOffset + UDP_HEADER_LEN) {
    out.set(payload, UDP_HEADER_LEN);
  }
  if (pseudoSum === undefined) v.checksum = 0;
  else v.fillChecksum(pseudoSum);
  return len;
}
