/**
 * IPv4 fragmentation (RFC 791 §3.2 "Fragmentation and Reassembly") and reassembly
 * with the hole-descriptor algorithm of RFC 815.
 *
 * Reassembly policy:
 * - Datagrams are keyed by (source, destination, protocol, identification) (RFC 791).
 * - Fragments may arrive in any order; an exact duplicate (same offset and length)
 *   is ignored.
 * - A fragment that overlaps data already received drops the whole datagram, and
 *   later fragments of it are discarded until its timer expires. Deviation from
 *   RFC 791 (which lets later data overwrite earlier): RFC 5722 mandates this for
 *   IPv6 and overlapping IPv4 fragments are only ever an evasion or an attack.
 * - A datagram not complete within `timeout` (30 s, as Linux ipfrag_time) is dropped;
 *   if its first fragment had arrived, the owner sends ICMP time exceeded, code 1
 *   (RFC 1122 §3.3.2, RFC 792).
 * - Hard memory cap: at most `maxDatagrams` datagrams in reassembly and `maxBytes`
 *   bytes held. A fragment is charged what it really costs in heap, not just its data:
 *   its data plus PER_FRAGMENT_OVERHEAD (as Linux charges skb->truesize, not the payload
 *   length), and a datagram PER_DATAGRAM_OVERHEAD, so the cap holds in heap terms even
 *   for a flood of 8-byte fragments. To admit a new fragment past the cap, the oldest
 *   datagrams are evicted (as Linux's inet_frag evictor); a flood therefore cannot
 *   grow memory, only churn the table.
 */
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { Timer, TimerQueue } from '../time/timers.ts';
import type { Ipv4Address } from '../wire/address.ts';
import { emitIpv4, type Ipv4Repr, ipv4HeaderLength } from '../wire/ipv4.ts';
import type { IpStats } from './stats.ts';

export interface ReassemblyConfig {
  /** Default 30 s. */
  timeout: number;
  /** Bytes of fragment data held across all datagrams. Default 1 MiB. */
  maxBytes: number;
  /** Datagrams (including dropped ones remembered until timeout). Default 64. */
  maxDatagrams: number;
}

export const DEFAULT_REASSEMBLY_CONFIG: ReassemblyConfig = {
  timeout: seconds(30),
  maxBytes: 1024 * 1024,
  maxDatagrams: 64,
};

/**
 * Heap a datagram in reassembly costs besides its fragments (its record, key string, table
 * entry, timer and hole list): about 960 bytes measured on Node 20 (V8), rounded up.
 */
export const PER_DATAGRAM_OVERHEAD = 1024;

/**
 * Heap one held fragment costs besides its data bytes (its piece record, the Uint8Array and
 * ArrayBuffer of its copy, the hole it splits): an 8-byte fragment measured about 320 bytes
 * in all on Node 20 (V8). Charged per fragment, like Linux's skb truesize.
 */
export const PER_FRAGMENT_OVERHEAD = 320;

/** RFC 815 hole descriptor: bytes [first, end) still missing; end = Infinity before the last fragment. */
interface Hole {
  first: number;
  end: number;
}

interface Piece {
  start: number;
  data: Uint8Array;
}

class Datagram {
  readonly key: string;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly created: Instant;
  holes: Hole[] = [{ first: 0, end: Number.POSITIVE_INFINITY }];
  pieces: Piece[] = [];
  /** Header of the offset-0 fragment with its first data bytes (for ICMP time exceeded). */
  first: { repr: Ipv4Repr; quote: Uint8Array } | undefined = undefined;
  total: number | undefined = undefined;
  bytes = 0;
  /** Set after an overlap: fragments are discarded until the timer fires. */
  dead = false;
  timer: Timer;
  constructor(key: string, src: Ipv4Address, dst: Ipv4Address, now: Instant, timer: Timer) {
    this.key = key;
    this.src = src;
    this.dst = dst;
    this.created = now;
    this.timer = timer;
  }
}

export interface ReassemblyEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly stats: IpStats;
  /**
   * A datagram timed out after its first fragment arrived: send ICMP time exceeded
   * (code 1) quoting `quote` (the first fragment's header and leading data).
   */
  timedOut(firstRepr: Ipv4Repr, quote: Uint8Array): void;
}

export interface Reassembled {
  /** The first fragment's header with MF clear, offset 0 and the full payload length. */
  readonly repr: Ipv4Repr;
  readonly payload: Uint8Array;
}

export class Reassembler {
  readonly config: ReassemblyConfig;
  readonly #env: ReassemblyEnv;
  /** Insertion order = age order (Map iterates in insertion order). */
  readonly #table = new Map<string, Datagram>();
  #bytes = 0;

  constructor(env: ReassemblyEnv, config: Partial<ReassemblyConfig> = {}) {
    this.#env = env;
    this.config = { ...DEFAULT_REASSEMBLY_CONFIG, ...config };
  }

  /** Datagrams currently in reassembly (including dropped ones awaiting timeout). */
  get datagrams(): number {
    return this.#table.size;
  }

  /** Bytes charged against the memory cap. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds one fragment (a datagram with MF set or a non-zero offset). `quote` is the
   * fragment's header plus its leading data (kept, and charged, from the first fragment,
   * for ICMP time exceeded).
   * Returns the whole datagram when this fragment completes it.
   */
  add(repr: Ipv4Repr, payload: Uint8Array, quote: Uint8Array): Reassembled | undefined {
    const stats = this.#env.stats;
    stats.reasmRequired++;
    const start = repr.fragmentOffset;
    const end = start + payload.length;
    // RFC 791: every fragment but the last carries a multiple of 8 data octets.
    if ((repr.moreFragments && (payload.length === 0 || payload.length % 8 !== 0)) || end > 65535 - 20) {
      stats.reasmMalformed++;
      stats.reasmFails++;
      return undefined;
    }
    const key = `${repr.src}/${repr.dst}/${repr.protocol}/${repr.identification}`;
    const now = this.#env.now();
    let d = this.#table.get(key);
    const cost = payload.length + PER_FRAGMENT_OVERHEAD + (start === 0 ? quote.length : 0);
    if (d === undefined) {
      if (!this.#makeRoom(cost + PER_DATAGRAM_OVERHEAD, true)) {
        stats.reasmFails++;
        return undefined;
      }
      const created: Datagram = new Datagram(
        key,
        repr.src,
        repr.dst,
        now,
        this.#env.timers.timer(() => this.#expire(created)),
      );
      d = created;
      d.bytes = PER_DATAGRAM_OVERHEAD;
      this.#bytes += PER_DATAGRAM_OVERHEAD;
      this.#table.set(key, d);
      d.timer.set(now + this.config.timeout);
    }
    if (d.dead) {
      stats.reasmFails++;
      return undefined;
    }
    // Exact duplicate: ignore (retransmissions and duplicating links produce these).
    for (const p of d.pieces) {
      if (p.start === start && p.data.length === payload.length) {
        if (!repr.moreFragments && d.total !== end) break; // same range but claims to be last: inconsistent
        stats.reasmDuplicates++;
        return undefined;
      }
    }
    // RFC 815 step 1-2: find the hole the fragment falls in. It must lie entirely in
    // one hole, else it overlaps data we hold (or lies past the end).
    let hi = -1;
    for (let i = 0; i < d.holes.length; i++) {
      const h = d.holes[i];
      if (start >= h.first && end <= h.end) {
        hi = i;
        break;
      }
    }
    const isLast = !repr.moreFragments;
    if (hi < 0 || (isLast && d.holes[hi].end !== Number.POSITIVE_INFINITY && d.holes[hi].end !== end)) {
      this.#kill(d, 'overlap');
      return undefined;
    }
    if (isLast && d.pieces.some((p) => p.start + p.data.length > end)) {
      this.#kill(d, 'overlap');
      return undefined;
    }
    if (!this.#makeRoom(cost, false, d)) {
      stats.reasmFails++;
      return undefined;
    }
    // RFC 815 steps 3-6: replace the hole by what is left of it on either side.
    const h = d.holes[hi];
    const replacement: Hole[] = [];
    if (start > h.first) replacement.push({ first: h.first, end: start });
    if (isLast) d.total = end;
    else if (end < h.end) replacement.push({ first: end, end: h.end });
    d.holes.splice(hi, 1, ...replacement);
    if (isLast) d.holes = d.holes.filter((x) => x.first < end);
    d.pieces.push({ start, data: payload.slice() });
    d.bytes += cost;
    this.#bytes += cost;
    if (start === 0) d.first = { repr, quote: quote.slice() };
    // RFC 815 step 8: "If the hole descriptor list is now empty, the datagram is now complete."
    if (d.holes.length > 0 || d.total === undefined || d.first === undefined) return undefined;
    const out = new Uint8Array(d.total);
    for (const p of d.pieces) out.set(p.data, p.start);
    const first = d.first.repr;
    this.#remove(d);
    stats.reasmOk++;
    return {
      repr: { ...first, moreFragments: false, fragmentOffset: 0, payloadLength: out.length },
      payload: out,
    };
  }

  /** Drops everything (tests, interface reset). */
  clear(): void {
    for (const d of [...this.#table.values()]) this.#remove(d);
  }

  #kill(d: Datagram, why: 'overlap'): void {
    const stats = this.#env.stats;
    if (why === 'overlap') stats.reasmOverlaps++;
    stats.reasmFails++;
    d.dead = true;
    d.first = undefined;
    this.#bytes -= d.bytes - PER_DATAGRAM_OVERHEAD;
    d.bytes = PER_DATAGRAM_OVERHEAD;
    d.pieces = [];
    d.holes = [];
  }

  /** Evicts oldest datagrams until `need` more bytes (and one more datagram when `newDatagram`) fit. */
  #makeRoom(need: number, newDatagram: boolean, keep?: Datagram): boolean {
    const { maxBytes, maxDatagrams } = this.config;
    if (need > maxBytes) return false;
    while (this.#bytes + need > maxBytes || (newDatagram && this.#table.size >= maxDatagrams)) {
      let victim: Datagram | undefined;
      for (const d of this.#table.values()) {
        if (d !== keep) {
          victim = d;
          break;
        }
      }
      if (victim === undefined) return false;
      this.#env.stats.reasmEvictions++;
      if (!victim.dead) this.#env.stats.reasmFails++;
      this.#remove(victim);
    }
    return true;
  }

  #remove(d: Datagram): void {
    d.timer.cancel();
    this.#bytes -= d.bytes;
    d.bytes = 0;
    this.#table.delete(d.key);
  }

  #expire(d: Datagram): void {
    if (this.#table.get(d.key) !== d) return;
    const first = d.first;
    const dead = d.dead;
    this.#remove(d);
    if (dead) return;
    this.#env.stats.reasmTimeouts++;
    this.#env.stats.reasmFails++;
    // RFC 1122 §3.3.2: "If the fragment with offset zero has been received, a Time
    // Exceeded message (code 1) SHOULD be sent to the source."
    if (first) this.#env.timedOut(first.repr, first.quote);
  }
}

/**
 * The options copied into every fragment: those with the copied flag (bit 0x80)
 * set (RFC 791 §3.1 "Options": "copied flag ... 1 = copied into all fragments").
 */
export function copiedOptions(options: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < options.length; ) {
    const type = options[i];
    if (type === 0) break; // End of Option List
    if (type === 1) {
      i++; // No Operation: not copied
      continue;
    }
    const len = options[i + 1];
    if (len === undefined || len < 2 || i + len > options.length) break;
    if (type & 0x80) for (let j = 0; j < len; j++) out.push(options[i + j]);
    i += len;
  }
  return new Uint8Array(out);
}

/**
 * Splits a datagram (header repr + payload) into fragments that each fit `mtu`,
 * returning whole IPv4 packets (header emitted, checksum filled). RFC 791 §3.2:
 * each fragment's data is a multiple of 8 octets except the last; MF is set on all
 * but the last (and kept on the last when the input was itself a non-last fragment).
 * Returns undefined when the MTU cannot carry even 8 bytes of data past the header.
 */
export function fragmentDatagram(repr: Ipv4Repr, payload: Uint8Array, mtu: number): Uint8Array[] | undefined {
  const firstHl = ipv4HeaderLength(repr);
  const restOptions = copiedOptions(repr.options);
  const restRepr = { ...repr, options: restOptions };
  const restHl = ipv4HeaderLength(restRepr);
  const out: Uint8Array[] = [];
  let off = 0;
  const baseOffset = repr.fragmentOffset;
  while (off < payload.length) {
    const hl = off === 0 ? firstHl : restHl;
    const room = (mtu - hl) & ~7;
    if (room < 8) return undefined;
    const n = Math.min(room, payload.length - off);
    const last = off + n >= payload.length;
    const frag = new Uint8Array(hl + n);
    emitIpv4(
      {
        ...(off === 0 ? repr : restRepr),
        moreFragments: last ? repr.moreFragments : true,
        fragmentOffset: baseOffset + off,
        payloadLength: n,
      },
      frag,
    );
    frag.set(payload.subarray(off, off + n), hl);
    out.push(frag);
    off += n;
  }
  return out;
}
