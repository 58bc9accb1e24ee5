/**
 * DNS messages (RFC 1035 §4): header, questions, and resource records with typed
 * data for A, AAAA, CNAME, NS and PTR (others keep their raw rdata).
 *
 * Parsing follows name compression pointers (RFC 1035 §4.1.4) with a loop guard,
 * and never throws on bad bytes: it returns `{ ok: false, error }`. Emitting
 * writes names uncompressed (always valid; compression is an optimisation).
 */

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.ts';

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_CNAME = 5;
export const TYPE_SOA = 6;
export const TYPE_PTR = 12;
export const TYPE_MX = 15;
export const TYPE_TXT = 16;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

interface RecordBase {
  readonly name: string;
  readonly class: number;
  readonly ttl: number;
}
export type DnsRecord =
  | (RecordBase & { readonly type: 1; readonly address: string })
  | (RecordBase & { readonly type: 28; readonly address: string })
  | (RecordBase & { readonly type: 2 | 5 | 12; readonly target: string })
  | (RecordBase & { readonly type: number; readonly rdata: Uint8Array });

export interface DnsMessage {
  readonly id: number;
  /** true for a response. */
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authority: readonly DnsRecord[];
  readonly additional: readonly DnsRecord[];
}

export type ParseResult = { ok: true; message: DnsMessage } | { ok: false; error: string };

const HEADER_LEN = 12;
const MAX_NAME = 255;
const MAX_JUMPS = 64;

class Bad extends Error {}

/** Reads a (possibly compressed) name at `off`; returns it and the offset after it in the original position. */
function readName(b: Uint8Array, off: number): [string, number] {
  const labels: string[] = [];
  let pos = off;
  let end = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (pos >= b.length) throw new Bad('name runs past the end');
    const len = b[pos];
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= b.length) throw new Bad('truncated compression pointer');
      if (++jumps > MAX_JUMPS) throw new Bad('compression pointer loop');
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | b[pos + 1];
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Bad('reserved label type');
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if (pos + 1 + len > b.length) throw new Bad('label runs past the end');
    total += len + 1;
    if (total > MAX_NAME) throw new Bad('name longer than 255 bytes');
    let s = '';
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = b[i];
      s +=
        c === 0x2e || c === 0x5c
          ? `\\${String.fromCharCode(c)}`
          : c > 0x20 && c < 0x7f
            ? String.fromCharCode(c)
            : `\\${String(c).padStart(3, '0')}`;
    }
    labels.push(s);
    pos += 1 + len;
  }
  return [labels.join('.'), end];
}

function u16(b: Uint8Array, off: number): number {
  if (off + 2 > b.length) throw new Bad('truncated');
  return (b[off] << 8) | b[off + 1];
}

function u32(b: Uint8Array, off: number): number {
  if (off + 4 > b.length) throw new Bad('truncated');
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function readRecord(b: Uint8Array, off: number): [DnsRecord, number] {
  const [name, p] = readName(b, off);
  const type = u16(b, p);
  const cls = u16(b, p + 2);
  const ttl = u32(b, p + 4);
  const rdlen = u16(b, p + 8);
  const rd = p + 10;
  if (rd + rdlen > b.length) throw new Bad('rdata runs past the end');
  const base = { name, class: cls, ttl };
  let rec: DnsRecord;
  if (type === TYPE_A && cls === CLASS_IN) {
    if (rdlen !== 4) throw new Bad('A record rdata is not 4 bytes');
    rec = { ...base, type: 1, address: formatIpv4(u32(b, rd)) };
  } else if (type === TYPE_AAAA && cls === CLASS_IN) {
    if (rdlen !== 16) throw new Bad('AAAA record rdata is not 16 bytes');
    rec = { ...base, type: 28, address: formatIpv6(b.subarray(rd, rd + 16)) };
  } else if (type === TYPE_CNAME || type === TYPE_PTR || type === TYPE_NS) {
    const [target, q] = readName(b, rd);
    if (q > rd + rdlen) throw new Bad('name runs past its rdata');
    rec = { ...base, type, target } as DnsRecord;
  } else {
    rec = { ...base, type, rdata: b.slice(rd, rd + rdlen) };
  }
  return [rec, rd + rdlen];
}

/** Parses a DNS message. Never throws. */
export function parseDnsMessage(bytes: Uint8Array): ParseResult {
  try {
    if (bytes.length < HEADER_LEN) return { ok: false, error: 'shorter than a DNS header' };
    const id = u16(bytes, 0);
    const flags = u16(bytes, 2);
    const counts = [u16(bytes, 4), u16(bytes, 6), u16(bytes, 8), u16(bytes, 10)];
    let off = HEADER_LEN;
    const questions: DnsQuestion[] = [];
    for (let i = 0; i < counts[0]; i++) {
      const [name, p] = readName(bytes, off);
      questions.push({ name, type: u16(bytes, p), class: u16(bytes, p + 2) });
      off = p + 4;
    }
    const sections: DnsRecord[][] = [[], [], []];
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < counts[s + 1]; i++) {
        const [rec, p] = readRecord(bytes, off);
        sections[s].push(rec);
        off = p;
      }
    }
    return {
      ok: true,
      message: {
        id,
        qr: (flags & 0x8000) !== 0,
        opcode: (flags >> 11) & 0xf,
        aa: (flags & 0x0400) !== 0,
        tc: (flags & 0x0200) !== 0,
        rd: (flags & 0x0100) !== 0,
        ra: (flags & 0x0080) !== 0,
        rcode: flags & 0xf,
        questions,
        answers: sections[0],
        authority: sections[1],
        additional: sections[2],
      },
    };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, error: e.message };
    return { ok: false, error: String(e) };
  }
}

/** The wire labels of a name ('' or '.' is the root). Throws RangeError for invalid names. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const out: number[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      const bytes = new TextEncoder().encode(label);
      if (bytes.length === 0) throw new RangeError(`empty label in ${JSON.stringify(name)}`);
      if (bytes.length > 63) throw new RangeError(`label longer than 63 bytes in ${JSON.stringify(name)}`);
      out.push(bytes.length, ...bytes);
    }
  }
  out.push(0);
  if (out.length > MAX_NAME) throw new RangeError(`name longer than 255 bytes: ${JSON.stringify(name)}`);
  return new Uint8Array(out);
}

export type DnsMessageInit = Partial<Omit<DnsMessage, 'id'>> & { id: number };

function rdataOf(r: DnsRecord): Uint8Array {
  if ('address' in r) {
    if (r.type === TYPE_A) {
      const v = parseIpv4(r.address);
      if (v === undefined) throw new RangeError(`bad A address ${r.address}`);
      return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
    }
    const v6 = parseIpv6(r.address);
    if (!v6) throw new RangeError(`bad AAAA address ${r.address}`);
    return v6;
  }
  if ('target' in r) return encodeName(r.target);
  return (r as { rdata: Uint8Array }).rdata;
}

/** Encodes a message (names uncompressed). Throws RangeError for unencodable content. */
export function encodeDnsMessage(m: DnsMessageInit): Uint8Array {
  const parts: Uint8Array[] = [];
  const qs = m.questions ?? [];
  const secs = [m.answers ?? [], m.authority ?? [], m.additional ?? []];
  const header = new Uint8Array(HEADER_LEN);
  const dv = new DataView(header.buffer);
  dv.setUint16(0, m.id & 0xffff);
  const flags =
    (m.qr ? 0x8000 : 0) |
    (((m.opcode ?? 0) & 0xf) << 11) |
    (m.aa ? 0x0400 : 0) |
    (m.tc ? 0x0200 : 0) |
    (m.rd ? 0x0100 : 0) |
    (m.ra ? 0x0080 : 0) |
    ((m.rcode ?? 0) & 0xf);
  dv.setUint16(2, flags);
  dv.setUint16(4, qs.length);
  dv.setUint16(6, secs[0].length);
  dv.setUint16(8, secs[1].length);
  dv.setUint16(10, secs[2].length);
  parts.push(header);
  for (const q of qs) {
    parts.push(encodeName(q.name));
    parts.push(new Uint8Array([q.type >> 8, q.type & 0xff, q.class >> 8, q.class & 0xff]));
  }
  for (const sec of secs) {
    for (const r of sec) {
      const rdata = rdataOf(r);
      parts.push(encodeName(r.name));
      const fixed = new Uint8Array(10);
      const f = new DataView(fixed.buffer);
      f.setUint16(0, r.type);
      f.setUint16(2, r.class);
      f.setUint32(4, r.ttl >>> 0);
      f.setUint16(8, rdata.length);
      parts.push(fixed, rdata);
    }
  }
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A recursive query (RD set) for one name and type. */
export function buildQuery(id: number, name: string, type: number): Uint8Array {
  return encodeDnsMessage({ id, rd: true, questions: [{ name, type, class: CLASS_IN }] });
}

/** Case-insensitive DNS name equality, ignoring a trailing dot (RFC 4343). */
export function sameName(a: string, b: string): boolean {
  const n = (s: string) => (s.endsWith('.') ? s.slice(0, -1) : s).toLowerCase();
  return n(a) === n(b);
}
