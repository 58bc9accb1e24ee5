/**
 * IPv6 fragmentation by the source (RFC 8200 §4.5) and bounded reassembly.
 *
 * Reassembly policy:
 * - Fragments are keyed by (source, destination, Identification) (RFC 8200 §4.5).
 * - A fragment overlapping data already held drops the whole datagram, and later
 *   fragments of it are discarded until its timer expires (RFC 5722 §4). An exact
 *   duplicate is an overlap too (RFC 5722 allows dropping it; Linux does).
 * - Not complete within 60 s (RFC 8200 §4.5): dropped; if the first fragment arrived the
 *   owner sends Time Exceeded code 1 quoting it.
 * - Memory is charged at true cost as in src/ip/fragment.ts (data plus per-fragment and
 *   per-datagram overhead); past `maxBytes` or `maxDatagrams`, the oldest datagrams are
 *   evicted, so a flood churns the table but cannot grow memory.
 */
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import {
  emitIpv6Fragment,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_HEADER_LEN,
  IPV6_NH_FRAGMENT,
} from '../wire/ipv6.ts';
import { ipv6Key } from '../wire/ipv6-address.ts';
import { PER_FRAGMENT_OVERHEAD, PendingDatagram, ReassemblyTable } from './fragment.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';

export interface Ipv6ReassemblyConfig {
  /** Default 60 s (RFC 8200 §4.5). */
  timeout: number;
  /** Bytes charged across all datagrams. Default 1 MiB. */
  maxBytes: number;
  maxDatagrams: number;
}

export const DEFAULT_IPV6_REASSEMBLY: Ipv6ReassemblyConfig = {
  timeout: seconds(60),
  maxBytes: 1024 * 1024,
  maxDatagrams: 64,
};

/** One fragment as the input path hands it over. */
export interface Ipv6Fragment {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly identification: number;
  readonly offset: number;
  readonly moreFragments: boolean;
  readonly nextHeader: number;
  /** The unfragmentable part (fixed header and extension headers before the fragment header). */
  readonly unfragmentable: Uint8Array;
  /** Offset within `unfragmentable` of the Next Header octet that named the fragment header. */
  readonly nextHeaderAt: number;
  readonly data: Uint8Array;
  /** The packet as received (the first fragment's is quoted by Time Exceeded). */
  readonly packet: Uint8Array;
}

export interface Ipv6ReassemblyEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly stats: Ipv6Stats;
  /** A datagram timed out after its first fragment arrived: Time Exceeded code 1 quoting it. */
  timedOut(firstFragment: Uint8Array): void;
}

type Pending = PendingDatagram<Ipv6Fragment>;

/** IPv6 reassembly over the table IPv4's shares (fragment.ts: caps, eviction, timers). */
export class Ipv6Reassembler extends ReassemblyTable<Ipv6Fragment, Pending> {
  readonly #stats: Ipv6Stats;

  constructor(env: Ipv6ReassemblyEnv, config: Partial<Ipv6ReassemblyConfig> = {}) {
    super(
      { now: () => env.now(), timers: env.timers, stats: env.stats, timedOut: (f) => env.timedOut(f.packet) },
      { ...DEFAULT_IPV6_REASSEMBLY, ...config },
      (key, timer) => new PendingDatagram(key, timer),
    );
    this.#stats = env.stats;
  }

  /** Bytes charged now (data and overhead). */
  get bytesHeld(): number {
    return this.bytes;
  }

  /** Adds a fragment; returns the whole packet (header rewritten, no fragment header) when complete. */
  add(f: Ipv6Fragment): Uint8Array | undefined {
    const stats = this.#stats;
    stats.reasmRequired++;
    const cost = f.data.length + PER_FRAGMENT_OVERHEAD;
    const d = this.datagram(`${ipv6Key(f.src)}${ipv6Key(f.dst)}${f.identification}`, cost);
    if (d === undefined) return undefined;
    if (d.dead) {
      stats.reasmFails++;
      return undefined;
    }
    const start = f.offset;
    const end = start + f.data.length;
    // RFC 8200 §4.5: a last fragment fixes the length; data past it, or a second
    // different end, makes the datagram invalid.
    if (
      f.moreFragments
        ? d.total !== undefined && end > d.total
        : (d.total !== undefined && d.total !== end) || d.pieces.some((p) => p.start + p.data.length > end)
    ) {
      stats.reasmMalformed++;
      this.kill(d);
      return undefined;
    }
    // RFC 5722 §4: any overlap discards the datagram and the fragments still to come.
    if (d.pieces.some((p) => start < p.start + p.data.length && p.start < end)) {
      stats.reasmOverlaps++;
      this.kill(d);
      return undefined;
    }
    if (!this.charge(d, cost)) return undefined;
    if (!f.moreFragments) d.total = end;
    let i = 0;
    while (i < d.pieces.length && d.pieces[i].start < start) i++;
    d.pieces.splice(i, 0, { start, data: f.data.slice() });
    if (start === 0) d.first = f;
    if (d.total === undefined || d.first === undefined) return undefined;
    let at = 0;
    for (const p of d.pieces) {
      if (p.start !== at) return undefined;
      at += p.data.length;
    }
    if (at !== d.total) return undefined;
    // Complete: the first fragment's unfragmentable part, its Next Header set to the
    // fragment header's, then the data (RFC 8200 §4.5 "Reassembly").
    const first = d.first;
    const u = first.unfragmentable;
    const out = new Uint8Array(u.length + d.total);
    out.set(u);
    out[first.nextHeaderAt] = first.nextHeader;
    for (const p of d.pieces) out.set(p.data, u.length + p.start);
    const pl = out.length - IPV6_HEADER_LEN;
    out[4] = pl >>> 8;
    out[5] = pl;
    this.done(d);
    if (pl > 0xffff) {
      stats.reasmMalformed++;
      return undefined;
    }
    stats.reasmOk++;
    return out;
  }
}

/**
 * Source fragmentation (RFC 8200 §4.5): `unfrag` is the fixed header and the
 * unfragmentable extension headers (its Next Header octet at `nextHeaderAt`), `rest` the
 * fragmentable part. Returns packets of at most `mtu` bytes, each with a fragment header.
 */
export function fragmentIpv6(
  unfrag: Uint8Array,
  nextHeaderAt: number,
  rest: Uint8Array,
  mtu: number,
  identification: number,
  linkRoom: number,
): Uint8Array[] | undefined {
  const per = (mtu - unfrag.length - IPV6_FRAGMENT_HEADER_LEN) & ~7;
  if (per < 8) return undefined;
  const fragNext = unfrag[nextHeaderAt];
  const out: Uint8Array[] = [];
  for (let off = 0; off < rest.length; off += per) {
    const n = Math.min(per, rest.length - off);
    const frame = new Uint8Array(linkRoom + unfrag.length + IPV6_FRAGMENT_HEADER_LEN + n);
    const p = frame.subarray(linkRoom);
    p.set(unfrag);
    p[nextHeaderAt] = IPV6_NH_FRAGMENT;
    emitIpv6Fragment(
      { nextHeader: fragNext, offset: off, moreFragments: off + n < rest.length, identification },
      p,
      unfrag.length,
    );
    p.set(rest.subarray(off, off + n), unfrag.length + IPV6_FRAGMENT_HEADER_LEN);
    const pl = p.length - IPV6_HEADER_LEN;
    p[4] = pl >>> 8;
    p[5] = pl;
    out.push(frame);
  }
  return out;
}
