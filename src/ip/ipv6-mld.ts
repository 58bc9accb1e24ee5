/**
 * MLDv2 (RFC 3810) as a listener: when an interface joins a group it sends unsolicited
 * reports (§6.1: a State Change Record, [Robustness Variable] = 2 times), answers
 * queries with Current State Records after a random delay within the query's Maximum
 * Response Delay (§6.2), and reports leaving (CHANGE_TO_INCLUDE with no sources).
 * ff02::1 is never reported (§6). Reports go to ff02::16 with hop limit 1 and a
 * hop-by-hop Router Alert (§5), from the link-local address or :: while there is none.
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import { isWireError } from '../wire/error.ts';
import { emitIpv6Options, IPV6_NH_ICMPV6, IPV6_OPT_ROUTER_ALERT } from '../wire/ipv6.ts';
import { IPV6_ALL_MLDV2_ROUTERS, IPV6_ALL_NODES, ipv6Equals, isIpv6LinkLocal } from '../wire/ipv6-address.ts';
import {
  emitMldReport,
  MLD_CHANGE_TO_EXCLUDE,
  MLD_CHANGE_TO_INCLUDE,
  MLD_MODE_IS_EXCLUDE,
  type MldRecord,
  parseMldQuery,
} from '../wire/mld.ts';
import type { NetInterface } from './interface.ts';
import type { Ipv6Arrival } from './ipv6-icmp.ts';
import { icmpv6Packet } from './ipv6-icmp.ts';
import type { Ipv6Interface } from './ipv6-iface.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';

/** RFC 3810 §9.1 Robustness Variable; §9.11 Unsolicited Report Interval (1 s). */
const ROBUSTNESS = 2;
const UNSOLICITED_REPORT_INTERVAL = seconds(1);
/** RFC 2711: Router Alert value 0 means the packet holds an MLD message. */
const ROUTER_ALERT_MLD = new Uint8Array([0, 0]);

export interface MldEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  readonly stats: Ipv6Stats;
  readonly output: Ipv6Output;
  state(iface: NetInterface): Ipv6Interface | undefined;
}

export class Mld {
  readonly #env: MldEnv;

  constructor(env: MldEnv) {
    this.#env = env;
  }

  /** Joins `g` on `st`; a new membership is reported. */
  join(st: Ipv6Interface, g: Uint8Array): void {
    if (!st.join(g)) return;
    if (!this.#reportable(st, g)) return;
    const rec: MldRecord = { type: MLD_CHANGE_TO_EXCLUDE, group: g, sources: [] };
    this.#send(st, [rec]);
    // RFC 3810 §6.1: the change is retransmitted [Robustness Variable] - 1 more times at random intervals.
    for (let i = 1; i < ROBUSTNESS; i++) {
      const t = this.#env.timers.timer(() => {
        if (st.hasGroup(g)) this.#send(st, [rec]);
      });
      t.set(
        this.#env.now() + Math.max(1, Math.round(UNSOLICITED_REPORT_INTERVAL * this.#env.rng.nextFloat())),
      );
    }
  }

  /** Leaves `g` once; the last user leaving is reported. */
  leave(st: Ipv6Interface, g: Uint8Array): void {
    if (!st.leave(g)) return;
    if (!this.#reportable(st, g)) return;
    this.#send(st, [{ type: MLD_CHANGE_TO_INCLUDE, group: g, sources: [] }]);
  }

  /** A query: answered with the current state after a random delay (RFC 3810 §6.2). */
  query(a: Ipv6Arrival, msg: Uint8Array): void {
    const env = this.#env;
    env.stats.mldQueriesReceived++;
    // RFC 3810 §5.1.14 / RFC 2710 §5: queries come from a link-local source with hop limit 1.
    if (!isIpv6LinkLocal(a.src) || a.hopLimit !== 1) {
      env.stats.ndpInvalid++;
      return;
    }
    const q = parseMldQuery(msg);
    if (isWireError(q)) {
      env.stats.ndpMalformed++;
      return;
    }
    const st = env.state(a.iface);
    if (!st) return;
    const general = q.group.every((b) => b === 0);
    const delay = Math.round(env.rng.nextFloat() * Math.min(q.maxResponseDelay, 10_000) * 1000);
    const t = env.timers.timer(() => {
      const records: MldRecord[] = [];
      for (const { address } of st.groups.values()) {
        if (!this.#reportable(st, address)) continue;
        if (!general && !ipv6Equals(address, q.group)) continue;
        records.push({ type: MLD_MODE_IS_EXCLUDE, group: address, sources: [] });
      }
      if (records.length > 0) this.#send(st, records);
    });
    t.set(env.now() + delay);
  }

  #reportable(st: Ipv6Interface, g: Uint8Array): boolean {
    return (
      !st.iface.isLoopback && st.ndp !== undefined && !ipv6Equals(g, IPV6_ALL_NODES) && (g[1] & 0x0f) > 1
    );
  }

  #send(st: Ipv6Interface, records: MldRecord[]): void {
    const src = st.linkLocal ?? new Uint8Array(16);
    const dst = IPV6_ALL_MLDV2_ROUTERS;
    const msg = emitMldReport(records, src, dst);
    const hbh = emitIpv6Options(IPV6_NH_ICMPV6, [{ type: IPV6_OPT_ROUTER_ALERT, data: ROUTER_ALERT_MLD }]);
    this.#env.stats.mldReportsSent++;
    this.#env.output.sendPacket(st.iface, dst, icmpv6Packet(src, dst, 1, msg, hbh));
  }
}
