/**
 * IGMPv3 (RFC 3376) as a host, over the membership model MLDv2 shares
 * (src/ip/membership.ts): each interface's IPv4 groups, State Change Reports on joins
 * and leaves, Current State Reports answering queries, and the compatibility modes for
 * IGMPv1 and IGMPv2 queriers (§7.2.1): while an older querier is heard, reports are of
 * its version (and an IGMPv2 leave goes to 224.0.0.2; IGMPv1 has no leave). 224.0.0.1 is
 * joined by every interface and never reported (§5). Reports go with TTL 1 and the
 * Router Alert option (RFC 2113) from the interface's address, or 0.0.0.0 without one.
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import type { Ipv4Address } from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import {
  emitIgmpV2,
  emitIgmpV3Report,
  IGMP_ALL_ROUTERS,
  IGMP_ALL_SYSTEMS,
  IGMP_V1_REPORT,
  IGMP_V2_LEAVE,
  IGMP_V2_REPORT,
  IGMP_V3_ROUTERS,
  type IgmpRecord,
  parseIgmp,
} from '../wire/igmp.ts';
import type { NetInterface } from './interface.ts';
import { type GroupRecord, GroupReporter, MembershipTable, ROBUSTNESS } from './membership.ts';
import type { SendError } from './network.ts';
import type { IgmpStats } from './stats.ts';

/** RFC 2113 Router Alert, value 0: "Router shall examine packet". */
const ROUTER_ALERT = new Uint8Array([148, 4, 0, 0]);
/**
 * RFC 3376 §8.12 Older Version Querier Present Timeout: Robustness Variable times the
 * Query Interval (125 s) plus one Query Response Interval (10 s).
 */
const OLDER_QUERIER_TIMEOUT = seconds(ROBUSTNESS * 125 + 10);

export interface IgmpEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  readonly stats: IgmpStats;
  /** Sends an IGMP message out of `iface` to `dst` with TTL 1 and `options` (the IPv4 layer's output). */
  send(iface: NetInterface, dst: Ipv4Address, msg: Uint8Array, options: Uint8Array): SendError | undefined;
}

export const ipv4Bytes = (a: Ipv4Address): Uint8Array =>
  new Uint8Array([a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]);
export const ipv4FromBytes = (b: Uint8Array): Ipv4Address =>
  ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;

export class Igmp {
  readonly #env: IgmpEnv;
  readonly #tables = new Map<NetInterface, MembershipTable>();
  /** Interfaces in IGMPv1 or v2 compatibility mode, until when (RFC 3376 §7.2.1). */
  readonly #older = new Map<NetInterface, { version: 1 | 2; until: Instant }>();
  readonly #reporter: GroupReporter<NetInterface>;

  constructor(env: IgmpEnv) {
    this.#env = env;
    this.#reporter = new GroupReporter<NetInterface>({
      now: env.now,
      timers: env.timers,
      rng: env.rng,
      table: (iface) => this.table(iface),
      reportable: (iface, g) => !iface.isLoopback && ipv4FromBytes(g) !== IGMP_ALL_SYSTEMS,
      send: (iface, records) => this.#send(iface, records),
    });
  }

  /** `iface`'s group table (made on first use). */
  table(iface: NetInterface): MembershipTable {
    let t = this.#tables.get(iface);
    if (t === undefined) {
      t = new MembershipTable();
      this.#tables.set(iface, t);
    }
    return t;
  }

  /** Joins `group` on `iface` for `owner` (any source, or only `sources`); false when the table is full. */
  join(iface: NetInterface, group: Ipv4Address, owner?: unknown, sources?: readonly Ipv4Address[]): boolean {
    return this.#reporter.join(iface, ipv4Bytes(group), owner, sources?.map(ipv4Bytes));
  }

  /** Undoes one `join`; the interface's change of state is reported. */
  leave(iface: NetInterface, group: Ipv4Address, owner?: unknown, sources?: readonly Ipv4Address[]): void {
    this.#reporter.leave(iface, ipv4Bytes(group), owner, sources?.map(ipv4Bytes));
  }

  /** Is a datagram from `src` to `group` wanted on `iface`? 224.0.0.1 always is (RFC 1112 §4). */
  accepts(iface: NetInterface, group: Ipv4Address, src: Ipv4Address): boolean {
    if (group === IGMP_ALL_SYSTEMS) return true;
    const t = this.#tables.get(iface);
    return t?.accepts(ipv4Bytes(group), ipv4Bytes(src)) === true;
  }

  /** Has any interface joined `group`? */
  joinedAnywhere(group: Ipv4Address): boolean {
    if (group === IGMP_ALL_SYSTEMS) return true;
    const g = ipv4Bytes(group);
    for (const t of this.#tables.values()) if (t.has(g)) return true;
    return false;
  }

  /** Does `iface` listen to the Ethernet group address `mac` (01:00:5e + 23 bits, RFC 1112 §6.4)? */
  wantsMac(iface: NetInterface, mac: Uint8Array): boolean {
    if (mac[0] !== 0x01 || mac[1] !== 0x00 || mac[2] !== 0x5e || (mac[3] & 0x80) !== 0) return false;
    if (mac[3] === 0 && mac[4] === 0 && mac[5] === 1) return true; // 224.0.0.1
    const t = this.#tables.get(iface);
    if (t === undefined) return false;
    for (const m of t.values()) {
      const a = m.address;
      if (!m.empty && (a[1] & 0x7f) === mac[3] && a[2] === mac[4] && a[3] === mac[5]) return true;
    }
    return false;
  }

  /** The interface's compatibility mode now: 1, 2, or 3. */
  version(iface: NetInterface): 1 | 2 | 3 {
    const o = this.#older.get(iface);
    if (o === undefined) return 3;
    if (o.until <= this.#env.now()) {
      this.#older.delete(iface);
      return 3;
    }
    return o.version;
  }

  /** An IGMP message delivered to this host on `iface` (`dst`: its IP destination). */
  input(iface: NetInterface, dst: Ipv4Address, msg: Uint8Array): void {
    const env = this.#env;
    env.stats.received++;
    const m = parseIgmp(msg);
    if (isWireError(m)) {
      env.stats.malformed++;
      return;
    }
    // Other hosts' reports and leaves need nothing of a host (IGMPv3 dropped report suppression, §5.1).
    if (m.kind !== 'query') return;
    env.stats.queriesReceived++;
    // RFC 3376 §9.1: "hosts SHOULD ignore v1, v2 or v3 General Queries sent to a non-multicast
    // destination address"; a group-specific query goes to its group (§4.1.12).
    if (
      (m.group === 0 && dst !== IGMP_ALL_SYSTEMS) ||
      (m.group !== 0 && dst !== m.group && dst !== IGMP_ALL_SYSTEMS)
    ) {
      env.stats.invalid++;
      return;
    }
    if (m.version < 3) {
      // RFC 3376 §7.2.1: an older querier puts the interface in its compatibility mode for
      // the Older Version Querier Present Timeout (IGMPv1 outranks IGMPv2).
      const cur = this.version(iface);
      const version: 1 | 2 = cur === 1 || m.version === 1 ? 1 : 2;
      this.#older.set(iface, { version, until: env.now() + OLDER_QUERIER_TIMEOUT });
    }
    this.#reporter.query(iface, {
      maxResponseMs: m.maxResponseMs,
      group: m.group === 0 ? undefined : ipv4Bytes(m.group),
      sources: m.sources.map(ipv4Bytes),
    });
  }

  #send(iface: NetInterface, records: GroupRecord[]): void {
    const env = this.#env;
    const version = this.version(iface);
    if (version === 3) {
      const v3: IgmpRecord[] = records.map((r) => ({
        type: r.type,
        group: ipv4FromBytes(r.group),
        sources: r.sources.map(ipv4FromBytes),
      }));
      env.stats.reportsSent++;
      env.send(iface, IGMP_V3_ROUTERS, emitIgmpV3Report(v3), ROUTER_ALERT);
      return;
    }
    // RFC 3376 §7.2.1: in IGMPv1/v2 compatibility mode source filters are ignored: a group
    // wanted from any source (or some) is reported with a version 1/2 report sent to the
    // group; a group no longer wanted is left (IGMPv2 only, to all-routers).
    const table = this.table(iface);
    for (const r of records) {
      const group = ipv4FromBytes(r.group);
      if (!table.has(r.group)) {
        if (version === 2) {
          env.stats.leavesSent++;
          env.send(iface, IGMP_ALL_ROUTERS, emitIgmpV2(IGMP_V2_LEAVE, group), ROUTER_ALERT);
        }
        continue;
      }
      env.stats.reportsSent++;
      const type = version === 1 ? IGMP_V1_REPORT : IGMP_V2_REPORT;
      env.send(iface, group, emitIgmpV2(type, group), version === 1 ? new Uint8Array(0) : ROUTER_ALERT);
    }
  }
}
