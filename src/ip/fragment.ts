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
import { emitIpv4, type Ipv4Repr, ipv4HeaderLength } from '../wire/ipv4.ts';
import type { IpStats, ReassemblyStats } from './stats.ts';

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

/** A datagram in reassembly, of either family; `F` is what its offset-0 fragment leaves for Time Exceeded. */
export class PendingDatagram<F> {
  readonly key: string;
  readonly timer: Timer;
  pieces: Piece[] = [];
  /** The length, once the last fragment has come. */
  total: number | undefined = undefined;
  first: F | undefined = undefined;
  /** Charged against the cap: PER_DATAGRAM_OVERHEAD and each held fragment's cost. */
  charged = PER_DATAGRAM_OVERHEAD;
  /** Set after an overlap or a malformed fragment: fragments are discarded until the timer fires. */
  dead = false;
  constructor(key: string, timer: Timer) {
    this.key = key;
    this.timer = timer;
  }
}

interface TableEnv<F> {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly stats: ReassemblyStats;
  timedOut(first: F): void;
}

/**
 * The bounded table of datagrams in reassembly that both families' reassemblers keep
 * (this file's for IPv4, ipv6-fragment.ts's for IPv6): each datagram has its timer, and
 * memory is charged at true cost; past `maxBytes` or `maxDatagrams` the oldest datagrams
 * are evicted (as Linux's inet_frag evictor), each a failed reassembly. A datagram that
 * times out after its first fragment came is reported (`timedOut`) for Time Exceeded
 * code 1 (RFC 1122 §3.3.2, RFC 8200 §4.5).
 */
export class ReassemblyTable<F, D extends PendingDatagram<F>> {
  readonly config: ReassemblyConfig;
  readonly #env: TableEnv<F>;
  readonly #make: (key: string, timer: Timer) => D;
  /** Insertion order = age order (Map iterates in insertion order). */
  readonly #table = new Map<string, D>();
  #bytes = 0;

  constructor(env: TableEnv<F>, config: ReassemblyConfig, make: (key: string, timer: Timer) => D) {
    this.#env = env;
    this.config = config;
    this.#make = make;
  }

  /** Datagrams currently in reassembly (including dropped ones awaiting timeout). */
  get datagrams(): number {
    return this.#table.size;
  }

  /** Bytes charged against the memory cap. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Drops everything (tests, interface reset). */
  clear(): void {
    for (const d of [...this.#table.values()]) this.#remove(d);
  }

  /**
   * The datagram `key` names, made (its timer started) when new if one more datagram and a
   * fragment of `cost` fit; undefined, a failure, when they cannot.
   */
  protected datagram(key: string, cost: number): D | undefined {
    let d = this.#table.get(key);
    if (d !== undefined) return d;
    if (!this.#makeRoom(cost + PER_DATAGRAM_OVERHEAD, true)) {
      this.#env.stats.reasmFails++;
      return undefined;
    }
    const made: D = this.#make(
      key,
      this.#env.timers.timer(() => this.#expire(made)),
    );
    d = made;
    this.#bytes += d.charged;
    this.#table.set(key, d);
    d.timer.set(this.#env.now() + this.config.timeout);
    return d;
  }

  /** Charges a fragment of `cost` to `d`, evicting older datagrams as needed; false, a failure, when it cannot fit. */
  protected charge(d: D, cost: number): boolean {
    if (!this.#makeRoom(cost, false, d)) {
      this.#env.stats.reasmFails++;
      return false;
    }
    d.charged += cost;
    this.#bytes += cost;
    return true;
  }

  /** Gives up on `d` (an overlap, a malformed fragment): its fragments until the timer fires are discarded. */
  protected kill(d: D): void {
    this.#env.stats.reasmFails++;
    d.dead = true;
    d.first = undefined;
    this.#bytes -= d.charged - PER_DATAGRAM_OVERHEAD;
    d.charged = PER_DATAGRAM_OVERHEAD;
    d.pieces = [];
  }

  /** `d` is complete (or given up): out of the table. */
  protected done(d: D): void {
    this.#remove(d);
  }

  /** Evicts oldest datagrams until `need` more bytes (and one more datagram when `newDatagram`) fit. */
  #makeRoom(need: number, newDatagram: boolean, keep?: D): boolean {
    const { maxBytes, maxDatagrams } = this.config;
    if (need > maxBytes) return false;
    while (this.#bytes + need > maxBytes || (newDatagram && this.#table.size >= maxDatagrams)) {
      let victim: D | undefined;
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

  #remove(d: D): void {
    d.timer.cancel();
    this.#bytes -= d.charged;
    d.charged = 0;
    this.#table.delete(d.key);
  }

  #expire(d: D): void {
    if (this.#table.get(d.key) !== d) return;
    const { first, dead } = d;
    this.#remove(d);
    if (dead) return;
    this.#env.stats.reasmTimeouts++;
    this.#env.stats.reasmFails++;
    // RFC 1122 §3.3.2: "If the fragment with offset zero has been received, a Time
    // Exceeded message (code 1) SHOULD be sent to the source."
    if (first) this.#env.timedOut(first);
  }
}

/** The IPv4 offset-0 fragment's header with its first data bytes (for ICMP time exceeded). */
interface FirstFragment {
  readonly repr: Ipv4Repr;
  readonly quote: Uint8Array;
}

class Datagram extends PendingDatagram<FirstFragment> {
  holes: Hole[] = [{ first: 0, end: Number.POSITIVE_INFINITY }];
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

export class Reassembler extends ReassemblyTable<FirstFragment, Datagram> {
  readonly #stats: IpStats;

  constructor(env: ReassemblyEnv, config: Partial<ReassemblyConfig> = {}) {
    super(
      {
        now: () => env.now(),
        timers: env.timers,
        stats: env.stats,
        timedOut: (f) => env.timedOut(f.repr, f.quote),
      },
      { ...DEFAULT_REASSEMBLY_CONFIG, ...config },
      (key, timer) => new Datagram(key, timer),
    );
    this.#stats = env.stats;
  }

  /**
   * Adds one fragment (a datagram with MF set or a non-zero offset). `quote` is the
   * fragment's header plus its leading data (kept, and charged, from the first fragment,
   * for ICMP time exceeded).
   * Returns the whole datagram when this fragment completes it.
   */
  add(repr: Ipv4Repr, payload: Uint8Array, quote: Uint8Array): Reassembled | undefined {
    const stats = this.#stats;
    stats.reasmRequired++;
    const start = repr.fragmentOffset;
    const end = start + payload.length;
    // RFC 791: every fragment but the last carries a multiple of 8 data octets.
    if ((repr.moreFragments && (payload.length === 0 || payload.length % 8 !== 0)) || end > 65535 - 20) {
      stats.reasmMalformed++;
      stats.reasmFails++;
      return undefined;
    }
    const cost = payload.length + PER_FRAGMENT_OVERHEAD + (start === 0 ? quote.length : 0);
    const d = this.datagram(`${repr.src}/${repr.dst}/${repr.protocol}/${repr.identification}`, cost);
    if (d === undefined) return undefined;
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
    const hi = d.holes.findIndex((h) => start >= h.first && end <= h.end);
    const isLast = !repr.moreFragments;
    if (
      hi < 0 ||
      (isLast && d.holes[hi].end !== Number.POSITIVE_INFINITY && d.holes[hi].end !== end) ||
      (isLast && d.pieces.some((p) => p.start + p.data.length > end))
    ) {
      stats.reasmOverlaps++;
      this.kill(d);
      d.holes = [];
      return undefined;
    }
    if (!this.charge(d, cost)) return undefined;
    // RFC 815 steps 3-6: replace the hole by what is left of it on either side.
    const h = d.holes[hi];
    const replacement: Hole[] = [];
    if (start > h.first) replacement.push({ first: h.first, end: start });
    if (isLast) d.total = end;
    else if (end < h.end) replacement.push({ first: end, end: h.end });
    d.holes.splice(hi, 1, ...replacement);
    if (isLast) d.holes = d.holes.filter((x) => x.first < end);
    d.pieces.push({ start, data: payload.slice() });
    if (start === 0) d.first = { repr, quote: quote.slice() };
    // RFC 815 step 8: "If the hole descriptor list is now empty, the datagram is now complete."
    if (d.holes.length > 0 || d.total === undefined || d.first === undefined) return undefined;
    const out = new Uint8Array(d.total);
    for (const p of d.pieces) out.set(p.data, p.start);
    const first = d.first.repr;
    this.done(d);
    stats.reasmOk++;
    return {
      repr: { ...first, moreFragments: false, fragmentOffset: 0, payloadLength: out.length },
      payload: out,
    };
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
