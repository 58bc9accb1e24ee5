/**
 * MLDv2 (RFC 3810) as a listener, over the family-neutral membership model of
 * src/ip/membership.ts (which IGMPv3 shares): joining or leaving changes the interface
 * state and sends its State Change Records ([Robustness Variable] = 2 times, §6.1);
 * queries are answered with Current State Records after a random delay within the
 * query's Maximum Response Delay (§6.2). ff02::1 is never reported (§6). Reports go to
 * ff02::16 with hop limit 1 and a hop-by-hop Router Alert (§5), from the link-local
 * address or :: while there is none.
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import { isWireError } from '../wire/error.ts';
import { emitIpv6Options, IPV6_NH_ICMPV6, IPV6_OPT_ROUTER_ALERT } from '../wire/ipv6.ts';
import { IPV6_ALL_MLDV2_ROUTERS, IPV6_ALL_NODES, ipv6Equals, isIpv6LinkLocal } from '../wire/ipv6-address.ts';
import { emitMldReport, parseMldQuery } from '../wire/mld.ts';
import type { NetInterface } from './interface.ts';
import type { Ipv6Arrival } from './ipv6-icmp.ts';
import { icmpv6Packet } from './ipv6-icmp.ts';
import type { Ipv6Interface } from './ipv6-iface.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';
import { type GroupRecord, GroupReporter } from './membership.ts';

/** RFC 2711: Router Alert value 0 means the packet holds an MLD message. */
const ROUTER_ALERT_MLD = new Uint8Array([0, 0]);
/** RFC 3810 §9.3: the default Query Response Interval; larger delays are clamped to it. */
const MAX_RESPONSE_MS = 10_000;

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
  readonly #reporter: GroupReporter<Ipv6Interface>;

  constructor(env: MldEnv) {
    this.#env = env;
    this.#reporter = new GroupReporter<Ipv6Interface>({
      now: env.now,
      timers: env.timers,
      rng: env.rng,
      table: (st) => st.groups,
      reportable: (st, g) =>
        !st.iface.isLoopback && st.ndp !== undefined && !ipv6Equals(g, IPV6_ALL_NODES) && (g[1] & 0x0f) > 1,
      send: (st, records) => this.#send(st, records),
    });
  }

  /**
   * Joins `g` on `st` for `owner`: any source, or (`sources` given) only those. A change
   * of the interface's state is reported. Returns false when the interface's table is full.
   */
  join(st: Ipv6Interface, g: Uint8Array, owner?: unknown, sources?: readonly Uint8Array[]): boolean {
    return this.#reporter.join(st, g, owner, sources);
  }

  /** Undoes one `join`; the last user leaving is reported. */
  leave(st: Ipv6Interface, g: Uint8Array, owner?: unknown, sources?: readonly Uint8Array[]): void {
    this.#reporter.leave(st, g, owner, sources);
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
    this.#reporter.query(st, {
      maxResponseMs: Math.min(q.maxResponseDelay, MAX_RESPONSE_MS),
      group: general ? undefined : q.group,
      sources: q.sources,
    });
  }

  #send(st: Ipv6Interface, records: GroupRecord[]): void {
    const src = st.linkLocal ?? new Uint8Array(16);
    const dst = IPV6_ALL_MLDV2_ROUTERS;
    const msg = emitMldReport(records, src, dst);
    const hbh = emitIpv6Options(IPV6_NH_ICMPV6, [{ type: IPV6_OPT_ROUTER_ALERT, data: ROUTER_ALERT_MLD }]);
    this.#env.stats.mldReportsSent++;
    this.#env.output.sendPacket(st.iface, dst, icmpv6Packet(src, dst, 1, msg, hbh));
  }
}
