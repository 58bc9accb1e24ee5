/**
 * ICMP for IPv4 (RFC 792; Fragmentation Needed's Next-Hop MTU per RFC 1191 §4;
 * codes per RFC 1122 §3.2.2.1 and RFC 1812 §5.2.7.1).
 *
 * The repr is a union discriminated by `kind`. Byte fields (`data`, `invoking`)
 * alias the input bytes (zero-copy); copy them to keep them past the packet.
 * Error messages carry the quoted original datagram in `invoking`;
 * `parseIcmpv4Invoking` extracts the addresses and ports needed for demux.
 */
import type { Ipv4Address } from './address.ts';
import { checksumPartial, foldChecksum, internetChecksum } from './checksum.ts';
import { type WireError, wireError } from './error.ts';

export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV4_DEST_UNREACHABLE = 3;
export const ICMPV4_SOURCE_QUENCH = 4;
export const ICMPV4_REDIRECT = 5;
export const ICMPV4_ECHO_REQUEST = 8;
export const ICMPV4_TIME_EXCEEDED = 11;
export const ICMPV4_PARAMETER_PROBLEM = 12;
export const ICMPV4_TIMESTAMP = 13;
export const ICMPV4_TIMESTAMP_REPLY = 14;

/** Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const ICMPV4_UNREACH_NET = 0;
export const ICMPV4_UNREACH_HOST = 1;
export const ICMPV4_UNREACH_PROTOCOL = 2;
export const ICMPV4_UNREACH_PORT = 3;
/** Fragmentation needed and DF set; carries the Next-Hop MTU (RFC 1191). */
export const ICMPV4_UNREACH_FRAG_NEEDED = 4;
export const ICMPV4_UNREACH_SOURCE_ROUTE = 5;
export const ICMPV4_UNREACH_NET_UNKNOWN = 6;
export const ICMPV4_UNREACH_HOST_UNKNOWN = 7;
export const ICMPV4_UNREACH_SOURCE_ISOLATED = 8;
export const ICMPV4_UNREACH_NET_PROHIBITED = 9;
export const ICMPV4_UNREACH_HOST_PROHIBITED = 10;
export const ICMPV4_UNREACH_NET_TOS = 11;
export const ICMPV4_UNREACH_HOST_TOS = 12;
export const ICMPV4_UNREACH_ADMIN_PROHIBITED = 13;
export const ICMPV4_UNREACH_HOST_PRECEDENCE = 14;
export const ICMPV4_UNREACH_PRECEDENCE_CUTOFF = 15;

/** Time Exceeded codes. */
export const ICMPV4_TIME_EXCEEDED_TTL = 0;
export const ICMPV4_TIME_EXCEEDED_REASSEMBLY = 1;

/** Redirect codes. */
export const ICMPV4_REDIRECT_NET = 0;
export const ICMPV4_REDIRECT_HOST = 1;
export const ICMPV4_REDIRECT_TOS_NET = 2;
export const ICMPV4_REDIRECT_TOS_HOST = 3;

/** Parameter Problem codes. */
export const ICMPV4_PARAMPROB_POINTER = 0;
export const ICMPV4_PARAMPROB_MISSING_OPTION = 1;
export const ICMPV4_PARAMPROB_BAD_LENGTH = 2;

export const ICMPV4_HEADER_LEN = 8;

export type Icmpv4Repr =
  | { readonly kind: 'echoRequest'; readonly ident: number; readonly seq: number; readonly data: Uint8Array }
  | { readonly kind: 'echoReply'; readonly ident: number; readonly seq: number; readonly data: Uint8Array }
  | {
      readonly kind: 'destUnreachable';
      readonly code: number;
      /** Next-Hop MTU (RFC 1191) for code 4; zero otherwise (the field is unused). */
      readonly nextHopMtu: number;
      readonly invoking: Uint8Array;
    }
  | { readonly kind: 'timeExceeded'; readonly code: number; readonly invoking: Uint8Array }
  | {
      readonly kind: 'parameterProblem';
      readonly code: number;
      /** Octet offset into the invoking datagram where the error was found. */
      readonly pointer: number;
      readonly invoking: Uint8Array;
    }
  | {
      readonly kind: 'redirect';
      readonly code: number;
      readonly gateway: Ipv4Address;
      readonly invoking: Uint8Array;
    }
  | {
      /** Any other type: the second header word (`rest`) and the body are kept raw. */
      readonly kind: 'other';
      readonly type: number;
      readonly code: number;
      readonly rest: number;
      readonly data: Uint8Array;
    };

/** Zero-copy view over an ICMPv4 message. */
export class Icmpv4View {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  static check(bytes: Uint8Array): Icmpv4View | WireError {
    if (bytes.length < ICMPV4_HEADER_LEN) return wireError('truncated', `icmpv4: ${bytes.length} < 8 bytes`);
    return new Icmpv4View(bytes);
  }
  get type(): number {
    return this.bytes[0];
  }
  set type(v: number) {
    this.bytes[0] = v;
  }
  get code(): number {
    return this.bytes[1];
  }
  set code(v: number) {
    this.bytes[1] = v;
  }
  get checksum(): number {
    return this.dv.getUint16(2);
  }
  set checksum(v: number) {
    this.dv.setUint16(2, v);
  }
  /** The second 32-bit word (identifier+sequence, pointer, gateway, MTU...). */
  get rest(): number {
    return this.dv.getUint32(4);
  }
  set rest(v: number) {
    this.dv.setUint32(4, v);
  }
  get ident(): number {
    return this.dv.getUint16(4);
  }
  set ident(v: number) {
    this.dv.setUint16(4, v);
  }
  get seq(): number {
    return this.dv.getUint16(6);
  }
  set seq(v: number) {
    this.dv.setUint16(6, v);
  }
  get body(): Uint8Array {
    return this.bytes.subarray(ICMPV4_HEADER_LEN);
  }
  /** The checksum covers the whole message. */
  verifyChecksum(): boolean {
    return foldChecksum(checksumPartial(this.bytes, 0)) === 0xffff;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes);
  }
}

function bodyOf(repr: Icmpv4Repr): Uint8Array {
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
    case 'other':
      return repr.data;
    default:
      return repr.invoking;
  }
}

/** Header length (always 8); the message is this plus the data or invoking bytes. */
export function icmpv4HeaderLength(_repr?: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN;
}

/** Total message length for emit. */
export function icmpv4Length(repr: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN + bodyOf(repr).length;
}

export interface Icmpv4ParseOptions {
  readonly verifyChecksum?: boolean;
}

/** Parses an ICMPv4 message (the whole IPv4 payload). `payload` is the body after the 8-byte header. */
export function parseIcmpv4(
  bytes: Uint8Array,
  opts?: Icmpv4ParseOptions,
): { repr: Icmpv4Repr; payload: Uint8Array } | WireError {
  const v = Icmpv4View.check(bytes);
  if (!(v instanceof Icmpv4View)) return v;
  if (opts?.verifyChecksum !== false && !v.verifyChecksum()) {
    return wireError('checksum', `icmpv4: bad checksum 0x${v.checksum.toString(16)}`);
  }
  const body = v.body;
  const code = v.code;
  let repr: Icmpv4Repr;
  switch (v.type) {
    case ICMPV4_ECHO_REQUEST:
    case ICMPV4_ECHO_REPLY:
      if (code !== 0) return wireError('malformed', `icmpv4: echo with code ${code}`);
      repr = {
        kind: v.type === ICMPV4_ECHO_REQUEST ? 'echoRequest' : 'echoReply',
        ident: v.ident,
        seq: v.seq,
        data: body,
      };
      break;
    case ICMPV4_DEST_UNREACHABLE:
      if (code > 15) return wireError('malformed', `icmpv4: destination unreachable code ${code}`);
      repr = { kind: 'destUnreachable', code, nextHopMtu: v.seq, invoking: body };
      break;
    case ICMPV4_TIME_EXCEEDED:
      if (code > 1) return wireError('malformed', `icmpv4: time exceeded code ${code}`);
      repr = { kind: 'timeExceeded', code, invoking: body };
      break;
    case ICMPV4_PARAMETER_PROBLEM:
      repr = { kind: 'parameterProblem', code, pointer: bytes[4], invoking: body };
      break;
    case ICMPV4_REDIRECT:
      if (code > 3) return wireError('malformed', `icmpv4: redirect code ${code}`);
      repr = { kind: 'redirect', code, gateway: v.rest, invoking: body };
      break;
    default:
      repr = { kind: 'other', type: v.type, code, rest: v.rest, data: body };
  }
  return { repr, payload: body };
}

/** Writes the whole message (header + data/invoking, checksum computed) and returns its length. */
export function emitIcmpv4(repr: Icmpv4Repr, out: Uint8Array): number {
  const body = bodyOf(repr);
  const len = ICMPV4_HEADER_LEN + body.length;
  if (out.length < len) throw new RangeError(`emitIcmpv4: buffer ${out.length} < ${len}`);
  const v = new Icmpv4View(out.subarray(0, len));
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      v.type = repr.kind === 'echoRequest' ? ICMPV4_ECHO_REQUEST : ICMPV4_ECHO_REPLY;
      v.code = 0;
      v.ident = repr.ident;
      v.seq = repr.seq;
      break;
    case 'destUnreachable':
      v.type = ICMPV4_DEST_UNREACHABLE;
      v.code = repr.code;
      v.ident = 0;
      v.seq = repr.nextHopMtu;
      break;
    case 'timeExceeded':
      v.type = ICMPV4_TIME_EXCEEDED;
      v.code = repr.code;
      v.rest = 0;
      break;
    case 'parameterProblem':
      v.type = ICMPV4_PARAMETER_PROBLEM;
      v.code = repr.code;
      v.rest = (repr.pointer & 0xff) * 0x1000000;
      break;
    case 'redirect':
      v.type = ICMPV4_REDIRECT;
      v.code = repr.code;
      v.rest = repr.gateway;
      break;
    case 'other':
      v.type = repr.type;
      v.code = repr.code;
      v.rest = repr.rest;
      break;
  }
  // body may alias out (emit in place); only copy when it does not.
  if (body.buffer !== out.buffer || body.byteOffset !== out.byteOffset + ICMPV4_HEADER_LEN) {
    out.set(body, ICMPV4_HEADER_LEN);
  }
  v.fillChecksum();
  return len;
}

/** What an ICMP error quotes: the original IPv4 header and the first bytes of its transport header. */
export interface Icmpv4Invoking {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly identification: number;
  /** Fragment offset in bytes; ports are only meaningful when it is 0. */
  readonly fragmentOffset: number;
  /** Source/destination ports (first 4 transport bytes), when at least 4 were quoted and offset is 0. */
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** The quoted transport bytes (RFC 792: at least 8; RFC 1812 routers may quote more). A subarray. */
  readonly transport: Uint8Array;
}

/**
 * Parses the quoted datagram of an ICMP error (RFC 792: "Internet Header + 64 bits
 * of Original Data Datagram"). Total Length is not checked against the quote, which
 * is usually shorter than the original datagram; the quoted checksum is not verified.
 */
export function parseIcmpv4Invoking(invoking: Uint8Array): Icmpv4Invoking | WireError {
  if (invoking.length < 20) return wireError('truncated', `icmpv4 invoking: ${invoking.length} < 20 bytes`);
  const version = invoking[0] >>> 4;
  if (version !== 4) return wireError('malformed', `icmpv4 invoking: version ${version}`);
  const hl = (invoking[0] & 0x0f) * 4;
  if (hl < 20) return wireError('malformed', `icmpv4 invoking: IHL ${hl / 4} < 5`);
  if (invoking.length < hl)
    return wireError('truncated', `icmpv4 invoking: header ${hl} > ${invoking.length}`);
  const dv = new DataView(invoking.buffer, invoking.byteOffset, invoking.byteLength);
  const fragmentOffset = (dv.getUint16(6) & 0x1fff) * 8;
  const transport = invoking.subarray(hl, hl + 8);
  const base = {
    src: dv.getUint32(12),
    dst: dv.getUint32(16),
    protocol: invoking[9],
    identification: dv.getUint16(4),
    fragmentOffset,
    transport: invoking.subarray(hl),
  };
  if (fragmentOffset === 0 && transport.length >= 4) {
    return { ...base, srcPort: dv.getUint16(hl), dstPort: dv.getUint16(hl + 2) };
  }
  return base;
}
