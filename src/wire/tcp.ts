/**
 * TCP header codec (RFC 9293 §3.1). Types first: the view, parse and emit follow.
 *
 * `TcpRepr` is the plain, owned description of a segment's header. Sequence and
 * acknowledgement numbers are unsigned 32-bit numbers; compare them only with
 * the mod-2^32 helpers in src/tcp/seq.ts.
 */
import { checksumPartial, foldChecksum, internetChecksum, internetChecksumRange } from './checksum.ts';
import { type WireError, wireError } from './error.ts';

/** Flag bits as in the header's 13th/14th octets (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** A SACK block: [left, right) edges (RFC 2018 §3). */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** Parsed options. Absent options are undefined. Unknown options are skipped by length. */
export interface TcpOptions {
  /** Maximum segment size (kind 2). */
  readonly mss?: number;
  /** Window scale shift count (kind 3, RFC 7323 §2). */
  readonly windowScale?: number;
  /** SACK-permitted (kind 4, RFC 2018). */
  readonly sackPermitted?: boolean;
  /** SACK blocks (kind 5, RFC 2018), up to 4. */
  readonly sack?: readonly SackBlock[];
  /** Timestamps (kind 8, RFC 7323 §3): TSval and TSecr. */
  readonly timestamps?: { readonly tsVal: number; readonly tsEcr: number };
  /**
   * TCP Fast Open (RFC 7413 §4.1.1, kind 34): an empty cookie is a cookie request, else a
   * cookie of 4 to 16 bytes (even). `experimental`: the pre-RFC form, kind 254 with the magic
   * 0xF989 (RFC 6994 shared experimental option), which Linux still parses and answers in kind.
   */
  readonly fastOpen?: { readonly cookie: Uint8Array; readonly experimental?: boolean };
}

export interface TcpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Bit set of TCP_* flags. */
  readonly flags: number;
  /** Raw 16-bit window field (unscaled). */
  readonly window: number;
  readonly urgentPointer: number;
  readonly options: TcpOptions;
}

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_MAX_OPTIONS_LEN = 40;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;
/** RFC 7413 TCP Fast Open cookie. */
export const TCPOPT_FASTOPEN = 34;
/** RFC 6994 shared experimental option; Fast Open's ExID is 0xF989. */
export const TCPOPT_EXP = 254;
export const TCPOPT_FASTOPEN_MAGIC = 0xf989;
/** RFC 7413 §4.1.1: cookies are 4..16 bytes (Linux TCP_FASTOPEN_COOKIE_MIN/MAX). */
export const TCP_FASTOPEN_COOKIE_MIN = 4;
export const TCP_FASTOPEN_COOKIE_MAX = 16;

const TCPOLEN_MSS = 4;
const TCPOLEN_WINDOW = 3;
const TCPOLEN_SACK_PERMITTED = 2;
const TCPOLEN_TIMESTAMP = 10;

/**
 * Zero-copy view over a TCP segment. Fields are read and written byte by byte
 * (no DataView: making one per packet cost more than every field access it saved).
 * `reset(bytes)` re-points a view so a hot path can keep one instead of making one
 * per packet.
 */
export class TcpView {
  bytes: Uint8Array;
  #dv: DataView | undefined;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  /** Re-points the view at another segment (unchecked: see `check`). Returns the view. */
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
  /** Checks the fixed header and that Data Offset is 5..15 words and fits the bytes. */
  static check(bytes: Uint8Array): TcpView | WireError {
    if (bytes.length < TCP_HEADER_LEN) return wireError('truncated', `tcp: ${bytes.length} < 20 bytes`);
    const v = new TcpView(bytes);
    const hl = v.headerLength;
    if (hl < TCP_HEADER_LEN) return wireError('malformed', `tcp: data offset ${hl / 4} < 5`);
    if (hl > bytes.length) return wireError('truncated', `tcp: header ${hl} > ${bytes.length} bytes`);
    return v;
  }
  get srcPort(): number {
    return readU16(this.bytes, 0);
  }
  set srcPort(v: number) {
    writeU16(this.bytes, 0, v);
  }
  get dstPort(): number {
    return readU16(this.bytes, 2);
  }
  set dstPort(v: number) {
    writeU16(this.bytes, 2, v);
  }
  get seq(): number {
    return readU32(this.bytes, 4);
  }
  set seq(v: number) {
    writeU32(this.bytes, 4, v);
  }
  get ack(): number {
    return readU32(this.bytes, 8);
  }
  set ack(v: number) {
    writeU32(this.bytes, 8, v);
  }
  /** Header length in bytes (Data Offset * 4). */
  get headerLength(): number {
    return (this.bytes[12] >>> 4) * 4;
  }
  set headerLength(bytes: number) {
    this.bytes[12] = ((bytes >>> 2) << 4) | (this.bytes[12] & 0x0f);
  }
  /** The TCP_* flag bits (CWR..FIN). */
  get flags(): number {
    return this.bytes[13];
  }
  set flags(v: number) {
    this.bytes[13] = v;
  }
  get window(): number {
    return readU16(this.bytes, 14);
  }
  set window(v: number) {
    writeU16(this.bytes, 14, v);
  }
  get checksum(): number {
    return readU16(this.bytes, 16);
  }
  set checksum(v: number) {
    writeU16(this.bytes, 16, v);
  }
  get urgentPointer(): number {
    return readU16(this.bytes, 18);
  }
  set urgentPointer(v: number) {
    writeU16(this.bytes, 18, v);
  }
  /** Raw option bytes (a subarray). */
  get optionBytes(): Uint8Array {
    return this.bytes.subarray(TCP_HEADER_LEN, this.headerLength);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
  /** Verifies the checksum over the whole segment, given the pseudo-header partial sum. */
  verifyChecksum(pseudoSum: number): boolean {
    return foldChecksum(checksumPartial(this.bytes, pseudoSum)) === 0xffff;
  }
  fillChecksum(pseudoSum: number): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, pseudoSum);
  }
}

/**
 * Parses the options area as Linux's tcp_parse_options does. Unknown kinds are skipped by
 * their length. A malformed length (below 2, RFC 9293 §3.1 "Option-Length ... includes the
 * two octets of option-kind and option-length", or running past the header) ends the
 * parse: the options before it stand and the segment is processed with them. A known
 * option with the wrong length for its kind is ignored. RFC 9293 §3.1 leaves what to do
 * with a bad option open; RFC 1122 §4.2.2.5 asks that a TCP "be prepared to handle an
 * illegal option length (e.g., zero) without crashing; a suggested procedure is to reset
 * the connection and log the reason", which neither Linux nor FreeBSD (tcp_dooptions also
 * stops at a bad length) does.
 */
export function parseTcpOptions(opts: Uint8Array): TcpOptions {
  return parseTcpOptionsIn(opts, 0, opts.length);
}

/** No options: one shared, frozen object rather than a fresh `{}` per segment. */
const NO_TCP_OPTIONS: TcpOptions = Object.freeze({});

/** parseTcpOptions over bytes[start, end) without a subarray. */
function parseTcpOptionsIn(opts: Uint8Array, start: number, end: number): TcpOptions {
  if (start === end) return NO_TCP_OPTIONS;
  // The common data segment carries exactly NOP, NOP, Timestamps (RFC 7323 Appendix A layout).
  if (
    end - start === 12 &&
    opts[start] === TCPOPT_NOP &&
    opts[start + 1] === TCPOPT_NOP &&
    opts[start + 2] === TCPOPT_TIMESTAMP &&
    opts[start + 3] === TCPOLEN_TIMESTAMP
  ) {
    return { timestamps: { tsVal: readU32(opts, start + 4), tsEcr: readU32(opts, start + 8) } };
  }
  let mss: number | undefined;
  let windowScale: number | undefined;
  let sackPermitted: boolean | undefined;
  let sack: SackBlock[] | undefined;
  let timestamps: { tsVal: number; tsEcr: number } | undefined;
  let fastOpen: { cookie: Uint8Array; experimental?: boolean } | undefined;
  let i = start;
  while (i < end) {
    const kind = opts[i];
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    // No length byte, a length below 2 or past the header: stop here (Linux: "silly
    // options", "don't parse partial options").
    if (i + 1 >= end) break;
    const len = opts[i + 1];
    if (len < 2 || i + len > end) break;
    const at = i + 2;
    switch (kind) {
      case TCPOPT_MSS:
        if (len === TCPOLEN_MSS) mss = (opts[at] << 8) | opts[at + 1];
        break;
      case TCPOPT_WINDOW:
        // RFC 7323 §2.3: a shift above 14 is used as 14; that clamp is the TCP layer's.
        if (len === TCPOLEN_WINDOW) windowScale = opts[at];
        break;
      case TCPOPT_SACK_PERMITTED:
        if (len === TCPOLEN_SACK_PERMITTED) sackPermitted = true;
        break;
      case TCPOPT_SACK: {
        const n = (len - 2) / 8;
        if (!Number.isInteger(n) || n < 1 || n > 4) break;
        sack = [];
        for (let k = 0; k < n; k++) {
          const o = at + 8 * k;
          sack.push({ left: readU32(opts, o), right: readU32(opts, o + 4) });
        }
        break;
      }
      case TCPOPT_TIMESTAMP:
        if (len === TCPOLEN_TIMESTAMP)
          timestamps = { tsVal: readU32(opts, at), tsEcr: readU32(opts, at + 4) };
        break;
      case TCPOPT_FASTOPEN:
        fastOpen = fastOpenCookie(opts, at, len - 2, false) ?? fastOpen;
        break;
      case TCPOPT_EXP:
        if (len >= 4 && readU16(opts, at) === TCPOPT_FASTOPEN_MAGIC)
          fastOpen = fastOpenCookie(opts, at + 2, len - 4, true) ?? fastOpen;
        break;
      default:
        break;
    }
    i += len;
  }
  const out: {
    mss?: number;
    windowScale?: number;
    sackPermitted?: boolean;
    sack?: readonly SackBlock[];
    timestamps?: { readonly tsVal: number; readonly tsEcr: number };
    fastOpen?: { readonly cookie: Uint8Array; readonly experimental?: boolean };
  } = {};
  if (mss !== undefined) out.mss = mss;
  if (fastOpen) out.fastOpen = fastOpen;
  if (windowScale !== undefined) out.windowScale = windowScale;
  if (sackPermitted) out.sackPermitted = true;
  if (sack) out.sack = sack;
  if (timestamps) out.timestamps = timestamps;
  return out;
}

/**
 * A Fast Open option's cookie, as Linux's tcp_parse_fastopen_option reads it: an even length,
 * either 0 (a cookie request) or 4..16 bytes (RFC 7413 §4.1.1); anything else is no option.
 */
function fastOpenCookie(
  b: Uint8Array,
  at: number,
  len: number,
  experimental: boolean,
): { cookie: Uint8Array; experimental?: boolean } | undefined {
  if (len < 0 || len & 1) return undefined;
  if (len !== 0 && (len < TCP_FASTOPEN_COOKIE_MIN || len > TCP_FASTOPEN_COOKIE_MAX)) return undefined;
  const cookie = b.slice(at, at + len);
  return experimental ? { cookie, experimental } : { cookie };
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function readU16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
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

/** How many SACK blocks fit beside the other options in 40 bytes (Linux drops SACK blocks first). */
function sackBlocksThatFit(o: TcpOptions): number {
  const want = o.sack ? Math.min(o.sack.length, 4) : 0;
  if (want === 0) return 0;
  const room = TCP_MAX_OPTIONS_LEN - fixedOptionsLength(o) - 4;
  return Math.max(0, Math.min(want, Math.floor(room / 8)));
}

/** Bytes of the Fast Open option with its NOP padding to a 4-byte boundary (Linux tcp_options_write). */
function fastOpenLength(o: TcpOptions): number {
  const fo = o.fastOpen;
  if (!fo) return 0;
  return ((fo.experimental ? 4 : 2) + fo.cookie.length + 3) & ~3;
}

function fixedOptionsLength(o: TcpOptions): number {
  let n = fastOpenLength(o);
  if (o.mss !== undefined) n += 4;
  if (o.timestamps)
    n += 12; // [sackOK|nop nop] + TS
  else if (o.sackPermitted) n += 4; // nop nop sackOK
  if (o.windowScale !== undefined) n += 4; // nop WS
  return n;
}

/**
 * Bytes the options take when emitted (always a multiple of 4, at most 40): the
 * Linux layout of tcp_options_write() — `mss`, `sackOK,TS` or `nop,nop,TS`,
 * `nop,nop,sackOK` (without TS), `nop,wscale`, `nop,nop,sack`, then the Fast Open cookie
 * padded with NOPs. SACK blocks that do not fit are dropped (the last ones first).
 */
export function tcpOptionsLength(options: TcpOptions): number {
  const n = sackBlocksThatFit(options);
  return fixedOptionsLength(options) + (n > 0 ? 4 + 8 * n : 0);
}

export function tcpHeaderLength(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLength(repr.options);
}

/** Writes options at out[at..] in the Linux layout; returns bytes written. */
export function emitTcpOptions(o: TcpOptions, out: Uint8Array, at: number): number {
  const start = at;
  if (o.mss !== undefined) {
    writeU32(out, at, ((TCPOPT_MSS << 24) | (TCPOLEN_MSS << 16) | (o.mss & 0xffff)) >>> 0);
    at += 4;
  }
  if (o.timestamps) {
    if (o.sackPermitted) {
      writeU32(
        out,
        at,
        ((TCPOPT_SACK_PERMITTED << 24) |
          (TCPOLEN_SACK_PERMITTED << 16) |
          (TCPOPT_TIMESTAMP << 8) |
          TCPOLEN_TIMESTAMP) >>>
          0,
      );
    } else {
      writeU32(
        out,
        at,
        ((TCPOPT_NOP << 24) | (TCPOPT_NOP << 16) | (TCPOPT_TIMESTAMP << 8) | TCPOLEN_TIMESTAMP) >>> 0,
      );
    }
    writeU32(out, at + 4, o.timestamps.tsVal >>> 0);
    writeU32(out, at + 8, o.timestamps.tsEcr >>> 0);
    at += 12;
  } else if (o.sackPermitted) {
    writeU32(
      out,
      at,
      ((TCPOPT_NOP << 24) | (TCPOPT_NOP << 16) | (TCPOPT_SACK_PERMITTED << 8) | TCPOLEN_SACK_PERMITTED) >>> 0,
    );
    at += 4;
  }
  if (o.windowScale !== undefined) {
    writeU32(
      out,
      at,
      ((TCPOPT_NOP << 24) | (TCPOPT_WINDOW << 16) | (TCPOLEN_WINDOW << 8) | (o.windowScale & 0xff)) >>> 0,
    );
    at += 4;
  }
  const n = sackBlocksThatFit(o);
  if (n > 0 && o.sack) {
    writeU32(out, at, ((TCPOPT_NOP << 24) | (TCPOPT_NOP << 16) | (TCPOPT_SACK << 8) | (2 + 8 * n)) >>> 0);
    at += 4;
    for (let k = 0; k < n; k++) {
      writeU32(out, at, o.sack[k].left >>> 0);
      writeU32(out, at + 4, o.sack[k].right >>> 0);
      at += 8;
    }
  }
  const fo = o.fastOpen;
  if (fo) {
    // RFC 7413 §4.1.1 (or the RFC 6994 experimental form), then NOPs to the next word.
    const end = at + fastOpenLength(o);
    if (fo.experimental) {
      out[at] = TCPOPT_EXP;
      out[at + 1] = 4 + fo.cookie.length;
      writeU16(out, at + 2, TCPOPT_FASTOPEN_MAGIC);
      at += 4;
    } else {
      out[at] = TCPOPT_FASTOPEN;
      out[at + 1] = 2 + fo.cookie.length;
      at += 2;
    }
    out.set(fo.cookie, at);
    at += fo.cookie.length;
    while (at < end) out[at++] = TCPOPT_NOP;
  }
  return at - start;
}

/**
 * Parses a TCP segment. With `pseudoSum` (the pseudo-header partial sum covering
 * this segment's length) the checksum is verified. `payload` aliases the input.
 */
export function parseTcp(
  bytes: Uint8Array,
  pseudoSum?: number,
): { repr: TcpRepr; payload: Uint8Array } | WireError {
  // The checks of TcpView.check, read in place (no view, no subarray for the options).
  const n = bytes.length;
  if (n < TCP_HEADER_LEN) return wireError('truncated', `tcp: ${n} < 20 bytes`);
  const hl = (bytes[12] >>> 4) * 4;
  if (hl < TCP_HEADER_LEN) return wireError('malformed', `tcp: data offset ${hl / 4} < 5`);
  if (hl > n) return wireError('truncated', `tcp: header ${hl} > ${n} bytes`);
  if (pseudoSum !== undefined && foldChecksum(checksumPartial(bytes, pseudoSum)) !== 0xffff) {
    return wireError('checksum', `tcp: bad checksum 0x${readU16(bytes, 16).toString(16)}`);
  }
  const options = parseTcpOptionsIn(bytes, TCP_HEADER_LEN, hl);
  return {
    repr: {
      srcPort: readU16(bytes, 0),
      dstPort: readU16(bytes, 2),
      seq: readU32(bytes, 4),
      ack: readU32(bytes, 8),
      flags: bytes[13],
      window: readU16(bytes, 14),
      urgentPointer: readU16(bytes, 18),
      options,
    },
    payload: bytes.subarray(hl),
  };
}

/**
 * Writes header, options and `payload` into `out` at offset `at` (default 0),
 * computes the checksum from `pseudoSum` (which must cover length header + payload),
 * and returns the segment length. `payload` may already sit at its place in `out`
 * (emit in place: then it is not copied). A stack builds a whole frame this way:
 * link and IP headers in front, the segment at `at`, one buffer, one payload copy.
 */
/** Payloads of at most this many bytes are placed by emitTcp's byte loop. */
const SMALL_PAYLOAD = 16;
const smallScratch = new Uint8Array(SMALL_PAYLOAD);

export function emitTcp(
  repr: TcpRepr,
  payload: Uint8Array,
  out: Uint8Array,
  pseudoSum: number | undefined,
  at = 0,
): number {
  const hl = tcpHeaderLength(repr);
  const len = hl + payload.length;
  if (out.length < at + len) throw new RangeError(`emitTcp: buffer ${out.length} < ${at + len}`);
  // Place the payload first: it may overlap the header area if the caller staged it elsewhere in `out`.
  const pn = payload.length;
  if (pn <= SMALL_PAYLOAD) {
    // A few bytes (request/response) are copied by hand, through a scratch buffer so that a
    // payload staged anywhere in `out` comes out right: cheaper than set() and .buffer.
    for (let i = 0; i < pn; i++) smallScratch[i] = payload[i]!;
    for (let i = 0, o = at + hl; i < pn; i++) out[o + i] = smallScratch[i]!;
  } else if (payload.byteOffset !== out.byteOffset + at + hl || payload.buffer !== out.buffer)
    out.set(payload, at + hl);
  writeU16(out, at, repr.srcPort);
  writeU16(out, at + 2, repr.dstPort);
  writeU32(out, at + 4, repr.seq);
  writeU32(out, at + 8, repr.ack);
  out[at + 12] = (hl >>> 2) << 4;
  out[at + 13] = repr.flags;
  writeU16(out, at + 14, repr.window);
  writeU16(out, at + 16, 0);
  writeU16(out, at + 18, repr.urgentPointer);
  emitTcpOptions(repr.options, out, at + TCP_HEADER_LEN);
  // Checksum offload (pseudoSum undefined): the field stays 0 for the device to fill or skip.
  if (pseudoSum !== undefined) writeU16(out, at + 16, internetChecksumRange(out, at, at + len, pseudoSum));
  return len;
}
