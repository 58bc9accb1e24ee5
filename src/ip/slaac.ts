/**
 * Stateless address autoconfiguration (RFC 4862): the link-local address from the MAC
 * (modified EUI-64, RFC 4291 Appendix A), duplicate address detection (§5.4: the address
 * stays tentative while a solicitation from :: asks whether anyone has it; a conflict
 * makes it 'duplicate' and it is never used), and addresses from RA prefixes with the A
 * flag (§5.5.3) with their valid and preferred lifetimes, bounded in number.
 */
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { Timer, TimerQueue } from '../time/timers.ts';
import { eui64, ipv6Key, ipv6SamePrefix, linkLocalFromMac, solicitedNode } from '../wire/ipv6-address.ts';
import type { NdpPrefixInfo } from '../wire/ndp.ts';
import type { Ipv6IfAddress, Ipv6Interface } from './ipv6-iface.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';

/** RFC 4862 §5.1 DupAddrDetectTransmits (1) and RFC 4861 RetransTimer (1 s). */
export const DUP_ADDR_DETECT_TRANSMITS = 1;
export const RETRANS_TIMER = seconds(1);
/** RFC 4862 §5.5.3 (e): the two hours a received valid lifetime cannot cut below. */
const TWO_HOURS = seconds(7200);

export interface SlaacConfig {
  /** Autoconfigured addresses per interface (RA floods cannot grow the table). Default 16. */
  maxAddresses: number;
  /** Run DAD (0 transmits: addresses are preferred at once). Default 1. */
  dadTransmits: number;
}

export const DEFAULT_SLAAC_CONFIG: SlaacConfig = {
  maxAddresses: 16,
  dadTransmits: DUP_ADDR_DETECT_TRANSMITS,
};

export interface SlaacEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly stats: Ipv6Stats;
  sendDadSolicitation(st: Ipv6Interface, addr: Uint8Array): void;
  joinGroup(st: Ipv6Interface, g: Uint8Array): void;
  leaveGroup(st: Ipv6Interface, g: Uint8Array): void;
  /** An address became usable (after DAD) or went away: routes and sources may change. */
  changed(st: Ipv6Interface, a: Ipv6IfAddress): void;
}

export class Slaac {
  readonly config: SlaacConfig;
  readonly #env: SlaacEnv;
  readonly #timers = new Map<string, Timer[]>();

  constructor(env: SlaacEnv, config: Partial<SlaacConfig> = {}) {
    this.#env = env;
    this.config = { ...DEFAULT_SLAAC_CONFIG, ...config };
  }

  /** RFC 4862 §5.3: the interface's link-local address, fe80::/64 with the EUI-64 identifier. */
  addLinkLocal(st: Ipv6Interface): Ipv6IfAddress {
    return this.addAddress(st, linkLocalFromMac(st.iface.mac), 64, 'link-local');
  }

  /** Adds an address as tentative and starts DAD (every unicast address gets it, RFC 4862 §5.4). */
  addAddress(
    st: Ipv6Interface,
    address: Uint8Array,
    prefix: number,
    origin: Ipv6IfAddress['origin'],
  ): Ipv6IfAddress {
    const existing = st.find(address);
    if (existing) return existing;
    const a: Ipv6IfAddress = {
      address: address.slice(),
      key: ipv6Key(address),
      prefix,
      state: 'tentative',
      origin,
    };
    st.addresses.push(a);
    const env = this.#env;
    // RFC 4862 §5.4.2: join the solicited-node group before sending the probe.
    env.joinGroup(st, solicitedNode(a.address));
    if (this.config.dadTransmits === 0 || st.iface.isLoopback || st.ndp === undefined) {
      a.state = 'preferred';
      env.changed(st, a);
      return a;
    }
    env.stats.dadStarted++;
    // Deviation: RFC 4862 §5.4.2 delays the first probe of an interface coming up by a random
    // 0..MAX_RTR_SOLICITATION_DELAY (1 s) to spread a link's simultaneous starts; we probe at
    // once (one stack per link end here), so DAD takes RetransTimer (1 s), as with Linux's optimistic DAD off.
    let sent = 0;
    const step = () => {
      if (a.state !== 'tentative') return;
      if (sent < this.config.dadTransmits) {
        sent++;
        env.sendDadSolicitation(st, a.address);
        this.#at(a, env.now() + RETRANS_TIMER, step);
        return;
      }
      // RFC 4862 §5.4.5: no conflict within RetransTimer after the last probe: the address is ours.
      a.state = 'preferred';
      env.stats.dadSucceeded++;
      env.changed(st, a);
    };
    step();
    return a;
  }

  /** RFC 4862 §5.4.5: DAD found `addr` in use: it is not used (and stays listed as duplicate). */
  conflict(st: Ipv6Interface, addr: Uint8Array): void {
    const a = st.find(addr);
    if (!a || a.state === 'duplicate') return;
    const wasUsable = a.state !== 'tentative';
    a.state = 'duplicate';
    this.#env.stats.dadConflicts++;
    this.#cancel(a);
    this.#env.leaveGroup(st, solicitedNode(a.address));
    if (wasUsable) this.#env.changed(st, a);
  }

  /** Removes an address. */
  remove(st: Ipv6Interface, a: Ipv6IfAddress): void {
    const i = st.addresses.indexOf(a);
    if (i < 0) return;
    st.addresses.splice(i, 1);
    this.#cancel(a);
    if (a.state !== 'duplicate') this.#env.leaveGroup(st, solicitedNode(a.address));
    this.#env.changed(st, a);
  }

  /** RFC 4862 §5.5.3: a Prefix Information option with the A flag. */
  prefix(st: Ipv6Interface, p: NdpPrefixInfo): void {
    const env = this.#env;
    // (b) link-local prefixes and (c) preferred > valid are ignored; the identifier is 64
    // bits on Ethernet (RFC 2464 §4), so only /64 prefixes form addresses (RFC 4862 §5.5.3 (d)).
    if (p.preferredLifetime > p.validLifetime || p.prefixLength !== 64) return;
    if (p.prefix[0] === 0xfe && (p.prefix[1] & 0xc0) === 0x80) return;
    const now = env.now();
    const addr = new Uint8Array(16);
    addr.set(p.prefix.subarray(0, 8));
    addr.set(eui64(st.iface.mac), 8);
    const existing = st.addresses.find((a) => a.origin === 'slaac' && ipv6SamePrefix(a.address, addr, 64));
    const valid = p.validLifetime === 0xffffffff ? Number.POSITIVE_INFINITY : seconds(p.validLifetime);
    const preferred =
      p.preferredLifetime === 0xffffffff ? Number.POSITIVE_INFINITY : seconds(p.preferredLifetime);
    if (existing) {
      // (e): the valid lifetime is only cut below two hours by... nothing unauthenticated.
      const remaining = (existing.validUntil ?? Number.POSITIVE_INFINITY) - now;
      let newValid: number;
      if (valid > TWO_HOURS || valid > remaining) newValid = valid;
      else if (remaining <= TWO_HOURS) newValid = remaining;
      else newValid = TWO_HOURS;
      this.#setLifetimes(st, existing, now + newValid, now + preferred);
      return;
    }
    if (valid === 0) return;
    const count = st.addresses.filter((a) => a.origin === 'slaac').length;
    if (count >= this.config.maxAddresses) {
      env.stats.raBoundDrops++;
      return;
    }
    env.stats.slaacAddresses++;
    const a = this.addAddress(st, addr, 64, 'slaac');
    this.#setLifetimes(st, a, now + valid, now + preferred);
  }

  #setLifetimes(st: Ipv6Interface, a: Ipv6IfAddress, validUntil: Instant, preferredUntil: Instant): void {
    a.validUntil = Number.isFinite(validUntil) ? validUntil : undefined;
    a.preferredUntil = Number.isFinite(preferredUntil) ? preferredUntil : undefined;
    const key = `${a.key}:life`;
    for (const t of this.#timers.get(key) ?? []) t.cancel();
    const ts: Timer[] = [];
    if (a.preferredUntil !== undefined) {
      const t = this.#env.timers.timer(() => {
        if (a.state === 'preferred') {
          a.state = 'deprecated';
          this.#env.changed(st, a);
        }
      });
      t.set(a.preferredUntil);
      ts.push(t);
    }
    if (a.validUntil !== undefined) {
      const t = this.#env.timers.timer(() => this.remove(st, a));
      t.set(a.validUntil);
      ts.push(t);
    }
    this.#timers.set(key, ts);
  }

  #at(a: Ipv6IfAddress, when: Instant, fn: () => void): void {
    const t = this.#env.timers.timer(() => fn());
    t.set(when);
    const list = this.#timers.get(a.key) ?? [];
    list.push(t);
    this.#timers.set(a.key, list);
  }

  #cancel(a: Ipv6IfAddress): void {
    for (const k of [a.key, `${a.key}:life`]) {
      for (const t of this.#timers.get(k) ?? []) t.cancel();
      this.#timers.delete(k);
    }
  }
}
