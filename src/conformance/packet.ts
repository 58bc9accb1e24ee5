/**
 * Raw IPv4 / IPv6 + TCP/UDP/ICMP(v6) building and decoding for the conformance runner.
 * The family of a packet follows its addresses: text with a ':' is IPv6 (RFC 8200
 * header, ICMPv6 of RFC 4443 with its pseudo-header checksum), dotted quads IPv4.
 *
 * Deliberately separate from src/wire: the runner needs TCP options in wire
 * order, with NOP/EOL padding and unknown kinds kept, to compare them exactly
 * (`--tcp_options_exact`), and it must build packets a normal codec would refuse
 * (bad flag combinations, odd option layouts).
 */

import { formatIpv6, parseIpv6 } from '../wire/address.ts';
import { internetChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6 } from '../wire/checksum.ts';
import type { TcpOptionSpec } from './ast.ts';

export const F_FIN = 0x01;
export const F_SYN = 0x02;
export const F_RST = 0x04;
export const F_PSH = 0x08;
export const F_ACK = 0x10;
export const F_URG = 0x20;
export const F_ECE = 0x40;
export const F_CWR = 0x80;
/** AccECN AE bit (RFC 9768; the low bit of the data-offset byte, shifted up here). */
export const F_AE = 0x100;

const LETTER_FLAG: Record<string, number> = {
  S: F_SYN,
  F: F_FIN,
  R: F_RST,
  P: F_PSH,
  U: F_URG,
  E: F_ECE,
  W: F_CWR,
  A: F_AE,
};

/** Flag bits from a script's letters and ACK dot. */
export function flagsFromScript(letters: string, ack: boolean): number {
  let f = ack ? F_ACK : 0;
  for (const ch of letters) f |= LETTER_FLAG[ch] ?? 0;
  return f;
}

/** Script notation for flag bits: `S.`, `F.`, `R`, `.`, `-`. */
export function formatFlags(f: number): string {
  let s = '';
  for (const [ch, bit] of [
    ['S', F_SYN],
    ['F', F_FIN],
    ['R', F_RST],
    ['P', F_PSH],
    ['U', F_URG],
    ['E', F_ECE],
    ['W', F_CWR],
    ['A', F_AE],
  ] as const) {
    if (f & bit) s += ch;
  }
  if (f & F_ACK) s += '.';
  return s || '-';
}

export function ipToNumber(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function numberToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** True for IPv6 address text (`fd3d:fa7b:d17d::1`, `::ffff:192.0.2.1`). */
export function isIpv6Text(ip: string): boolean {
  return ip.includes(':');
}

function ipv6Bytes(ip: string): Uint8Array {
  const b = parseIpv6(ip);
  if (!b) throw new Error(`bad IPv6 address '${ip}'`);
  return b;
}

/** An address in the form decoded packets report it: RFC 5952 text for IPv6, as given for IPv4. */
export function canonicalIp(ip: string): string {
  if (!isIpv6Text(ip)) return ip;
  const b = parseIpv6(ip);
  return b ? formatIpv6(b) : ip;
}

/** IP protocol numbers of the ICMP of each family (RFC 792, RFC 4443 §1). */
export const IPPROTO_ICMP = 1;
export const IPPROTO_ICMPV6 = 58;

/** Pseudo-header partial sum for a transport checksum, by the family of the addresses. */
function pseudoSum(src: string, dst: string, protocol: number, length: number): number {
  if (isIpv6Text(src)) return pseudoHeaderSumV6(ipv6Bytes(src), ipv6Bytes(dst), protocol, length);
  return pseudoHeaderSumV4(ipToNumber(src), ipToNumber(dst), protocol, length);
}

// ---- TCP options ----------------------------------------------------------

function hexBytes(hex: string): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < hex.length; i += 2) out.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return out;
}

/** Encodes options in the given order; pads with EOL to a multiple of 4. */
export function encodeTcpOptions(opts: readonly TcpOptionSpec[]): Uint8Array {
  const b: number[] = [];
  const u32 = (v: number) => b.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  for (const o of opts) {
    switch (o.kind) {
      case 'nop':
        b.push(1);
        break;
      case 'eol':
        b.push(0);
        break;
      case 'mss':
        b.push(2, 4, (o.value >>> 8) & 255, o.value & 255);
        break;
      case 'wscale':
        b.push(3, 3, o.value & 255);
        break;
      case 'sackOK':
        b.push(4, 2);
        break;
      case 'sack':
        b.push(5, 2 + 8 * o.blocks.length);
        for (const blk of o.blocks) {
          u32(blk.left);
          u32(blk.right);
        }
        break;
      case 'ts':
        b.push(8, 10);
        u32(o.val);
        u32(o.ecr);
        break;
      case 'md5': {
        const d = hexBytes(o.hex.padEnd(32, '0')).slice(0, 16);
        b.push(19, 18, ...d);
        break;
      }
      case 'fo': {
        const c = hexBytes(o.cookie);
        if (o.experimental) b.push(254, 4 + c.length, 0xf9, 0x89, ...c);
        else b.push(34, 2 + c.length, ...c);
        break;
      }
      case 'accecn':
        // AccECN option kind 172 (order 0): e0b, ceb, e1b as 24-bit counters.
        b.push(172, 11);
        for (const v of [o.e0b, o.ceb, o.e1b]) b.push((v >>> 16) & 255, (v >>> 8) & 255, v & 255);
        break;
      case 'unknown':
        b.push(o.type, 2 + o.data.length, ...o.data);
        break;
    }
  }
  while (b.length % 4 !== 0) b.push(0);
  return new Uint8Array(b);
}

/** Decodes options in wire order; `error` on a malformed length. */
export function decodeTcpOptions(bytes: Uint8Array): { options: TcpOptionSpec[]; error?: string } {
  const out: TcpOptionSpec[] = [];
  let i = 0;
  const u32 = (k: number) =>
    ((bytes[k]! << 24) | (bytes[k + 1]! << 16) | (bytes[k + 2]! << 8) | bytes[k + 3]!) >>> 0;
  while (i < bytes.length) {
    const kind = bytes[i]!;
    if (kind === 0) {
      out.push({ kind: 'eol' });
      i++;
      continue;
    }
    if (kind === 1) {
      out.push({ kind: 'nop' });
      i++;
      continue;
    }
    const len = bytes[i + 1];
    if (len === undefined || len < 2 || i + len > bytes.length) {
      return { options: out, error: `bad length for TCP option kind ${kind} at offset ${i}` };
    }
    const body = bytes.subarray(i + 2, i + len);
    if (kind === 2 && len === 4) out.push({ kind: 'mss', value: (body[0]! << 8) | body[1]! });
    else if (kind === 3 && len === 3) out.push({ kind: 'wscale', value: body[0]! });
    else if (kind === 4 && len === 2) out.push({ kind: 'sackOK' });
    else if (kind === 5 && (len - 2) % 8 === 0) {
      const blocks: { left: number; right: number }[] = [];
      for (let k = i + 2; k < i + len; k += 8) blocks.push({ left: u32(k), right: u32(k + 4) });
      out.push({ kind: 'sack', blocks });
    } else if (kind === 8 && len === 10) out.push({ kind: 'ts', val: u32(i + 2), ecr: u32(i + 6) });
    else if (kind === 19 && len === 18) {
      out.push({ kind: 'md5', hex: [...body].map((x) => x.toString(16).padStart(2, '0')).join('') });
    } else if (kind === 34) {
      out.push({
        kind: 'fo',
        experimental: false,
        cookie: [...body].map((x) => x.toString(16).padStart(2, '0')).join(''),
      });
    } else if (kind === 254 && len >= 4 && body[0] === 0xf9 && body[1] === 0x89) {
      out.push({
        kind: 'fo',
        experimental: true,
        cookie: [...body.subarray(2)].map((x) => x.toString(16).padStart(2, '0')).join(''),
      });
    } else out.push({ kind: 'unknown', type: kind, data: body.slice() });
    i += len;
  }
  return { options: out };
}

/** Script notation for options: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`. */
export function formatTcpOptions(opts: readonly TcpOptionSpec[]): string {
  return opts
    .map((o) => {
      switch (o.kind) {
        case 'nop':
        case 'eol':
        case 'sackOK':
          return o.kind;
        case 'mss':
        case 'wscale':
          return `${o.kind} ${o.value}`;
        case 'sack':
          return `sack ${o.blocks.map((b) => `${b.left}:${b.right}`).join(' ')}`;
        case 'ts':
          return `TS val ${o.val} ecr ${o.ecr}`;
        case 'md5':
          return `md5 ${o.hex}`;
        case 'fo':
          return `${o.experimental ? 'FOEXP' : 'FO'}${o.cookie ? ` ${o.cookie}` : ''}`;
        case 'accecn':
          return `ECN e0b ${o.e0b} ceb ${o.ceb} e1b ${o.e1b}`;
        case 'unknown':
          return `kind-${o.type}(${o.data.length})`;
      }
      return '';
    })
    .join(',');
}

// ---- building -------------------------------------------------------------

export interface IpParams {
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly tos?: number;
  readonly ttl?: number;
  readonly id?: number;
  /** IPv6 flow label (20 bits); IPv4 has none. */
  readonly flowLabel?: number;
}

/** The IP header for `payloadLength` bytes of payload, of the family of `p.src`. */
function ipHeader(p: IpParams, payloadLength: number): Uint8Array {
  return isIpv6Text(p.src) ? ipv6Header(p, payloadLength) : ipv4Header(p, payloadLength);
}

/** RFC 8200 §3: version 6, traffic class (`tos`), flow label, payload length, next header, hop limit (`ttl`). */
function ipv6Header(p: IpParams, payloadLength: number): Uint8Array {
  const h = new Uint8Array(40);
  const v = new DataView(h.buffer);
  const tc = (p.tos ?? 0) & 0xff;
  v.setUint32(0, ((6 << 28) | (tc << 20) | ((p.flowLabel ?? 0) & 0xfffff)) >>> 0);
  v.setUint16(4, payloadLength);
  h[6] = p.protocol;
  h[7] = p.ttl ?? 64;
  h.set(ipv6Bytes(p.src), 8);
  h.set(ipv6Bytes(p.dst), 24);
  return h;
}

function ipv4Header(p: IpParams, payloadLength: number): Uint8Array {
  const h = new Uint8Array(20);
  const v = new DataView(h.buffer);
  h[0] = 0x45;
  h[1] = p.tos ?? 0;
  v.setUint16(2, 20 + payloadLength);
  v.setUint16(4, p.id ?? 0);
  v.setUint16(6, 0);
  h[8] = p.ttl ?? 64;
  h[9] = p.protocol;
  v.setUint32(12, ipToNumber(p.src));
  v.setUint32(16, ipToNumber(p.dst));
  v.setUint16(10, internetChecksum(h));
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface TcpParams {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly urg?: number;
  readonly options: readonly TcpOptionSpec[];
  readonly payload: Uint8Array;
}

/** TCP header + options + payload, checksummed for `src`→`dst`. */
export function buildTcpSegment(src: string, dst: string, t: TcpParams): Uint8Array {
  const opts = encodeTcpOptions(t.options);
  const hl = 20 + opts.length;
  const seg = new Uint8Array(hl + t.payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, t.srcPort);
  v.setUint16(2, t.dstPort);
  v.setUint32(4, t.seq >>> 0);
  v.setUint32(8, t.ack >>> 0);
  seg[12] = ((hl / 4) << 4) | ((t.flags & F_AE) !== 0 ? 1 : 0);
  seg[13] = t.flags & 0xff;
  v.setUint16(14, t.window & 0xffff);
  v.setUint16(18, (t.urg ?? 0) & 0xffff);
  seg.set(opts, 20);
  seg.set(t.payload, hl);
  v.setUint16(16, internetChecksum(seg, pseudoSum(src, dst, 6, seg.length)));
  return seg;
}

export function buildTcpPacket(
  ip: Omit<IpParams, 'protocol'>,
  t: TcpParams,
  udpEncap?: { readonly src: number; readonly dst: number },
): Uint8Array {
  const seg = buildTcpSegment(ip.src, ip.dst, t);
  // Tunnelled (packetdrill's /udp(sport > dport)): the checksummed segment in a UDP datagram.
  if (udpEncap) return buildUdpPacket(ip, udpEncap.src, udpEncap.dst, seg);
  return concat(ipHeader({ ...ip, protocol: 6 }, seg.length), seg);
}

export function buildUdpDatagram(
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): Uint8Array {
  const d = new Uint8Array(8 + payload.length);
  const v = new DataView(d.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, d.length);
  d.set(payload, 8);
  const c = internetChecksum(d, pseudoSum(src, dst, 17, d.length));
  v.setUint16(6, c === 0 ? 0xffff : c);
  return d;
}

export function buildUdpPacket(
  ip: Omit<IpParams, 'protocol'>,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): Uint8Array {
  const d = buildUdpDatagram(ip.src, ip.dst, srcPort, dstPort, payload);
  return concat(ipHeader({ ...ip, protocol: 17 }, d.length), d);
}

/**
 * ICMP message with a 4-byte "rest of header" word and a body (the quoted datagram). Over
 * IPv6 it is ICMPv6, whose checksum covers the pseudo-header (RFC 4443 §2.3).
 */
export function buildIcmpPacket(
  ip: Omit<IpParams, 'protocol'>,
  type: number,
  code: number,
  restOfHeader: number,
  body: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  const v = new DataView(m.buffer);
  m[0] = type;
  m[1] = code;
  v.setUint32(4, restOfHeader >>> 0);
  m.set(body, 8);
  const v6 = isIpv6Text(ip.src);
  const protocol = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  v.setUint16(2, internetChecksum(m, v6 ? pseudoSum(ip.src, ip.dst, protocol, m.length) : 0));
  return concat(ipHeader({ ...ip, protocol }, m.length), m);
}

/** An IP header (IPv4 without options, or IPv6) followed by `transport` bytes, for ICMP quotes. */
export function quotedDatagram(
  ip: IpParams,
  transport: Uint8Array,
  claimedPayloadLength: number,
): Uint8Array {
  return concat(ipHeader(ip, claimedPayloadLength), transport);
}

// ---- decoding -------------------------------------------------------------

export interface LiveIp {
  /** 4 or 6. */
  readonly version: number;
  /** Bytes before the transport header (IPv6: the fixed header and any extension headers). */
  readonly headerLength: number;
  /** IPv4 TOS byte, or the IPv6 traffic class (DSCP and ECN alike). */
  readonly tos: number;
  /** IPv4 TTL, or the IPv6 hop limit. */
  readonly ttl: number;
  /** IPv4 identification; 0 for IPv6 (no fragment header is sent for these). */
  readonly id: number;
  /** The transport protocol (IPv6: the last next-header value). */
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly totalLength: number;
  /** IPv4 header checksum; always true for IPv6, which has none. */
  readonly checksumOk: boolean;
  /** IPv6 flow label; 0 for IPv4. */
  readonly flowLabel: number;
}

export interface LiveTcp {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly dataOffset: number;
  readonly reserved: number;
  readonly window: number;
  readonly urg: number;
  readonly options: readonly TcpOptionSpec[];
  readonly optionBytes: Uint8Array;
  readonly payloadLength: number;
  /** The TCP checksum verifies over the pseudo-header of the carrying IP header (RFC 9293 §3.1). */
  readonly checksumOk: boolean;
  /** The UDP ports around it, when the segment came tunnelled in UDP (--udp_encapsulation=tcp). */
  readonly udpEncap?: { readonly src: number; readonly dst: number };
}

export type LivePacket =
  | { readonly proto: 'tcp'; readonly ip: LiveIp; readonly tcp: LiveTcp }
  | {
      readonly proto: 'udp';
      readonly ip: LiveIp;
      readonly srcPort: number;
      readonly dstPort: number;
      readonly payloadLength: number;
    }
  | {
      readonly proto: 'icmp';
      readonly ip: LiveIp;
      readonly type: number;
      readonly code: number;
      readonly body: Uint8Array;
    }
  | { readonly proto: 'other'; readonly ip: LiveIp };

export interface DecodeOptions {
  /**
   * packetdrill's --udp_encapsulation=tcp: every UDP datagram carries a TCP segment
   * (FreeBSD's TCP-over-UDP tunnelling), decoded as TCP with its UDP ports in `udpEncap`.
   */
  readonly udpEncapsTcp?: boolean;
}

/** A TCP segment (header, options, payload) at `t`; `udpEncap` for a tunnelled one. */
function decodeTcp(
  ip: LiveIp,
  t: Uint8Array,
  udpEncap?: { src: number; dst: number },
  udpChecksumOk?: boolean,
): LivePacket | { error: string } {
  if (t.length < 20) return { error: 'TCP header truncated' };
  const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const off = (t[12]! >> 4) * 4;
  if (off < 20 || off > t.length) return { error: `bad TCP data offset ${off}` };
  const optionBytes = t.slice(20, off);
  const dec = decodeTcpOptions(optionBytes);
  if (dec.error) return { error: dec.error };
  // A tunnelled segment is covered by its UDP checksum (`udpChecksumOk`); FreeBSD zeroes the TCP one.
  const checksumOk = udpEncap
    ? udpChecksumOk === true
    : internetChecksum(t, pseudoSum(ip.src, ip.dst, 6, t.length)) === 0;
  return {
    proto: 'tcp',
    ip,
    tcp: {
      srcPort: tv.getUint16(0),
      dstPort: tv.getUint16(2),
      seq: tv.getUint32(4),
      ack: tv.getUint32(8),
      flags: t[13]! | ((t[12]! & 1) !== 0 ? F_AE : 0),
      dataOffset: off,
      reserved: (t[12]! >> 1) & 7,
      window: tv.getUint16(14),
      urg: tv.getUint16(18),
      options: dec.options,
      optionBytes,
      payloadLength: t.length - off,
      checksumOk,
      ...(udpEncap ? { udpEncap } : {}),
    },
  };
}

/** IPv6 extension headers skipped to reach the transport (RFC 8200 §4: hop-by-hop, routing, destination options). */
const SKIPPED_EXTENSIONS = new Set([0, 43, 60]);
/** Bound on extension headers walked in one packet. */
const MAX_EXTENSIONS = 8;

export function decodePacket(b: Uint8Array, opts: DecodeOptions = {}): LivePacket | { error: string } {
  if (b.length < 1) return { error: 'empty datagram' };
  const version = b[0]! >> 4;
  if (version === 6) return decodeIpv6(b, opts);
  if (b.length < 20) return { error: `datagram too short (${b.length} bytes)` };
  if (version !== 4) return { error: `not IPv4 or IPv6 (version ${version})` };
  const ihl = (b[0]! & 15) * 4;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const totalLength = v.getUint16(2);
  if (ihl < 20 || totalLength < ihl || totalLength > b.length) {
    return { error: `bad IPv4 lengths (ihl ${ihl}, total ${totalLength}, have ${b.length})` };
  }
  const ip: LiveIp = {
    version,
    headerLength: ihl,
    tos: b[1]!,
    ttl: b[8]!,
    id: v.getUint16(4),
    protocol: b[9]!,
    src: numberToIp(v.getUint32(12)),
    dst: numberToIp(v.getUint32(16)),
    totalLength,
    checksumOk: internetChecksum(b.subarray(0, ihl)) === 0,
    flowLabel: 0,
  };
  return decodeTransport(ip, b.subarray(ihl, totalLength), opts);
}

/** An IPv6 datagram (RFC 8200 §3), walking hop-by-hop, routing and destination-options headers. */
function decodeIpv6(b: Uint8Array, opts: DecodeOptions): LivePacket | { error: string } {
  if (b.length < 40) return { error: `IPv6 datagram too short (${b.length} bytes)` };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const first = v.getUint32(0);
  const totalLength = 40 + v.getUint16(4);
  if (totalLength > b.length)
    return { error: `bad IPv6 payload length (total ${totalLength}, have ${b.length})` };
  let next = b[6]!;
  let off = 40;
  for (let n = 0; SKIPPED_EXTENSIONS.has(next); n++) {
    if (n >= MAX_EXTENSIONS || off + 8 > totalLength) return { error: 'bad IPv6 extension header chain' };
    const len = (b[off + 1]! + 1) * 8;
    next = b[off]!;
    off += len;
  }
  if (off > totalLength) return { error: 'bad IPv6 extension header length' };
  const ip: LiveIp = {
    version: 6,
    headerLength: off,
    tos: (first >>> 20) & 0xff,
    ttl: b[7]!,
    id: 0,
    protocol: next,
    src: formatIpv6(b.subarray(8, 24)),
    dst: formatIpv6(b.subarray(24, 40)),
    totalLength,
    checksumOk: true,
    flowLabel: first & 0xfffff,
  };
  return decodeTransport(ip, b.subarray(off, totalLength), opts);
}

function decodeTransport(ip: LiveIp, t: Uint8Array, opts: DecodeOptions): LivePacket | { error: string } {
  const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  if (ip.protocol === 6) return decodeTcp(ip, t);
  if (ip.protocol === 17) {
    if (t.length < 8) return { error: 'UDP header truncated' };
    if (opts.udpEncapsTcp) {
      // RFC 768: a zero UDP checksum over IPv4 means none was computed (RFC 8200 §8.1 forbids it over IPv6).
      const none = ip.version === 4 && tv.getUint16(6) === 0;
      const ok = none || internetChecksum(t, pseudoSum(ip.src, ip.dst, 17, t.length)) === 0;
      return decodeTcp(ip, t.subarray(8), { src: tv.getUint16(0), dst: tv.getUint16(2) }, ok);
    }
    return {
      proto: 'udp',
      ip,
      srcPort: tv.getUint16(0),
      dstPort: tv.getUint16(2),
      payloadLength: t.length - 8,
    };
  }
  if (ip.protocol === (ip.version === 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
    if (t.length < 8) return { error: 'ICMP header truncated' };
    return { proto: 'icmp', ip, type: t[0]!, code: t[1]!, body: t.slice(8) };
  }
  return { proto: 'other', ip };
}
