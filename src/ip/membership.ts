/**
 * Multicast group membership, the same for both families: IGMPv3 (RFC 3376, IPv4) and
 * MLDv2 (RFC 3810, IPv6) describe one model, which lives here once.
 *
 * - **Socket state** (RFC 3376 §3.1): each user of a group on an interface (a socket, or
 *   the stack itself for all-nodes and solicited-node groups) asks for it with a filter
 *   mode and a source list: EXCLUDE {} for an any-source join, INCLUDE {S...} for a
 *   source-specific one (IP_ADD_SOURCE_MEMBERSHIP).
 * - **Interface state** (RFC 3376 §3.2): EXCLUDE with the intersection of the exclude
 *   lists minus the include lists if any user excludes, else INCLUDE with the union.
 *   A group in INCLUDE {} is not joined at all.
 * - **Reports** (RFC 3376 §5.1, RFC 3810 §6.1): a change of interface state is sent as a
 *   State Change Record at once and [Robustness Variable] - 1 more times at random
 *   intervals; a query is answered with Current State Records after a random delay
 *   within its Maximum Response Delay (RFC 3376 §5.2, RFC 3810 §6.2).
 *
 * Addresses are byte arrays (4 bytes for IPv4, 16 for IPv6); each family's protocol
 * module (src/ip/igmp.ts, src/ip/ipv6-mld.ts) only builds and parses its messages.
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';

/** Record types (RFC 3376 §4.2.12 and RFC 3810 §5.2.12 number them alike). */
export const MODE_IS_INCLUDE = 1;
export const MODE_IS_EXCLUDE = 2;
export const CHANGE_TO_INCLUDE = 3;
export const CHANGE_TO_EXCLUDE = 4;
export const ALLOW_NEW_SOURCES = 5;
export const BLOCK_OLD_SOURCES = 6;

/** RFC 3376 §8.1 / RFC 3810 §9.1 Robustness Variable; §8.11 / §9.11 Unsolicited Report Interval. */
export const ROBUSTNESS = 2;
export const UNSOLICITED_REPORT_INTERVAL = seconds(1);
/** Most groups one interface joins (Linux net.ipv4.igmp_max_memberships is 20 per socket). */
export const MAX_GROUPS_PER_INTERFACE = 1024;
/** Most sources in one filter (Linux net.ipv4.igmp_max_msf, 10). */
export const MAX_SOURCES_PER_FILTER = 64;

export type FilterMode = 'include' | 'exclude';

export interface GroupRecord {
  readonly type: number;
  readonly group: Uint8Array;
  readonly sources: readonly Uint8Array[];
}

/** A filter: a mode and its sources (keyed by their bytes). */
export interface SourceFilter {
  readonly mode: FilterMode;
  readonly sources: ReadonlyMap<string, Uint8Array>;
}

const keyOf = (a: Uint8Array): string => a.join('.');
const EMPTY = new Map<string, Uint8Array>();
const INCLUDE_NONE: SourceFilter = { mode: 'include', sources: EMPTY };

/** One group on one interface: who wants it, with which filters. */
export class GroupMembership {
  readonly address: Uint8Array;
  readonly key: string;
  /** Users asking for any source (EXCLUDE {}): the stack's own joins and plain socket joins. */
  anySource = 0;
  /** Source-specific users (INCLUDE mode), by owner (a socket). */
  readonly included = new Map<unknown, Map<string, Uint8Array>>();

  constructor(address: Uint8Array) {
    this.address = address.slice();
    this.key = keyOf(address);
  }

  /** RFC 3376 §3.2: the interface state from the socket states. */
  get filter(): SourceFilter {
    if (this.anySource > 0) return { mode: 'exclude', sources: EMPTY };
    if (this.included.size === 0) return INCLUDE_NONE;
    const union = new Map<string, Uint8Array>();
    for (const s of this.included.values()) for (const [k, a] of s) union.set(k, a);
    return { mode: 'include', sources: union };
  }

  get empty(): boolean {
    return this.anySource === 0 && this.included.size === 0;
  }

  /** Does the interface state let a datagram from `src` in (RFC 3376 §3.2)? */
  accepts(src: Uint8Array): boolean {
    if (this.anySource > 0) return true;
    const k = keyOf(src);
    for (const s of this.included.values()) if (s.has(k)) return true;
    return false;
  }
}

/** The groups of one interface, in one family. */
export class MembershipTable {
  readonly groups = new Map<string, GroupMembership>();

  get(g: Uint8Array): GroupMembership | undefined {
    return this.groups.get(keyOf(g));
  }

  has(g: Uint8Array): boolean {
    const m = this.groups.get(keyOf(g));
    return m !== undefined && !m.empty;
  }

  /** Is a datagram from `src` to `g` wanted here (the interface state accepts it)? */
  accepts(g: Uint8Array, src: Uint8Array): boolean {
    const m = this.groups.get(keyOf(g));
    return m?.accepts(src) === true;
  }

  values(): IterableIterator<GroupMembership> {
    return this.groups.values();
  }

  /** The membership of `g`, made if new (undefined: the table is full). */
  entry(g: Uint8Array): GroupMembership | undefined {
    const k = keyOf(g);
    let m = this.groups.get(k);
    if (m === undefined) {
      if (this.groups.size >= MAX_GROUPS_PER_INTERFACE) return undefined;
      m = new GroupMembership(g);
      this.groups.set(k, m);
    }
    return m;
  }

  /** Forgets `g` once no one wants it. */
  prune(m: GroupMembership): void {
    if (m.empty) this.groups.delete(m.key);
  }
}

/**
 * The State Change Records that move a group from filter `a` to `b` (RFC 3376 §5.1 and
 * RFC 3810 §6.1, table "Old State / New State / State-Change Record Sent").
 */
export function changeRecords(group: Uint8Array, a: SourceFilter, b: SourceFilter): GroupRecord[] {
  const list = (m: ReadonlyMap<string, Uint8Array>) => [...m.values()];
  const minus = (x: ReadonlyMap<string, Uint8Array>, y: ReadonlyMap<string, Uint8Array>) =>
    [...x].filter(([k]) => !y.has(k)).map(([, v]) => v);
  if (a.mode === b.mode) {
    const allow = a.mode === 'include' ? minus(b.sources, a.sources) : minus(a.sources, b.sources);
    const block = a.mode === 'include' ? minus(a.sources, b.sources) : minus(b.sources, a.sources);
    const out: GroupRecord[] = [];
    if (allow.length > 0) out.push({ type: ALLOW_NEW_SOURCES, group, sources: allow });
    if (block.length > 0) out.push({ type: BLOCK_OLD_SOURCES, group, sources: block });
    return out;
  }
  if (b.mode === 'exclude') return [{ type: CHANGE_TO_EXCLUDE, group, sources: list(b.sources) }];
  return [{ type: CHANGE_TO_INCLUDE, group, sources: list(b.sources) }];
}

/** The Current State Record of a group (RFC 3376 §5.2); undefined when nothing is to say. */
export function currentRecord(
  m: GroupMembership,
  querySources: readonly Uint8Array[],
): GroupRecord | undefined {
  const f = m.filter;
  if (querySources.length === 0) {
    if (f.mode === 'include' && f.sources.size === 0) return undefined;
    return {
      type: f.mode === 'exclude' ? MODE_IS_EXCLUDE : MODE_IS_INCLUDE,
      group: m.address,
      sources: [...f.sources.values()],
    };
  }
  // RFC 3376 §5.2, a group-and-source-specific query: IS_IN of the queried sources the
  // interface wants (INCLUDE: those listed; EXCLUDE: those not excluded).
  const wanted = querySources.filter((s) => f.sources.has(keyOf(s)) === (f.mode === 'include'));
  return wanted.length === 0 ? undefined : { type: MODE_IS_INCLUDE, group: m.address, sources: wanted };
}

export interface ReporterEnv<I> {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  /** The group's table on `iface`. */
  table(iface: I): MembershipTable;
  /** Whether membership of `group` on `iface` is reported at all (never the all-nodes group, never on loopback). */
  reportable(iface: I, group: Uint8Array): boolean;
  /** Sends a report of `records` out of `iface` (`change`: State Change, else Current State). */
  send(iface: I, records: GroupRecord[], change: boolean): void;
}

/** A query as both families give it: the delay bound and what it asks about. */
export interface GroupQuery {
  /** Maximum Response Delay in milliseconds. */
  readonly maxResponseMs: number;
  /** undefined: a general query. */
  readonly group: Uint8Array | undefined;
  readonly sources: readonly Uint8Array[];
}

/**
 * The host side of IGMPv3 and MLDv2 over `MembershipTable`s: joins and leaves change
 * the interface state and send its change; queries get the current state.
 */
export class GroupReporter<I> {
  readonly #env: ReporterEnv<I>;
  /** Answers to queries waiting for their time, per interface (RFC 3376 §5.2). */
  readonly #pending = new Map<
    I,
    {
      general: ReturnType<TimerQueue['timer']> | undefined;
      groups: Map<string, { timer: ReturnType<TimerQueue['timer']>; sources: Uint8Array[] | undefined }>;
    }
  >();

  constructor(env: ReporterEnv<I>) {
    this.#env = env;
  }

  /**
   * `owner` joins `g` on `iface`: any source (`sources` undefined) or, source-specific,
   * adds `sources` to its INCLUDE list. Returns false when the table is full.
   */
  join(iface: I, g: Uint8Array, owner?: unknown, sources?: readonly Uint8Array[]): boolean {
    const t = this.#env.table(iface);
    const m = t.entry(g);
    if (m === undefined) return false;
    const before = m.filter;
    if (sources === undefined) m.anySource++;
    else {
      let s = m.included.get(owner);
      if (s === undefined) {
        s = new Map();
        m.included.set(owner, s);
      }
      for (const a of sources) s.set(keyOf(a), a.slice());
    }
    this.#changed(iface, m, before);
    return true;
  }

  /** Undoes one `join` by `owner` (`sources` undefined: an any-source join; else drops those sources). */
  leave(iface: I, g: Uint8Array, owner?: unknown, sources?: readonly Uint8Array[]): void {
    const t = this.#env.table(iface);
    const m = t.get(g);
    if (m === undefined) return;
    const before = m.filter;
    if (sources === undefined) {
      if (m.anySource === 0) return;
      m.anySource--;
    } else {
      const s = m.included.get(owner);
      if (s === undefined) return;
      for (const a of sources) s.delete(keyOf(a));
      if (s.size === 0) m.included.delete(owner);
    }
    t.prune(m);
    this.#changed(iface, m, before);
  }

  #changed(iface: I, m: GroupMembership, before: SourceFilter): void {
    const env = this.#env;
    if (!env.reportable(iface, m.address)) return;
    const after = m.filter;
    const records = changeRecords(m.address, before, after);
    if (records.length === 0) return;
    env.send(iface, records, true);
    // RFC 3376 §5.1 / RFC 3810 §6.1: retransmitted [Robustness Variable] - 1 more times at
    // random intervals in [0, Unsolicited Report Interval], while the state is still this one.
    const sent = filterKey(after);
    for (let i = 1; i < ROBUSTNESS; i++) {
      const t = env.timers.timer(() => {
        const now = env.table(iface).get(m.address);
        if (filterKey(now?.filter ?? INCLUDE_NONE) === sent) env.send(iface, records, true);
      });
      t.set(env.now() + Math.max(1, Math.round(UNSOLICITED_REPORT_INTERVAL * env.rng.nextFloat())));
    }
  }

  /**
   * A query: the current state of what it asks is reported after a random delay. RFC 3376
   * §5.2 (RFC 3810 §6.2 alike) keeps one pending answer per interface for general queries
   * and one per group, the sooner one winning, so a flood of queries costs no more than
   * one timer per group.
   */
  query(iface: I, q: GroupQuery): void {
    const env = this.#env;
    // RFC 3376 §5.2: the response is delayed by a random time in [0, Max Resp Time].
    const at = env.now() + Math.round(env.rng.nextFloat() * q.maxResponseMs * 1000);
    let p = this.#pending.get(iface);
    if (p === undefined) {
      p = { general: undefined, groups: new Map() };
      this.#pending.set(iface, p);
    }
    const pending = p;
    // Rule 1: "If there is a pending response to a previous General Query scheduled sooner
    // than the selected delay, no additional response needs to be scheduled."
    if (pending.general?.armed && (pending.general.deadline ?? 0) <= at) return;
    if (q.group === undefined) {
      // Rule 2: a General Query: the interface's answer is (re)scheduled at the sooner time.
      pending.general ??= env.timers.timer(() => this.#answer(iface, undefined, []));
      pending.general.set(at);
      return;
    }
    const key = q.group.join('.');
    const m = env.table(iface).get(q.group);
    if (m === undefined || m.empty) return; // not a member: nothing to answer
    // Rules 3-5: one pending answer per group; a new query keeps the sooner time, and the
    // sources asked accumulate (a group query without sources asks for all of them).
    const old = pending.groups.get(key);
    if (old !== undefined) {
      if (old.sources !== undefined)
        old.sources =
          q.sources.length === 0 || old.sources.length + q.sources.length > MAX_SOURCES_PER_FILTER
            ? undefined // asked for all (or too many to list): the whole current state
            : [...old.sources, ...q.sources];
      if ((old.timer.deadline ?? Number.POSITIVE_INFINITY) > at) old.timer.set(at);
      return;
    }
    const entry: { timer: ReturnType<TimerQueue['timer']>; sources: Uint8Array[] | undefined } = {
      timer: env.timers.timer(() => {
        pending.groups.delete(key);
        this.#answer(iface, q.group, entry.sources ?? []);
      }),
      sources: q.sources.length === 0 ? undefined : [...q.sources],
    };
    pending.groups.set(key, entry);
    entry.timer.set(at);
  }

  #answer(iface: I, group: Uint8Array | undefined, sources: readonly Uint8Array[]): void {
    const env = this.#env;
    const records: GroupRecord[] = [];
    const key = group?.join('.');
    for (const m of env.table(iface).values()) {
      if (!env.reportable(iface, m.address)) continue;
      if (key !== undefined && key !== m.key) continue;
      const r = currentRecord(m, sources);
      if (r !== undefined) records.push(r);
    }
    if (records.length > 0) env.send(iface, records, false);
  }
}

function filterKey(f: SourceFilter): string {
  return `${f.mode} ${[...f.sources.keys()].sort().join(' ')}`;
}
