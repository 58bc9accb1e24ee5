/**
 * IPv4 header codec (RFC 791 §3.1; DSCP/ECN per RFC 2474 and RFC 3168).
 *
 * `Ipv4Repr` describes the header; `payloadLength` stands in for Total Length
 * (total = header + payload), so a sender never computes it by hand. The fragment
 * offset is given in bytes (the wire field times 8). Options are raw bytes (a copy);
 * emit pads them to a multiple of 4 with zeros (End of Option List).
 *
 * The parser is `parseIpv4Packet` because `parseIpv4` (dotted-quad text) already
 * lives in address.ts.
 */
import type { Ipv4Address } from './address.ts';
import { foldChecksum, internetChecksum } from './checksum.ts';
import { type WireError, wireError } from './error.ts';

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_IGMP = 2;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const IP_PROTO_IPV6_ICMP = 58;

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_MAX_OPTIONS_LEN = 40;
/** Flags field bits in the 16-bit flags+offset word. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FLAG_RESERVED = 0x8000;
export const IPV4_OFFSET_MASK = 0x1fff;

export interface Ipv4Repr {
  /** Differentiated services code point (upper 6 bits of the old TOS octet). */
  readonly dscp: number;
  /** Explicit congestion notification (lower 2 bits). */
  readonly ecn: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** Raw option bytes (without padding requirements; emit pads to 4). Empty when none. */
  readonly options: Uint8Array;
  /** Length of the data after the header: Total Length minus the header length. */
  readonly payloadLength: number;
}

/**
 * Zero-copy view over an IPv4 header and its datagram. Fields are read and written
 * byte by byte (no DataView per packet); `reset(bytes)` re-points the view.
 */
export class Ipv4View {
  bytes: Uint8Array;
  #dv: DataView | undefined;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  /** Re-points the view at another datagram (unchecked: see `check`). Returns the view. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    this.#dv = undefined;
    return this;
  }
  /** A DataView over the bytes, made on first use. */
  get dv(): DataView {
    const b = this.bytes;
    this.#dv ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
    return this.#dv;
  }

  /**
   * Validates version, IHL and Total Length against the buffer (not the checksum).
   * RFC 791: "Internet Header Length is the length of the internet header in 32 bit
   * words ... the minimum value for a correct header is 5."
   */
  static check(bytes: Uint8Array): Ipv4View | WireError {
    if (bytes.length < IPV4_MIN_HEADER_LEN) return wireError('truncated', `ipv4: ${bytes.length} < 20 bytes`);
    const v = new Ipv4View(bytes);
    if (v.version !== 4) return wireError('malformed', `ipv4: version ${v.version}`);
    const hl = v.headerLength;
    if (hl < IPV4_MIN_HEADER_LEN) return wireError('malformed', `ipv4: IHL ${hl / 4} < 5`);
    if (bytes.length < hl) return wireError('truncated', `ipv4: header ${hl} > ${bytes.length} bytes`);
    const total = v.totalLength;
    if (total < hl) return wireError('malformed', `ipv4: total length ${total} < header ${hl}`);
    if (total > bytes.length)
      return wireError('truncated', `ipv4: total length ${total} > ${bytes.length} bytes`);
    return v;
  }

  get version(): number {
    return this.bytes[0] >>> 4;
  }
  /** Header length in bytes (IHL * 4). */
  get headerLength(): number {
    return (this.bytes[0] & 0x0f) * 4;
  }
  get dscp(): number {
    return this.bytes[1] >>> 2;
  }
  set dscp(v: number) {
    this.bytes[1] = ((v & 0x3f) << 2) | (this.bytes[1] & 3);
  }
  get ecn(): number {
    return this.bytes[1] & 3;
  }
  set ecn(v: number) {
    this.bytes[1] = (this.bytes[1] & 0xfc) | (v & 3);
  }
  get totalLength(): number {
    return (this.bytes[2] << 8) | this.bytes[3];
  }
  set totalLength(v: number) {
    this.bytes[2] = v >>> 8;
    this.bytes[3] = v;
  }
  get identification(): number {
    return (this.bytes[4] << 8) | this.bytes[5];
  }
  set identification(v: number) {
    this.bytes[4] = v >>> 8;
    this.bytes[5] = v;
  }
  get dontFragment(): boolean {
    return (this.bytes[6] & 0x40) !== 0;
  }
  set dontFragment(b: boolean) {
    this.bytes[6] = b ? this.bytes[6] | 0x40 : this.bytes[6] & ~0x40;
  }
  get moreFragments(): boolean {
    return (this.bytes[6] & 0x20) !== 0;
  }
  set moreFragments(b: boolean) {
    this.bytes[6] = b ? this.bytes[6] | 0x20 : this.bytes[6] & ~0x20;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (((this.bytes[6] << 8) | this.bytes[7]) & IPV4_OFFSET_MASK) * 8;
  }
  set fragmentOffset(bytes: number) {
    const w =
      (((this.bytes[6] << 8) | this.bytes[7]) & ~IPV4_OFFSET_MASK) | ((bytes >>> 3) & IPV4_OFFSET_MASK);
    this.bytes[6] = w >>> 8;
    this.bytes[7] = w;
  }
  get ttl(): number {
    return this.bytes[8];
  }
  set ttl(v: number) {
    this.bytes[8] = v;
  }
  get protocol(): number {
    return this.bytes[9];
  }
  set protocol(v: number) {
    this.bytes[9] = v;
  }
  get checksum(): number {
    return (this.bytes[10] << 8) | this.bytes[11];
  }
  set checksum(v: number) {
    this.bytes[10] = v >>> 8;
    this.bytes[11] = v;
  }
  get src(): Ipv4Address {
    return readU32(this.bytes, 12);
  }
  set src(a: Ipv4Address) {
    writeU32(this.bytes, 12, a);
  }
  get dst(): Ipv4Address {
    return readU32(this.bytes, 16);
  }
  set dst(a: Ipv4Address) {
    writeU32(this.bytes, 16, a);
  }
  /** Option bytes (a subarray). */
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_MIN_HEADER_LEN, this.headerLength);
  }
  /** The datagram's data, bounded by Total Length (link padding excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }
  /** True when the header checksum verifies. */
  verifyChecksum(): boolean {
    return foldChecksum(headerSum(this.bytes, 0, this.headerLength)) === 0xffff;
  }
  /** Recomputes the header checksum in place. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes.subarray(0, this.headerLength));
  }
}

export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LEN + ((repr.options.length + 3) & ~3);
}

export interface Ipv4ParseOptions {
  /** Skip checksum verification (e.g. checksum offload). Default true. */
  readonly verifyChecksum?: boolean;
}

/** Parses an IPv4 datagram. `payload` is bounded by Total Length (trailing link padding ignored). */
export function parseIpv4Packet(
  bytes: Uint8Array,
  opts?: Ipv4ParseOptions,
): { repr: Ipv4Repr; payload: Uint8Array } | WireError {
  const v = Ipv4View.check(bytes);
  if (!(v instanceof Ipv4View)) return v;
  if (opts?.verifyChecksum !== false && !v.verifyChecksum()) {
    return wireError('checksum', `ipv4: bad header checksum 0x${v.checksum.toString(16)}`);
  }
  const hl = v.headerLength;
  const total = v.totalLength;
  return {
    repr: {
      dscp: v.dscp,
      ecn: v.ecn,
      identification: v.identification,
      dontFragment: v.dontFragment,
      moreFragments: v.moreFragments,
      fragmentOffset: v.fragmentOffset,
      ttl: v.ttl,
      protocol: v.protocol,
      src: v.src,
      dst: v.dst,
      options: bytes.slice(IPV4_MIN_HEADER_LEN, hl),
      payloadLength: total - hl,
    },
    payload: bytes.subarray(hl, total),
  };
}

/**
 * Writes the header (checksum computed) into `out` at offset `at` (default 0),
 * returning the header length. The caller places `repr.payloadLength` bytes of data
 * after it.
 */
export function emitIpv4(repr: Ipv4Repr, out: Uint8Array, at = 0): number {
  const hl = ipv4HeaderLength(repr);
  if (hl > IPV4_MAX_HEADER_LEN) throw new RangeError(`emitIpv4: options too long (${repr.options.length})`);
  if (out.length < at + hl) throw new RangeError(`emitIpv4: buffer ${out.length} < ${at + hl}`);
  const total = hl + repr.payloadLength;
  if (total > 0xffff) throw new RangeError(`emitIpv4: total length ${total} > 65535`);
  const w0 = ((0x40 | (hl >>> 2)) << 8) | ((repr.dscp & 0x3f) << 2) | (repr.ecn & 3);
  const id = repr.identification & 0xffff;
  const flagsOffset =
    (repr.dontFragment ? IPV4_FLAG_DF : 0) |
    (repr.moreFragments ? IPV4_FLAG_MF : 0) |
    ((repr.fragmentOffset >>> 3) & IPV4_OFFSET_MASK);
  const w4 = ((repr.ttl & 0xff) << 8) | (repr.protocol & 0xff);
  const { src, dst } = repr;
  writeU16(out, at, w0);
  writeU16(out, at + 2, total);
  writeU16(out, at + 4, id);
  writeU16(out, at + 6, flagsOffset);
  writeU16(out, at + 8, w4);
  writeU32(out, at + 12, src);
  writeU32(out, at + 16, dst);
  // The checksum (RFC 1071) summed from the words as written, not read back from `out`
  // (no second pass over the bytes just stored).
  let sum =
    w0 + total + id + flagsOffset + w4 + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  if (hl > IPV4_MIN_HEADER_LEN) {
    out.set(repr.options, at + IPV4_MIN_HEADER_LEN);
    out.fill(0, at + IPV4_MIN_HEADER_LEN + repr.options.length, at + hl);
    sum += headerSum(out, at + IPV4_MIN_HEADER_LEN, at + hl);
  }
  const csum = ~foldChecksum(sum) & 0xffff;
  out[at + 10] = csum >>> 8;
  out[at + 11] = csum;
  return hl;
}

/** Partial sum of bytes [start, end) (an even count) as big-endian 16-bit words: headers are short. */
function headerSum(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  return s;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
