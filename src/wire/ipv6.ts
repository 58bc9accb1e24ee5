/**
 * IPv6 header codec (RFC 8200 §3) and its extension headers (§4): hop-by-hop and
 * destination options (§4.3, §4.6, with the option TLVs of §4.2), routing (§4.4; type 0
 * is refused, RFC 5095) and fragment (§4.5).
 *
 * `Ipv6Repr` describes the fixed header; `payloadLength` counts everything after it
 * (extension headers included). `walkExtensionHeaders` follows the Next Header chain of
 * a datagram, bounded in header count, and says where the upper-layer data starts or
 * why the chain is bad (with the Parameter Problem code and pointer RFC 8200 asks for).
 */
import { type WireError, wireError } from './error.ts';

export const IPV6_HEADER_LEN = 40;
/** RFC 8200 §5: every link carries at least 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;

/** Next Header values (IANA protocol numbers). */
export const IPV6_NH_HOPOPTS = 0;
export const IPV6_NH_TCP = 6;
export const IPV6_NH_UDP = 17;
export const IPV6_NH_ROUTING = 43;
export const IPV6_NH_FRAGMENT = 44;
export const IPV6_NH_ESP = 50;
export const IPV6_NH_AH = 51;
export const IPV6_NH_ICMPV6 = 58;
export const IPV6_NH_NONE = 59;
export const IPV6_NH_DSTOPTS = 60;

export const IPV6_FRAGMENT_HEADER_LEN = 8;

/** Extension headers walked before giving up: a chain longer than this is dropped (RFC 8200 does not bound it; Linux stops at the packet end). */
export const IPV6_MAX_EXT_HEADERS = 16;

/** Hop-by-hop / destination option types (RFC 8200 §4.2; RFC 2711 router alert). */
export const IPV6_OPT_PAD1 = 0;
export const IPV6_OPT_PADN = 1;
export const IPV6_OPT_ROUTER_ALERT = 5;

export interface Ipv6Repr {
  readonly trafficClass: number;
  readonly flowLabel: number;
  /** Bytes after the fixed header (extension headers and upper-layer data). */
  readonly payloadLength: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

/** Zero-copy view over an IPv6 packet. `check` validates version and Payload Length. */
export class Ipv6View {
  bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  static check(bytes: Uint8Array): Ipv6View | WireError {
    if (bytes.length < IPV6_HEADER_LEN) return wireError('truncated', `ipv6: ${bytes.length} < 40 bytes`);
    const v = new Ipv6View(bytes);
    if (v.version !== 6) return wireError('malformed', `ipv6: version ${v.version}`);
    const total = IPV6_HEADER_LEN + v.payloadLength;
    // Payload Length 0 means a jumbogram (RFC 2675) only with a hop-by-hop Jumbo option; we take none.
    if (total > bytes.length)
      return wireError('truncated', `ipv6: payload length ${v.payloadLength} > ${bytes.length - 40} bytes`);
    return v;
  }

  get version(): number {
    return this.bytes[0] >>> 4;
  }
  get trafficClass(): number {
    return ((this.bytes[0] & 0x0f) << 4) | (this.bytes[1] >>> 4);
  }
  get flowLabel(): number {
    return ((this.bytes[1] & 0x0f) << 16) | (this.bytes[2] << 8) | this.bytes[3];
  }
  get payloadLength(): number {
    return (this.bytes[4] << 8) | this.bytes[5];
  }
  set payloadLength(v: number) {
    this.bytes[4] = v >>> 8;
    this.bytes[5] = v;
  }
  get nextHeader(): number {
    return this.bytes[6];
  }
  set nextHeader(v: number) {
    this.bytes[6] = v;
  }
  get hopLimit(): number {
    return this.bytes[7];
  }
  set hopLimit(v: number) {
    this.bytes[7] = v;
  }
  /** Source address (a subarray: copy it to keep it). */
  get src(): Uint8Array {
    return this.bytes.subarray(8, 24);
  }
  get dst(): Uint8Array {
    return this.bytes.subarray(24, 40);
  }
  /** Everything after the fixed header, bounded by Payload Length. */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + this.payloadLength);
  }
}

/** Parses the fixed header; `payload` is bounded by Payload Length (link padding dropped). */
export function parseIpv6Packet(bytes: Uint8Array): { repr: Ipv6Repr; payload: Uint8Array } | WireError {
  const v = Ipv6View.check(bytes);
  if (!(v instanceof Ipv6View)) return v;
  return {
    repr: {
      trafficClass: v.trafficClass,
      flowLabel: v.flowLabel,
      payloadLength: v.payloadLength,
      nextHeader: v.nextHeader,
      hopLimit: v.hopLimit,
      src: v.src.slice(),
      dst: v.dst.slice(),
    },
    payload: v.payload,
  };
}

/** Writes the fixed header at `out[at..]`; returns 40. */
export function emitIpv6(repr: Ipv6Repr, out: Uint8Array, at = 0): number {
  if (out.length < at + IPV6_HEADER_LEN) throw new RangeError(`emitIpv6: buffer ${out.length} < ${at + 40}`);
  if (repr.payloadLength > 0xffff) throw new RangeError(`emitIpv6: payload length ${repr.payloadLength}`);
  const tc = repr.trafficClass & 0xff;
  const fl = repr.flowLabel & 0xfffff;
  out[at] = 0x60 | (tc >>> 4);
  out[at + 1] = ((tc & 0x0f) << 4) | (fl >>> 16);
  out[at + 2] = fl >>> 8;
  out[at + 3] = fl;
  out[at + 4] = repr.payloadLength >>> 8;
  out[at + 5] = repr.payloadLength;
  out[at + 6] = repr.nextHeader;
  out[at + 7] = repr.hopLimit;
  // By hand: two views and two set() calls cost more than 32 byte copies.
  const { src, dst } = repr;
  for (let i = 0; i < 16; i++) {
    out[at + 8 + i] = src[i];
    out[at + 24 + i] = dst[i];
  }
  return IPV6_HEADER_LEN;
}

// ---------------------------------------------------------------- fragment header

export interface Ipv6FragmentRepr {
  readonly nextHeader: number;
  /** Offset of this fragment's data in bytes (a multiple of 8). */
  readonly offset: number;
  readonly moreFragments: boolean;
  readonly identification: number;
}

/** RFC 8200 §4.5: Next Header, reserved, offset (13 bits, 8-octet units), 2 reserved bits, M, Identification. */
export function parseIpv6Fragment(bytes: Uint8Array): Ipv6FragmentRepr | WireError {
  if (bytes.length < IPV6_FRAGMENT_HEADER_LEN)
    return wireError('truncated', `ipv6 fragment header: ${bytes.length} < 8 bytes`);
  const w = (bytes[2] << 8) | bytes[3];
  return {
    nextHeader: bytes[0],
    offset: w & 0xfff8,
    moreFragments: (w & 1) === 1,
    identification: ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0,
  };
}

export function emitIpv6Fragment(repr: Ipv6FragmentRepr, out: Uint8Array, at = 0): number {
  if (out.length < at + 8) throw new RangeError('emitIpv6Fragment: buffer too short');
  const w = (repr.offset & 0xfff8) | (repr.moreFragments ? 1 : 0);
  out[at] = repr.nextHeader;
  out[at + 1] = 0;
  out[at + 2] = w >>> 8;
  out[at + 3] = w;
  const id = repr.identification >>> 0;
  out[at + 4] = id >>> 24;
  out[at + 5] = id >>> 16;
  out[at + 6] = id >>> 8;
  out[at + 7] = id;
  return 8;
}

// ---------------------------------------------------------------- routing header

export interface Ipv6RoutingRepr {
  readonly nextHeader: number;
  readonly routingType: number;
  readonly segmentsLeft: number;
  /** Type-specific data (after the first 4 bytes). */
  readonly data: Uint8Array;
}

export function parseIpv6Routing(bytes: Uint8Array): Ipv6RoutingRepr | WireError {
  if (bytes.length < 8) return wireError('truncated', `ipv6 routing header: ${bytes.length} < 8 bytes`);
  const len = (bytes[1] + 1) * 8;
  if (bytes.length < len)
    return wireError('truncated', `ipv6 routing header: ${len} > ${bytes.length} bytes`);
  return {
    nextHeader: bytes[0],
    routingType: bytes[2],
    segmentsLeft: bytes[3],
    data: bytes.subarray(4, len),
  };
}

// ---------------------------------------------------------------- options (hop-by-hop, destination)

export interface Ipv6Option {
  readonly type: number;
  /** Offset of the option's type octet from the start of the extension header. */
  readonly offset: number;
  readonly data: Uint8Array;
}

/**
 * The option TLVs of a hop-by-hop or destination options header `hdr` (whole header,
 * its 2-byte prefix included). Pad1 and PadN are skipped. An option running past the
 * header is malformed.
 */
export function parseIpv6Options(hdr: Uint8Array): Ipv6Option[] | WireError {
  const out: Ipv6Option[] = [];
  let i = 2;
  // Each step consumes at least one octet: bounded by the header's length (at most 2048).
  while (i < hdr.length) {
    const type = hdr[i];
    if (type === IPV6_OPT_PAD1) {
      i++;
      continue;
    }
    if (i + 2 > hdr.length) return wireError('malformed', `ipv6 option at ${i}: no length octet`);
    const len = hdr[i + 1];
    if (i + 2 + len > hdr.length)
      return wireError('malformed', `ipv6 option at ${i}: length ${len} overruns`);
    if (type !== IPV6_OPT_PADN) out.push({ type, offset: i, data: hdr.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}

/**
 * RFC 8200 §4.2: the two high-order bits of an unrecognised option's type say what to do:
 * 00 skip, 01 discard, 10 discard and send Parameter Problem code 2, 11 the same unless
 * the destination was multicast.
 */
export type UnknownOptionAction = 'skip' | 'discard' | 'discard-icmp' | 'discard-icmp-unicast';
export function unknownOptionAction(type: number): UnknownOptionAction {
  switch (type >>> 6) {
    case 0:
      return 'skip';
    case 1:
      return 'discard';
    case 2:
      return 'discard-icmp';
    default:
      return 'discard-icmp-unicast';
  }
}

/** Emits an options header with the given option TLVs, padded with PadN/Pad1 to a multiple of 8. */
export function emitIpv6Options(
  nextHeader: number,
  options: readonly { type: number; data: Uint8Array }[],
): Uint8Array {
  let len = 2;
  for (const o of options) len += 2 + o.data.length;
  const total = (len + 7) & ~7;
  const out = new Uint8Array(total);
  out[0] = nextHeader;
  out[1] = total / 8 - 1;
  let i = 2;
  for (const o of options) {
    out[i] = o.type;
    out[i + 1] = o.data.length;
    out.set(o.data, i + 2);
    i += 2 + o.data.length;
  }
  const pad = total - i;
  if (pad === 1) out[i] = IPV6_OPT_PAD1;
  else if (pad > 1) {
    out[i] = IPV6_OPT_PADN;
    out[i + 1] = pad - 2;
  }
  return out;
}

// ---------------------------------------------------------------- the chain

export interface Ipv6ExtHeader {
  /** Which header this is (the Next Header value that named it). */
  readonly type: number;
  /** Offset from the start of the IPv6 packet. */
  readonly offset: number;
  readonly length: number;
}

export interface Ipv6Chain {
  readonly headers: Ipv6ExtHeader[];
  /** The upper-layer protocol (or IPV6_NH_NONE, or an unknown value the caller answers). */
  readonly protocol: number;
  /** Offset of the upper-layer data from the packet start. */
  readonly offset: number;
  /** Offset of the Next Header octet naming `protocol` (for a Parameter Problem pointer). */
  readonly nextHeaderAt: number;
  /** The fragment header, when present. */
  readonly fragment?: Ipv6FragmentRepr & { readonly offsetInPacket: number };
}

/** A bad chain: drop, and (when `code` is set) answer Parameter Problem with this code and pointer. */
export interface Ipv6ChainError {
  readonly chainError: 'truncated' | 'malformed' | 'too-long';
  readonly detail: string;
  /** RFC 4443 §3.4 Parameter Problem code (0 erroneous header field, 1 unrecognised next header). */
  readonly code?: number;
  /** Offset from the packet start of the octet at fault. */
  readonly pointer?: number;
}

export function isIpv6ChainError(x: unknown): x is Ipv6ChainError {
  return typeof x === 'object' && x !== null && 'chainError' in x;
}

export function isIpv6ExtensionHeader(nh: number): boolean {
  return (
    nh === IPV6_NH_HOPOPTS || nh === IPV6_NH_ROUTING || nh === IPV6_NH_FRAGMENT || nh === IPV6_NH_DSTOPTS
  );
}

/**
 * Walks the extension headers of `packet` (a whole IPv6 packet, already checked) up to
 * the upper-layer header, at most `maxHeaders` of them. Checks the rules a chain must
 * follow: hop-by-hop only right after the fixed header (RFC 8200 §4.1: Parameter Problem
 * code 1 pointing at the Next Header octet), at most one fragment header, every header
 * inside the packet. The walk stops after a fragment header (what follows is a piece of
 * the fragmentable part, walked again after reassembly). Options and routing types are
 * left to the caller.
 */
export function walkExtensionHeaders(
  packet: Uint8Array,
  maxHeaders = IPV6_MAX_EXT_HEADERS,
): Ipv6Chain | Ipv6ChainError {
  const end = Math.min(packet.length, IPV6_HEADER_LEN + ((packet[4] << 8) | packet[5]));
  const headers: Ipv6ExtHeader[] = [];
  let nh = packet[6];
  let nhAt = 6;
  let at = IPV6_HEADER_LEN;
  let fragment: (Ipv6FragmentRepr & { offsetInPacket: number }) | undefined;
  while (isIpv6ExtensionHeader(nh)) {
    if (headers.length >= maxHeaders)
      return { chainError: 'too-long', detail: `ipv6: more than ${maxHeaders} extension headers` };
    if (nh === IPV6_NH_HOPOPTS && at !== IPV6_HEADER_LEN)
      return {
        chainError: 'malformed',
        detail: 'ipv6: hop-by-hop header not first',
        code: 1,
        pointer: nhAt,
      };
    if (at + 8 > end) return { chainError: 'truncated', detail: `ipv6: extension header at ${at} truncated` };
    let len: number;
    if (nh === IPV6_NH_FRAGMENT) {
      if (fragment !== undefined) return { chainError: 'malformed', detail: 'ipv6: two fragment headers' };
      len = 8;
      const f = parseIpv6Fragment(packet.subarray(at, at + 8)) as Ipv6FragmentRepr;
      fragment = { ...f, offsetInPacket: at };
    } else len = (packet[at + 1] + 1) * 8;
    if (at + len > end)
      return { chainError: 'truncated', detail: `ipv6: extension header at ${at} (${len} bytes) overruns` };
    headers.push({ type: nh, offset: at, length: len });
    nhAt = at;
    const wasFragment = nh === IPV6_NH_FRAGMENT;
    nh = packet[at];
    at += len;
    // What follows a fragment header is the fragmentable part: only whole after reassembly.
    if (wasFragment) break;
  }
  return fragment !== undefined
    ? { headers, protocol: nh, offset: at, nextHeaderAt: nhAt, fragment }
    : { headers, protocol: nh, offset: at, nextHeaderAt: nhAt };
}
