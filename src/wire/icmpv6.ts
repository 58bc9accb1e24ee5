/**
 * ICMPv6 (RFC 4443): the 4-byte header (type, code, checksum), the 32-bit field after
 * it whose meaning the type decides (echo identifier and sequence, Packet Too Big's
 * MTU, Parameter Problem's pointer), and the body. The checksum covers the IPv6
 * pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1) with Next Header 58.
 *
 * NDP (RFC 4861) and MLD (RFC 3810) messages are ICMPv6 types too; their bodies are
 * read by src/wire/ndp.ts and src/wire/mld.ts.
 */
import { checksumPartial, finishChecksum, foldChecksum, pseudoHeaderSumV6 } from './checksum.ts';
import { type WireError, wireError } from './error.ts';
import { IPV6_HEADER_LEN, IPV6_MIN_MTU, IPV6_NH_ICMPV6 } from './ipv6.ts';

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_MLD_QUERY = 130;
export const ICMPV6_MLD_REPORT_V1 = 131;
export const ICMPV6_MLD_DONE = 132;
export const ICMPV6_ROUTER_SOLICITATION = 133;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMPV6_REDIRECT = 137;
export const ICMPV6_MLD_REPORT_V2 = 143;

/** Destination Unreachable codes (RFC 4443 §3.1). */
export const ICMPV6_UNREACH_NO_ROUTE = 0;
export const ICMPV6_UNREACH_ADMIN = 1;
export const ICMPV6_UNREACH_BEYOND_SCOPE = 2;
export const ICMPV6_UNREACH_ADDRESS = 3;
export const ICMPV6_UNREACH_PORT = 4;
export const ICMPV6_UNREACH_POLICY = 5;
export const ICMPV6_UNREACH_REJECT_ROUTE = 6;

/** Time Exceeded codes (RFC 4443 §3.3). */
export const ICMPV6_TIME_EXCEEDED_HOP_LIMIT = 0;
export const ICMPV6_TIME_EXCEEDED_REASSEMBLY = 1;

/** Parameter Problem codes (RFC 4443 §3.4). */
export const ICMPV6_PARAMPROB_HEADER = 0;
export const ICMPV6_PARAMPROB_NEXT_HEADER = 1;
export const ICMPV6_PARAMPROB_OPTION = 2;

export const ICMPV6_HEADER_LEN = 8;
/** RFC 4443 §2.4 (c): an error carries as much of the invoking packet as fits in the minimum MTU. */
export const ICMPV6_ERROR_MAX_LEN = IPV6_MIN_MTU;

/** Is this an error message (types 0-127, RFC 4443 §2.1)? */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export interface Icmpv6Repr {
  readonly type: number;
  readonly code: number;
  /**
   * The 32-bit word after the checksum: identifier << 16 | sequence for echo, the MTU for
   * Packet Too Big, the pointer for Parameter Problem, unused (0) for the other errors.
   * NDP and MLD messages start their own fields here, so for them it is the first 4 body bytes.
   */
  readonly word: number;
  /** Bytes after the 8-byte header (the invoking packet of an error, echo data, NDP fields). */
  readonly body: Uint8Array;
}

/** The partial sum of the ICMPv6 pseudo-header for a message of `length` bytes. */
export function icmpv6PseudoSum(src: Uint8Array, dst: Uint8Array, length: number): number {
  return pseudoHeaderSumV6(src, dst, IPV6_NH_ICMPV6, length);
}

/** Does the checksum of `msg` (a whole ICMPv6 message) verify between `src` and `dst`? */
export function verifyIcmpv6Checksum(msg: Uint8Array, src: Uint8Array, dst: Uint8Array): boolean {
  return foldChecksum(checksumPartial(msg, icmpv6PseudoSum(src, dst, msg.length))) === 0xffff;
}

/**
 * Parses an ICMPv6 message, checking the checksum over the pseudo-header (RFC 4443 §2.3:
 * a message with a bad checksum is discarded). `body` aliases `bytes`.
 */
export function parseIcmpv6(bytes: Uint8Array, src: Uint8Array, dst: Uint8Array): Icmpv6Repr | WireError {
  if (bytes.length < 4) return wireError('truncated', `icmpv6: ${bytes.length} < 4 bytes`);
  if (!verifyIcmpv6Checksum(bytes, src, dst)) return wireError('checksum', 'icmpv6: bad checksum');
  const type = bytes[0];
  // Every defined message has at least the 32-bit word (RFC 4443 §3, §4; RFC 4861 §4).
  if (bytes.length < ICMPV6_HEADER_LEN) return wireError('truncated', `icmpv6: ${bytes.length} < 8 bytes`);
  return {
    type,
    code: bytes[1],
    word: ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0,
    body: bytes.subarray(ICMPV6_HEADER_LEN),
  };
}

export function icmpv6Length(repr: Icmpv6Repr): number {
  return ICMPV6_HEADER_LEN + repr.body.length;
}

/** Writes the message at `out[at..]` with its checksum over the pseudo-header; returns its length. */
export function emitIcmpv6(
  repr: Icmpv6Repr,
  src: Uint8Array,
  dst: Uint8Array,
  out: Uint8Array,
  at = 0,
): number {
  const len = icmpv6Length(repr);
  if (out.length < at + len) throw new RangeError(`emitIcmpv6: buffer ${out.length} < ${at + len}`);
  out[at] = repr.type;
  out[at + 1] = repr.code;
  out[at + 2] = 0;
  out[at + 3] = 0;
  const w = repr.word >>> 0;
  out[at + 4] = w >>> 24;
  out[at + 5] = w >>> 16;
  out[at + 6] = w >>> 8;
  out[at + 7] = w;
  out.set(repr.body, at + ICMPV6_HEADER_LEN);
  const msg = out.subarray(at, at + len);
  const c = finishChecksum(checksumPartial(msg, icmpv6PseudoSum(src, dst, len)));
  out[at + 2] = c >>> 8;
  out[at + 3] = c;
  return len;
}

/** A standalone message (its own buffer). */
export function buildIcmpv6(repr: Icmpv6Repr, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const out = new Uint8Array(icmpv6Length(repr));
  emitIcmpv6(repr, src, dst, out);
  return out;
}

/** What an error's invoking packet tells: its addresses, upper protocol and ports. */
export interface Icmpv6Invoking {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** The upper-layer protocol after any extension headers we could walk (else the first Next Header). */
  readonly protocol: number;
  /** The upper-layer bytes as quoted. */
  readonly transport: Uint8Array;
}

/**
 * Reads the invoking packet an error quotes (RFC 4443 §2.4 (c)): at least the fixed
 * header; extension headers are skipped while they fit (a fragment header ends the walk
 * unless the quoted packet is a first fragment).
 */
export function parseIcmpv6Invoking(invoking: Uint8Array): Icmpv6Invoking | WireError {
  if (invoking.length < IPV6_HEADER_LEN)
    return wireError('truncated', `icmpv6 invoking packet: ${invoking.length} < 40 bytes`);
  if (invoking[0] >>> 4 !== 6) return wireError('malformed', 'icmpv6 invoking packet: not IPv6');
  let nh = invoking[6];
  let at = IPV6_HEADER_LEN;
  // At most 16 headers, each at least 8 bytes: bounded.
  for (let n = 0; n < 16; n++) {
    if (nh !== 0 && nh !== 43 && nh !== 60 && nh !== 44) break;
    if (at + 8 > invoking.length) break;
    if (nh === 44) {
      const off = ((invoking[at + 2] << 8) | invoking[at + 3]) & 0xfff8;
      const next = invoking[at];
      at += 8;
      nh = next;
      if (off !== 0) return wireError('unsupported', 'icmpv6 invoking packet: non-first fragment');
      continue;
    }
    const next = invoking[at];
    at += (invoking[at + 1] + 1) * 8;
    nh = next;
  }
  return {
    src: invoking.subarray(8, 24),
    dst: invoking.subarray(24, 40),
    protocol: nh,
    transport: invoking.subarray(Math.min(at, invoking.length)),
  };
}
