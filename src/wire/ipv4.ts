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
import { checksumPartial, foldChecksum, internetChecksum } from './checksum.ts';
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

/** Zero-copy view over an IPv4 header and its datagram. */
export class Ipv4View {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
    return this.dv.getUint16(2);
  }
  set totalLength(v: number) {
    this.dv.setUint16(2, v);
  }
  get identification(): number {
    return this.dv.getUint16(4);
  }
  set identification(v: number) {
    this.dv.setUint16(4, v);
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
    return (this.dv.getUint16(6) & IPV4_OFFSET_MASK) * 8;
  }
  set fragmentOffset(bytes: number) {
    this.dv.setUint16(6, (this.dv.getUint16(6) & ~IPV4_OFFSET_MASK) | ((bytes >>> 3) & IPV4_OFFSET_MASK));
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
    return this.dv.getUint16(10);
  }
  set checksum(v: number) {
    this.dv.setUint16(10, v);
  }
  get src(): Ipv4Address {
    return this.dv.getUint32(12);
  }
  set src(a: Ipv4Address) {
    this.dv.setUint32(12, a);
  }
  get dst(): Ipv4Address {
    return this.dv.getUint32(16);
  }
  set dst(a: Ipv4Address) {
    this.dv.setUint32(16, a);
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
    return foldChecksum(checksumPartial(this.bytes.subarray(0, this.headerLength), 0)) === 0xffff;
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
 * Writes the header (checksum computed) into `out`, returning the header length.
 * The caller places `repr.payloadLength` bytes of data after it.
 */
export function emitIpv4(repr: Ipv4Repr, out: Uint8Array): number {
  const hl = ipv4HeaderLength(repr);
  if (hl > IPV4_MAX_HEADER_LEN) throw new RangeError(`emitIpv4: options too long (${repr.options.length})`);
  if (out.length < hl) throw new RangeError(`emitIpv4: buffer ${out.length} < ${hl}`);
  const total = hl + repr.payloadLength;
  if (total > 0xffff) throw new RangeError(`emitIpv4: total length ${total} > 65535`);
  const dv = new DataView(out.buffer, out.byteOffset, hl);
  out[0] = 0x40 | (hl >>> 2);
  out[1] = ((repr.dscp & 0x3f) << 2) | (repr.ecn & 3);
  dv.setUint16(2, total);
  dv.setUint16(4, repr.identification);
  dv.setUint16(
    6,
    (repr.dontFragment ? IPV4_FLAG_DF : 0) |
      (repr.moreFragments ? IPV4_FLAG_MF : 0) |
      ((repr.fragmentOffset >>> 3) & IPV4_OFFSET_MASK),
  );
  out[8] = repr.ttl;
  out[9] = repr.protocol;
  dv.setUint16(10, 0);
  dv.setUint32(12, repr.src);
  dv.setUint32(16, repr.dst);
  out.set(repr.options, IPV4_MIN_HEADER_LEN);
  out.fill(0, IPV4_MIN_HEADER_LEN + repr.options.length, hl);
  dv.setUint16(10, internetChecksum(out.subarray(0, hl)));
  return hl;
}
