/**
 * A seeded frame mutator for the fuzzing harness (issue #17). It knows just enough of
 * Ethernet, ARP, IPv4, TCP, UDP and ICMP to aim a mutation at a field, and recomputes the
 * checksums afterwards (most of the time), so a mutated field reaches the code behind the
 * checksum check instead of dying at it. It deliberately does not use src/wire: the
 * decoders are among the things under test, and a mutator that shares their idea of a
 * header would never produce what they misread.
 *
 * Mutations (`MutationKind`):
 * - `bitflip`: 1–8 random bits anywhere in the frame.
 * - `truncate`: the frame cut at a random length (and, half the time, the IP total length
 *   and checksums made to agree with the cut, so the truncation reaches the transport).
 *   `truncations(frame)` gives the cut at every length for a systematic sweep.
 * - `field`: one header field set to an interesting value: IPv4 (version/IHL, total length,
 *   flags, fragment offset, TTL, protocol, addresses), TCP (ports, seq/ack, data offset,
 *   flags, window, urgent), UDP (ports, length), ICMP (type/code, the quoted IP header and
 *   the quoted transport ports/sequence), ARP (hardware/protocol type and lengths, op,
 *   sender/target addresses).
 * - `tcpOptions` / `ipOptions`: the option area rewritten with a run of random but
 *   structured options (real kinds with bad lengths, truncated timestamps, SACK blocks at
 *   random places, EOL/NOP runs, zero and 255 lengths, bad pointers), the header length
 *   grown to hold them.
 * - `fragment`: an IPv4 packet cut into 2–6 fragments with random, possibly overlapping
 *   or gapped offsets and MF bits (several frames).
 * - `splice`: the headers of one frame with the tail of another.
 */

import type { SeededRng } from '../../src/rand/rng.ts';

export type MutationKind =
  | 'bitflip'
  | 'truncate'
  | 'field'
  | 'tcpOptions'
  | 'ipOptions'
  | 'fragment'
  | 'splice'
  | 'none';

const ETH = 14;

/** Weights of each mutation when the fuzzer picks one. */
const WEIGHTS: readonly [MutationKind, number][] = [
  ['bitflip', 22],
  ['truncate', 14],
  ['field', 30],
  ['tcpOptions', 12],
  ['ipOptions', 8],
  ['fragment', 8],
  ['splice', 4],
  ['none', 2],
];
const WEIGHT_SUM = WEIGHTS.reduce((s, [, w]) => s + w, 0);

export function pickKind(rng: SeededRng): MutationKind {
  let r = rng.below(WEIGHT_SUM);
  for (const [k, w] of WEIGHTS) {
    if (r < w) return k;
    r -= w;
  }
  return 'none';
}

// ------------------------------------------------------------------ checksums

function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

function fold(s: number): number {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
  return ~x & 0xffff;
}

function put16(b: Uint8Array, at: number, v: number): void {
  if (at + 1 >= b.length) return;
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function get16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

/** Where the IPv4 header is, if the frame claims to carry one and has 20 bytes of it. */
function ipAt(f: Uint8Array): number {
  return f.length >= ETH + 20 && f[12] === 0x08 && f[13] === 0x00 ? ETH : -1;
}

function ihlOf(f: Uint8Array, ip: number): number {
  return (f[ip] & 0x0f) * 4;
}

/**
 * Recomputes the IPv4 header checksum and, for an unfragmented (or first-fragment-less)
 * datagram, the TCP/UDP/ICMP checksum over what the frame holds. Garbage in stays
 * garbage: lengths are only read, never repaired here.
 */
export function fixChecksums(f: Uint8Array): void {
  const ip = ipAt(f);
  if (ip < 0) return;
  const ihl = ihlOf(f, ip);
  if (ihl < 20 || ip + ihl > f.length) return;
  put16(f, ip + 10, 0);
  put16(f, ip + 10, fold(sum16(f, ip, ip + ihl)));
  const fragField = get16(f, ip + 6);
  if ((fragField & 0x3fff) !== 0) return; // a fragment: the transport checksum spans the whole datagram
  const total = Math.min(get16(f, ip + 2), f.length - ip);
  const t = ip + ihl;
  const end = ip + total;
  if (end <= t) return;
  const proto = f[ip + 9];
  const len = end - t;
  const pseudo = sum16(f, ip + 12, ip + 20) + proto + len;
  if (proto === 6 && len >= 18) {
    put16(f, t + 16, 0);
    put16(f, t + 16, fold(sum16(f, t, end, pseudo)));
  } else if (proto === 17 && len >= 8) {
    put16(f, t + 6, 0);
    const c = fold(sum16(f, t, end, pseudo));
    put16(f, t + 6, c === 0 ? 0xffff : c);
  } else if (proto === 1 && len >= 4) {
    put16(f, t + 2, 0);
    put16(f, t + 2, fold(sum16(f, t, end)));
  }
}

// ------------------------------------------------------------------ values

/** An "interesting" value of `bits` bits: edges, ±1 of the old value, or random. */
function interesting(rng: SeededRng, bits: number, old: number): number {
  const max = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  switch (rng.below(9)) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return max;
    case 3:
      return max >>> 1;
    case 4:
      return ((max >>> 1) + 1) >>> 0;
    case 5:
      return (old + 1) & max;
    case 6:
      return (old - 1) & max;
    case 7:
      return (old + rng.below(64) - 32) & max;
    default:
      return bits >= 32 ? rng.nextU32() : rng.below(max + 1);
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  if (at + 3 >= b.length) return;
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function get32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

interface Field {
  at: number;
  bits: 4 | 8 | 13 | 16 | 32 | 'nibbleHi' | 'flags3';
}

/** The fields of the headers the frame holds (offsets into the frame). */
function fieldsOf(f: Uint8Array): Field[] {
  const out: Field[] = [{ at: 12, bits: 16 }]; // EtherType
  if (f[12] === 0x08 && f[13] === 0x06 && f.length >= ETH + 28) {
    const a = ETH;
    out.push(
      { at: a, bits: 16 }, // htype
      { at: a + 2, bits: 16 }, // ptype
      { at: a + 4, bits: 8 }, // hlen
      { at: a + 5, bits: 8 }, // plen
      { at: a + 6, bits: 16 }, // op
      { at: a + 8, bits: 32 }, // sha (first 4 bytes)
      { at: a + 12, bits: 16 },
      { at: a + 14, bits: 32 }, // spa
      { at: a + 18, bits: 32 }, // tha
      { at: a + 24, bits: 32 }, // tpa
    );
    return out;
  }
  const ip = ipAt(f);
  if (ip < 0) return out;
  out.push(
    { at: ip, bits: 'nibbleHi' }, // version
    { at: ip, bits: 4 }, // IHL
    { at: ip + 1, bits: 8 }, // DSCP/ECN
    { at: ip + 2, bits: 16 }, // total length
    { at: ip + 4, bits: 16 }, // identification
    { at: ip + 6, bits: 'flags3' },
    { at: ip + 6, bits: 13 }, // fragment offset
    { at: ip + 8, bits: 8 }, // TTL
    { at: ip + 9, bits: 8 }, // protocol
    { at: ip + 12, bits: 32 }, // src
    { at: ip + 16, bits: 32 }, // dst
  );
  const ihl = ihlOf(f, ip);
  const t = ip + ihl;
  if (ihl < 20) return out;
  const proto = f[ip + 9];
  if (proto === 6 && f.length >= t + 20) {
    out.push(
      { at: t, bits: 16 },
      { at: t + 2, bits: 16 },
      { at: t + 4, bits: 32 }, // seq
      { at: t + 8, bits: 32 }, // ack
      { at: t + 12, bits: 'nibbleHi' }, // data offset
      { at: t + 13, bits: 8 }, // flags
      { at: t + 14, bits: 16 }, // window
      { at: t + 18, bits: 16 }, // urgent pointer
    );
    const doff = (f[t + 12] >>> 4) * 4;
    // Option bytes, one by one (kinds, lengths, values).
    for (let i = t + 20; i < Math.min(t + doff, f.length); i++) out.push({ at: i, bits: 8 });
  } else if (proto === 17 && f.length >= t + 8) {
    out.push({ at: t, bits: 16 }, { at: t + 2, bits: 16 }, { at: t + 4, bits: 16 });
  } else if (proto === 1 && f.length >= t + 8) {
    out.push({ at: t, bits: 8 }, { at: t + 1, bits: 8 }, { at: t + 4, bits: 32 });
    // The quoted header of an error: its IP fields and the transport's first 8 bytes.
    const q = t + 8;
    if (f.length >= q + 20) {
      out.push(
        { at: q, bits: 4 },
        { at: q, bits: 'nibbleHi' },
        { at: q + 2, bits: 16 },
        { at: q + 6, bits: 13 },
        { at: q + 9, bits: 8 },
        { at: q + 12, bits: 32 },
        { at: q + 16, bits: 32 },
      );
      const qt = q + ihlOf(f, q);
      if (f.length >= qt + 8)
        out.push({ at: qt, bits: 16 }, { at: qt + 2, bits: 16 }, { at: qt + 4, bits: 32 });
    }
  }
  return out;
}

function setField(rng: SeededRng, f: Uint8Array, fl: Field): void {
  switch (fl.bits) {
    case 4:
      f[fl.at] = (f[fl.at] & 0xf0) | interesting(rng, 4, f[fl.at] & 0x0f);
      return;
    case 'nibbleHi':
      f[fl.at] = (f[fl.at] & 0x0f) | (interesting(rng, 4, f[fl.at] >>> 4) << 4);
      return;
    case 8:
      f[fl.at] = interesting(rng, 8, f[fl.at]);
      return;
    case 'flags3':
      f[fl.at] = (f[fl.at] & 0x1f) | (rng.below(8) << 5);
      return;
    case 13: {
      const old = get16(f, fl.at);
      put16(f, fl.at, (old & 0xe000) | interesting(rng, 13, old & 0x1fff));
      return;
    }
    case 16:
      put16(f, fl.at, interesting(rng, 16, get16(f, fl.at)));
      return;
    case 32:
      put32(f, fl.at, interesting(rng, 32, get32(f, fl.at)));
      return;
  }
}

// ------------------------------------------------------------------ options

/** A run of random but structured TCP options, at most `room` bytes. */
function tcpOptionBytes(rng: SeededRng, room: number): number[] {
  const out: number[] = [];
  for (let guard = 0; out.length < room && guard < 16; guard++) {
    const left = room - out.length;
    switch (rng.below(12)) {
      case 0:
        out.push(0); // EOL (then maybe junk after it)
        break;
      case 1:
        out.push(1);
        break;
      case 2: // MSS, sometimes with a wrong length or value 0
        out.push(2, rng.below(4) === 0 ? rng.below(256) : 4, rng.below(256), rng.below(256));
        break;
      case 3: // window scale, sometimes > 14
        out.push(
          3,
          rng.below(4) === 0 ? rng.below(5) : 3,
          rng.below(4) === 0 ? rng.below(256) : rng.below(16),
        );
        break;
      case 4:
        out.push(4, rng.below(4) === 0 ? rng.below(4) : 2);
        break;
      case 5: {
        // SACK with 0-4 blocks (random edges) and maybe a bad length
        const n = rng.below(5);
        const len = rng.below(4) === 0 ? rng.below(40) : 2 + 8 * n;
        out.push(5, len);
        for (let i = 0; i < n * 8; i++) out.push(rng.below(256));
        break;
      }
      case 6: {
        // timestamps, sometimes truncated
        const len = rng.below(3) === 0 ? rng.below(12) : 10;
        out.push(8, len);
        for (let i = 0; i < 8; i++) out.push(rng.below(256));
        break;
      }
      case 7: // length 0 or 1: the classic parser loop traps
        out.push(rng.below(256), rng.below(2));
        break;
      case 8: // length 255 (runs off the header)
        out.push(rng.below(40), 255);
        break;
      case 9: // a length exactly reaching the end
        out.push(rng.below(256), left);
        break;
      default: {
        const len = 2 + rng.below(8);
        out.push(rng.below(256), len);
        for (let i = 2; i < len; i++) out.push(rng.below(256));
      }
    }
  }
  return out.slice(0, room);
}

/** A run of random but structured IPv4 options, at most `room` bytes. */
function ipOptionBytes(rng: SeededRng, room: number): number[] {
  const out: number[] = [];
  for (let guard = 0; out.length < room && guard < 8; guard++) {
    const left = room - out.length;
    switch (rng.below(10)) {
      case 0:
        out.push(0);
        break;
      case 1:
        out.push(1);
        break;
      case 2:
      case 3: {
        // record route (7), loose (131) or strict (137) source route: length and pointer
        const kind = [7, 131, 137][rng.below(3)];
        const len = rng.below(3) === 0 ? rng.below(left + 4) : Math.min(left, 3 + 4 * (1 + rng.below(9)));
        const ptr = rng.below(3) === 0 ? rng.below(256) : 4 + 4 * rng.below(4);
        out.push(kind, len, ptr);
        for (let i = 3; i < len; i++) out.push(rng.below(256));
        break;
      }
      case 4: {
        // timestamp (68): length, pointer, overflow/flags
        const len = rng.below(3) === 0 ? rng.below(left + 4) : Math.min(left, 4 + 4 * (1 + rng.below(9)));
        out.push(68, len, rng.below(3) === 0 ? rng.below(256) : 5, rng.below(256));
        for (let i = 4; i < len; i++) out.push(rng.below(256));
        break;
      }
      case 5: // router alert (148)
        out.push(148, rng.below(4) === 0 ? rng.below(8) : 4, 0, 0);
        break;
      case 6:
        out.push(rng.below(256), rng.below(2));
        break;
      case 7:
        out.push(rng.below(256), 255);
        break;
      default: {
        const len = 2 + rng.below(6);
        out.push(rng.below(256), len);
        for (let i = 2; i < len; i++) out.push(rng.below(256));
      }
    }
  }
  return out.slice(0, room);
}

/** Rebuilds an IPv4 frame with a new IP option area (the header length grows to hold it). */
function withIpOptions(f: Uint8Array, opts: number[]): Uint8Array {
  const ip = ipAt(f);
  const ihl = ihlOf(f, ip);
  if (ip < 0 || ihl < 20 || ip + ihl > f.length) return f;
  const optLen = (opts.length + 3) & ~3;
  const rest = f.subarray(ip + ihl);
  const out = new Uint8Array(ip + 20 + optLen + rest.length);
  out.set(f.subarray(0, ip + 20));
  out.set(opts, ip + 20);
  out.set(rest, ip + 20 + optLen);
  out[ip] = (out[ip] & 0xf0) | ((20 + optLen) / 4);
  put16(out, ip + 2, get16(f, ip + 2) - ihl + 20 + optLen);
  return out;
}

/** Rebuilds a TCP frame with a new option area (data offset and IP length follow). */
function withTcpOptions(f: Uint8Array, opts: number[]): Uint8Array {
  const ip = ipAt(f);
  if (ip < 0 || f[ip + 9] !== 6) return f;
  const ihl = ihlOf(f, ip);
  const t = ip + ihl;
  if (ihl < 20 || t + 20 > f.length) return f;
  const doff = Math.max(20, (f[t + 12] >>> 4) * 4);
  const payload = f.subarray(Math.min(f.length, t + doff));
  const optLen = (opts.length + 3) & ~3;
  const out = new Uint8Array(t + 20 + optLen + payload.length);
  out.set(f.subarray(0, t + 20));
  out.set(opts, t + 20);
  out.set(payload, t + 20 + optLen);
  out[t + 12] = (out[t + 12] & 0x0f) | (((20 + optLen) / 4) << 4);
  put16(out, ip + 2, out.length - ip);
  return out;
}

// ------------------------------------------------------------------ fragments

/** Cuts an IPv4 frame's payload into fragments with random, maybe overlapping, offsets. */
function fragmentFrame(rng: SeededRng, f: Uint8Array): Uint8Array[] {
  const ip = ipAt(f);
  const ihl = ihlOf(f, ip);
  if (ip < 0 || ihl < 20 || ip + ihl > f.length) return [f];
  const payload = f.subarray(ip + ihl);
  const n = 2 + rng.below(5);
  const id = rng.below(4) === 0 ? get16(f, ip + 4) : rng.below(0x10000);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    // Offsets in 8-byte units; mostly an honest split, sometimes overlap, gaps or the end.
    const honest = Math.floor((payload.length * i) / n / 8);
    const off = rng.below(4) === 0 ? rng.below(Math.max(1, Math.ceil(payload.length / 8) + 4)) : honest;
    const start = Math.min(payload.length, off * 8);
    const nextHonest = Math.floor((payload.length * (i + 1)) / n / 8) * 8;
    const end =
      i === n - 1
        ? payload.length
        : rng.below(4) === 0
          ? Math.min(payload.length, start + rng.below(64))
          : Math.max(start, nextHonest);
    const last = i === n - 1;
    // The last fragment clears MF, the others set it; sometimes the other way round.
    const mf = rng.below(10) === 0 ? last : !last;
    const out = new Uint8Array(ip + ihl + (end - start));
    out.set(f.subarray(0, ip + ihl));
    out.set(payload.subarray(start, end), ip + ihl);
    put16(out, ip + 2, ihl + end - start);
    put16(out, ip + 4, id);
    put16(out, ip + 6, (mf ? 0x2000 : 0) | (off & 0x1fff));
    frames.push(out);
  }
  // Sometimes out of order.
  if (rng.below(2) === 0) frames.reverse();
  return frames;
}

// ------------------------------------------------------------------ entry points

/** Every truncation of `frame` (lengths 0 .. length-1), for a systematic sweep. */
export function* truncations(frame: Uint8Array): Generator<Uint8Array> {
  for (let n = 0; n < frame.length; n++) yield frame.slice(0, n);
}

/**
 * One mutation of `frame` (never modified; the results are fresh copies). `other` is a
 * second corpus frame for splicing. Returns one or more frames (fragmenting makes several).
 */
export function mutate(
  rng: SeededRng,
  kind: MutationKind,
  frame: Uint8Array,
  other: Uint8Array,
): Uint8Array[] {
  let f: Uint8Array = frame.slice();
  let fix = rng.below(10) < 7;
  switch (kind) {
    case 'none':
      break;
    case 'bitflip': {
      if (f.length === 0) break;
      const n = 1 + rng.below(rng.below(2) === 0 ? 2 : 8);
      // Mostly in the headers, where the decisions are.
      const span = rng.below(3) === 0 ? f.length : Math.min(f.length, 80);
      for (let i = 0; i < n; i++) {
        const at = rng.below(span);
        f[at] ^= 1 << rng.below(8);
      }
      fix = rng.below(2) === 0;
      break;
    }
    case 'truncate': {
      f = f.slice(0, rng.below(Math.max(1, f.length)));
      const ip = ipAt(f);
      if (ip >= 0 && rng.below(2) === 0) put16(f, ip + 2, f.length - ip);
      break;
    }
    case 'field': {
      const fields = fieldsOf(f);
      const k = 1 + (rng.below(4) === 0 ? rng.below(3) : 0);
      for (let i = 0; i < k; i++) setField(rng, f, fields[rng.below(fields.length)]);
      fix = rng.below(10) < 8;
      break;
    }
    case 'tcpOptions':
      f = withTcpOptions(f, tcpOptionBytes(rng, 4 * rng.below(11)));
      fix = rng.below(10) < 9;
      break;
    case 'ipOptions':
      f = withIpOptions(f, ipOptionBytes(rng, 4 * rng.below(11)));
      fix = rng.below(10) < 9;
      break;
    case 'fragment': {
      const frames = fragmentFrame(rng, f);
      for (const x of frames) fixChecksums(x);
      return frames;
    }
    case 'splice': {
      const cut = rng.below(Math.max(1, f.length));
      const from = rng.below(Math.max(1, other.length));
      const out = new Uint8Array(cut + (other.length - from));
      out.set(f.subarray(0, cut));
      out.set(other.subarray(from), cut);
      f = out;
      fix = rng.below(2) === 0;
      break;
    }
  }
  if (fix) fixChecksums(f);
  return [f];
}
