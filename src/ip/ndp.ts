/**
 * Neighbor Discovery (RFC 4861) on a stack's Ethernet interfaces: address resolution
 * over the shared neighbour cache (src/ip/neighbor.ts, keyed by `ipv6Key`), Neighbor
 * Solicitations and Advertisements, Router Solicitations from a host and Router
 * Advertisements to it (the default router and prefix lists, each bounded); a router
 * stack's own Router Advertisements are ndp-router.ts's.
 *
 * Every message is validated as RFC 4861 says (§6.1, §7.1): hop limit 255 (so it cannot
 * have come through a router), code 0, options of non-zero length, and the per-message
 * rules. Invalid messages are dropped and counted, never answered.
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import type { Timer, TimerQueue } from '../time/timers.ts';
import type { MacAddress } from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.ts';
import {
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  ipv6Equals,
  ipv6FromKey,
  ipv6Key,
  isIpv6LinkLocal,
  isIpv6Multicast,
  isIpv6Unspecified,
  isSolicitedNode,
  solicitedNode,
} from '../wire/ipv6-address.ts';
import { emitNdp, type NdpPrefixInfo, type NdpRepr, parseNdp } from '../wire/ndp.ts';
import type { LinkLayer } from './ethernet.ts';
import type { NetInterface, PendingPacket } from './interface.ts';
import type { Ipv6Arrival } from './ipv6-icmp.ts';
import { icmpv6Packet } from './ipv6-icmp.ts';
import type { Ipv6Interface } from './ipv6-iface.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { Ipv6RouteTable } from './ipv6-route.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';
import { RouterAdvertiser } from './ndp-router.ts';
import { NeighborCache, type NeighborConfig, type NeighborStats } from './neighbor.ts';

/** RFC 4861 §10 host constants. */
export const MAX_RTR_SOLICITATIONS = 3;
export const RTR_SOLICITATION_INTERVAL = seconds(4);
/** Destinations a Redirect may send elsewhere at once (the destination cache's bound). */
export const MAX_REDIRECT_ROUTES = 64;
/** How long a redirected destination keeps its new first hop. */
export const REDIRECT_LIFETIME = seconds(600);

export interface NdpConfig {
  /** Default routers kept per interface (RFC 4861 leaves the bound to the implementation). Default 8. */
  maxRouters: number;
  /** On-link prefixes kept per interface. Default 16. */
  maxPrefixes: number;
  /** Router Lifetime a router stack advertises, seconds. Default 1800 (3 x MaxRtrAdvInterval). */
  routerLifetime: number;
  neighbor: Partial<NeighborConfig>;
}

export const DEFAULT_NDP_CONFIG: NdpConfig = {
  maxRouters: 8,
  maxPrefixes: 16,
  routerLifetime: 1800,
  neighbor: {},
};

export interface NdpEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly rng: Rng;
  readonly stats: Ipv6Stats;
  readonly neighborStats: NeighborStats;
  readonly link: LinkLayer;
  readonly output: Ipv6Output;
  readonly routes: Ipv6RouteTable;
  /** A router stack (forwarding on): answers RSs, sends RAs, ignores RAs. */
  isRouter(): boolean;
  state(iface: NetInterface): Ipv6Interface | undefined;
  /** A Neighbor Solicitation or Advertisement says someone else has `addr` (tentative: DAD failed). */
  conflict(st: Ipv6Interface, addr: Uint8Array): void;
  /** An RA's prefix with the A flag (RFC 4862 §5.5.3). */
  autonomousPrefix(st: Ipv6Interface, p: NdpPrefixInfo): void;
  routeChanged(): void;
  /** Address resolution failed: these packets will not go (ICMPv6 address unreachable). */
  resolutionFailed(packets: readonly PendingPacket[]): void;
}

export class Ndp {
  readonly config: NdpConfig;
  readonly #env: NdpEnv;
  readonly #timers = new Map<string, Timer>();
  /** A router stack's Router Advertisements (ndp-router.ts). */
  readonly router: RouterAdvertiser;
  /** Redirect routes by key, oldest first (evicted first past MAX_REDIRECT_ROUTES). */
  #redirectOrder: string[] = [];

  constructor(env: NdpEnv, config: Partial<NdpConfig> = {}) {
    this.#env = env;
    this.config = { ...DEFAULT_NDP_CONFIG, ...config };
    this.router = new RouterAdvertiser({
      now: () => env.now(),
      rng: env.rng,
      isRouter: () => env.isRouter(),
      routerLifetime: () => this.config.routerLifetime,
      schedule: (key, at, fn) => this.#schedule(key, at, fn),
      send: (st, src, dst, m) => this.#send(st, src, dst, m),
    });
  }

  /** Gives an Ethernet interface its neighbour cache. */
  attach(st: Ipv6Interface): void {
    const env = this.#env;
    const iface = st.iface;
    st.ndp = new NeighborCache<string, PendingPacket>(
      {
        now: () => env.now(),
        timers: env.timers,
        stats: env.neighborStats,
        sendRequest: (target, to) => this.#solicit(st, ipv6FromKey(target), to),
        transmit: (mac, p) => env.link.transmit(iface, mac, ETHERTYPE_IPV6, p.bytes, p.frame),
        resolutionFailed: (_t, packets) => env.resolutionFailed(packets),
      },
      { ...this.config.neighbor },
    );
  }

  /** RFC 4861 §7.2.2: a solicitation to the target's solicited-node group (or unicast when re-probing). */
  #solicit(st: Ipv6Interface, target: Uint8Array, to: MacAddress | undefined): void {
    const src = this.#env.output.selectSource(st, target);
    if (src === undefined) return;
    const dst = to === undefined ? solicitedNode(target) : target;
    this.#send(st, src, dst, { kind: 'ns', target, options: { sourceLinkAddress: st.iface.mac } });
  }

  /** RFC 4862 §5.4.2: DAD's solicitation, from :: with no link-layer address option. */
  sendDadSolicitation(st: Ipv6Interface, target: Uint8Array): void {
    this.#send(st, new Uint8Array(16), solicitedNode(target), { kind: 'ns', target, options: {} });
  }

  #send(st: Ipv6Interface, src: Uint8Array, dst: Uint8Array, m: NdpRepr): void {
    const stats = this.#env.stats;
    if (m.kind === 'ns') stats.nsSent++;
    else if (m.kind === 'na') stats.naSent++;
    else if (m.kind === 'rs') stats.rsSent++;
    else if (m.kind === 'ra') stats.raSent++;
    const pkt = icmpv6Packet(src, dst, 255, emitNdp(m, src, dst));
    this.#env.output.sendPacket(st.iface, dst, pkt);
  }

  /** An NDP message (ICMPv6 133-137) arrived. */
  input(a: Ipv6Arrival, msg: Uint8Array): void {
    const env = this.#env;
    const stats = env.stats;
    const st = env.state(a.iface);
    if (!st?.ndp) return;
    // RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: "The IP Hop Limit field has a value of
    // 255, i.e., the packet could not possibly have been forwarded by a router."
    if (a.hopLimit !== 255) {
      stats.ndpBadHopLimit++;
      return;
    }
    const m = parseNdp(msg);
    if (isWireError(m)) {
      stats.ndpMalformed++;
      return;
    }
    switch (m.kind) {
      case 'ns':
        this.#onNs(st, a, m);
        return;
      case 'na':
        this.#onNa(st, a, m);
        return;
      case 'rs':
        this.#onRs(st, a, m);
        return;
      case 'ra':
        this.#onRa(st, a, m);
        return;
      default:
        this.#onRedirect(st, a, m);
    }
  }

  /**
   * RFC 4861 §8: a Redirect tells a host a better first hop for one destination: another
   * router on the link (a link-local Target) or the destination itself, on-link (Target =
   * Destination). Accepted (§8.1) only from the router the destination's packets go to now;
   * applied (§8.3) as a host route, our destination cache, bounded and expiring.
   */
  #onRedirect(st: Ipv6Interface, a: Ipv6Arrival, m: Extract<NdpRepr, { kind: 'redirect' }>): void {
    const env = this.#env;
    const stats = env.stats;
    // §8.3: "A host receiving a valid redirect SHOULD update its Destination Cache"; a router
    // does not (it has its routing table), as Linux with forwarding on.
    if (env.isRouter()) {
      stats.redirectsIgnored++;
      return;
    }
    const onLink = ipv6Equals(m.target, m.destination);
    // §8.1: "The IP source address of the Redirect is a link-local address"; "The ICMP
    // Destination Address field in the redirect message does not contain a multicast
    // address"; "The ICMP Target Address is either a link-local address (when redirected
    // to a router) or the same as the ICMP Destination Address (when redirected to the
    // on-link destination)".
    if (
      !isIpv6LinkLocal(a.src) ||
      isIpv6Multicast(m.destination) ||
      (!onLink && !isIpv6LinkLocal(m.target))
    ) {
      stats.ndpInvalid++;
      return;
    }
    // §8.1: "The IP source address of the Redirect is the same as the current first-hop
    // router for the specified ICMP Destination Address."
    const current = env.routes.lookup(m.destination, (r) => r.interface === st.iface.name);
    if (current?.gateway === undefined || !ipv6Equals(current.gateway, a.src)) {
      stats.redirectsIgnored++;
      return;
    }
    stats.redirectsAccepted++;
    const now = env.now();
    // §8.3: the target's link-layer address, when given, goes in its neighbour entry (STALE
    // for a new or changed one, as learnt from any unsolicited NDP message).
    const tlla = m.options.targetLinkAddress;
    if (tlla !== undefined) st.ndp!.learn(ipv6Key(m.target), tlla, true, false);
    const dst = m.destination.slice();
    const key = `redirect:${st.iface.name}:${ipv6Key(dst)}`;
    const ours = (r: { origin: string; prefix: number; destination: Uint8Array; interface: string }) =>
      r.origin === 'redirect' &&
      r.prefix === 128 &&
      r.interface === st.iface.name &&
      ipv6Equals(r.destination, dst);
    env.routes.remove(ours);
    // Bounded: the oldest redirect route goes when a new one would pass the limit.
    const redirects = env.routes.routes.filter((r) => r.origin === 'redirect');
    if (redirects.length >= MAX_REDIRECT_ROUTES) {
      const oldest = this.#redirectOrder.shift();
      if (oldest !== undefined) {
        env.routes.remove(
          (r) => r.origin === 'redirect' && `redirect:${r.interface}:${ipv6Key(r.destination)}` === oldest,
        );
        this.#cancel(oldest);
      }
    }
    env.routes.add({
      destination: dst,
      prefix: 128,
      // "If the Target Address is not the same as the Destination Address, the host MUST
      // set IsRouter to TRUE for the target"; the same: "the host MUST treat the Target as on-link".
      gateway: onLink ? undefined : m.target.slice(),
      interface: st.iface.name,
      metric: 0,
      origin: 'redirect',
    });
    this.#redirectOrder = this.#redirectOrder.filter((k) => k !== key);
    this.#redirectOrder.push(key);
    env.routeChanged();
    // Deviation: the entry expires after REDIRECT_LIFETIME (Linux keeps redirect exceptions
    // until garbage collection; RFC 4861 leaves the cache's lifetime to the implementation).
    this.#schedule(key, now + REDIRECT_LIFETIME, () => {
      env.routes.remove(ours);
      this.#redirectOrder = this.#redirectOrder.filter((k) => k !== key);
      env.routeChanged();
    });
  }

  #onNs(st: Ipv6Interface, a: Ipv6Arrival, m: Extract<NdpRepr, { kind: 'ns' }>): void {
    const stats = this.#env.stats;
    stats.nsReceived++;
    const fromUnspecified = isIpv6Unspecified(a.src);
    // RFC 4861 §7.1.1: target not multicast; from :: only to a solicited-node group and without SLLA.
    if (
      isIpv6Multicast(m.target) ||
      (fromUnspecified && (!isSolicitedNode(a.dst) || m.options.sourceLinkAddress !== undefined))
    ) {
      stats.ndpInvalid++;
      return;
    }
    const mine = st.find(m.target);
    if (!mine) return; // RFC 4861 §7.2.3: not a target of ours: silently discarded
    if (mine.state === 'tentative') {
      // RFC 4862 §5.4.3: from :: it is someone else's DAD for the same address: a conflict.
      // From a unicast source it is address resolution by someone who should not: ignored.
      if (fromUnspecified) this.#env.conflict(st, mine.address);
      return;
    }
    if (mine.state === 'duplicate') return;
    if (fromUnspecified) {
      // RFC 4861 §7.2.4: answer a DAD probe to all-nodes, Solicited clear.
      this.#send(st, mine.address, IPV6_ALL_NODES, {
        kind: 'na',
        router: this.#env.isRouter(),
        solicited: false,
        override: true,
        target: mine.address,
        options: { targetLinkAddress: st.iface.mac },
      });
      return;
    }
    const slla = m.options.sourceLinkAddress;
    // RFC 4861 §7.2.3: the source's link-layer address creates or updates its entry (STALE).
    if (slla !== undefined) st.ndp!.learn(ipv6Key(a.src), slla, true, false);
    this.#send(st, mine.address, a.src, {
      kind: 'na',
      router: this.#env.isRouter(),
      solicited: true,
      override: true,
      target: mine.address,
      options: { targetLinkAddress: st.iface.mac },
    });
  }

  #onNa(st: Ipv6Interface, a: Ipv6Arrival, m: Extract<NdpRepr, { kind: 'na' }>): void {
    const stats = this.#env.stats;
    stats.naReceived++;
    // RFC 4861 §7.1.2: target not multicast; to a multicast destination Solicited must be 0.
    if (isIpv6Multicast(m.target) || (isIpv6Multicast(a.dst) && m.solicited)) {
      stats.ndpInvalid++;
      return;
    }
    const mine = st.find(m.target);
    if (mine) {
      // RFC 4862 §5.4.4: an NA for a tentative address: it is someone else's; otherwise a
      // node claims an address of ours (logged by Linux; counted here, never learnt).
      if (mine.state === 'tentative') this.#env.conflict(st, mine.address);
      else stats.dadConflicts++;
      return;
    }
    const key = ipv6Key(m.target);
    const ndp = st.ndp!;
    const entry = ndp.get(key);
    // RFC 4861 §7.2.5: "If no entry exists, the advertisement SHOULD be silently discarded."
    if (!entry) {
      if (!m.solicited) stats.unsolicitedNa++;
      return;
    }
    // RFC 4861 §7.2.5: the Solicited and Override flags decide what the entry becomes.
    if (!ndp.advertised(key, m.options.targetLinkAddress, m.solicited, m.override)) stats.naIgnored++;
    // "In those cases where the IsRouter flag changes from TRUE to FALSE as a result of this
    // update, the node MUST remove that router from the Default Router List".
    if (!m.router && st.routers.some((r) => ipv6Equals(r.address, m.target)))
      this.#updateRouter(st, m.target.slice(), 0, this.#env.now());
  }

  #onRs(st: Ipv6Interface, a: Ipv6Arrival, m: Extract<NdpRepr, { kind: 'rs' }>): void {
    const stats = this.#env.stats;
    stats.rsReceived++;
    const slla = m.options.sourceLinkAddress;
    // RFC 4861 §6.1.1: from :: there is no source link-layer address option.
    if (isIpv6Unspecified(a.src) && slla !== undefined) {
      stats.ndpInvalid++;
      return;
    }
    // RFC 4861 §6.2.6: only an advertising interface answers.
    this.router.solicited(st, ipv6Key(a.src), slla);
  }

  #onRa(st: Ipv6Interface, a: Ipv6Arrival, m: Extract<NdpRepr, { kind: 'ra' }>): void {
    const env = this.#env;
    const stats = env.stats;
    stats.raReceived++;
    // RFC 4861 §6.1.2: the source is link-local.
    if (!isIpv6LinkLocal(a.src)) {
      stats.ndpInvalid++;
      return;
    }
    // RFC 4861 §6.2.7: a router does not take configuration from other routers' RAs.
    if (env.isRouter()) return;
    this.#stopSolicitation(st);
    const now = env.now();
    if (m.curHopLimit !== 0) st.hopLimit = m.curHopLimit;
    if (m.options.sourceLinkAddress !== undefined)
      st.ndp!.learn(ipv6Key(a.src), m.options.sourceLinkAddress, true, false);
    // RFC 4861 §6.3.4: an MTU option within [1280, link MTU] sets the link's MTU.
    const mtu = m.options.mtu;
    if (mtu !== undefined && mtu >= 1280 && mtu <= st.iface.mtu) {
      st.mtu = mtu;
      env.routeChanged();
    }
    this.#updateRouter(st, a.src.slice(), m.routerLifetime, now);
    for (const p of m.options.prefixes ?? []) {
      // RFC 4861 §6.3.4: the link-local prefix is ignored.
      if (isIpv6LinkLocal(p.prefix)) continue;
      if (p.onLink) this.#updatePrefix(st, p, now);
      if (p.autonomous) env.autonomousPrefix(st, p);
    }
  }

  #updateRouter(st: Ipv6Interface, addr: Uint8Array, lifetime: number, now: Instant): void {
    const env = this.#env;
    const i = st.routers.findIndex((r) => ipv6Equals(r.address, addr));
    const key = `router:${st.iface.name}:${ipv6Key(addr)}`;
    const remove = () => {
      const j = st.routers.findIndex((r) => ipv6Equals(r.address, addr));
      if (j >= 0) st.routers.splice(j, 1);
      this.#cancel(key);
      env.routes.remove(
        (r) =>
          r.origin === 'ra' &&
          r.prefix === 0 &&
          r.gateway !== undefined &&
          ipv6Equals(r.gateway, addr) &&
          r.interface === st.iface.name,
      );
      env.routeChanged();
    };
    if (lifetime === 0) {
      if (i >= 0) remove();
      return;
    }
    const expires = now + seconds(lifetime);
    if (i < 0) {
      if (st.routers.length >= this.config.maxRouters) {
        env.stats.raBoundDrops++;
        return;
      }
      st.routers.push({ address: addr, expires });
      env.routes.add({
        destination: new Uint8Array(16),
        prefix: 0,
        gateway: addr,
        interface: st.iface.name,
        metric: 1024,
        origin: 'ra',
      });
      env.routeChanged();
    } else st.routers[i].expires = expires;
    this.#schedule(key, expires, remove);
  }

  #updatePrefix(st: Ipv6Interface, p: NdpPrefixInfo, now: Instant): void {
    const env = this.#env;
    const len = Math.min(p.prefixLength, 128);
    const i = st.prefixes.findIndex((x) => x.length === len && ipv6Equals(x.prefix, p.prefix));
    const key = `prefix:${st.iface.name}:${ipv6Key(p.prefix)}/${len}`;
    const remove = () => {
      const j = st.prefixes.findIndex((x) => x.length === len && ipv6Equals(x.prefix, p.prefix));
      if (j >= 0) st.prefixes.splice(j, 1);
      this.#cancel(key);
      env.routes.remove(
        (r) =>
          r.origin === 'ra' &&
          r.prefix === len &&
          r.gateway === undefined &&
          r.interface === st.iface.name &&
          ipv6Equals(r.destination, p.prefix),
      );
      env.routeChanged();
    };
    if (p.validLifetime === 0) {
      if (i >= 0) remove();
      return;
    }
    const expires =
      p.validLifetime === 0xffffffff ? Number.POSITIVE_INFINITY : now + seconds(p.validLifetime);
    if (i < 0) {
      if (st.prefixes.length >= this.config.maxPrefixes) {
        env.stats.raBoundDrops++;
        return;
      }
      st.prefixes.push({ prefix: p.prefix.slice(), length: len, expires });
      env.routes.add({
        destination: p.prefix,
        prefix: len,
        gateway: undefined,
        interface: st.iface.name,
        metric: 256,
        origin: 'ra',
      });
      env.routeChanged();
    } else st.prefixes[i].expires = expires;
    if (Number.isFinite(expires)) this.#schedule(key, expires, remove);
    else this.#cancel(key);
  }

  // ---------------------------------------------------------------- host: router solicitation

  /** RFC 4861 §6.3.7: up to MAX_RTR_SOLICITATIONS RSs, RTR_SOLICITATION_INTERVAL apart, until an RA comes. */
  startSolicitation(st: Ipv6Interface): void {
    if (this.#env.isRouter() || !st.ndp) return;
    let sent = 0;
    const step = () => {
      const src = st.linkLocal;
      // RFC 4861 §6.3.7: from :: (then without the SLLA option) when no address is usable yet.
      this.#send(st, src ?? new Uint8Array(16), IPV6_ALL_ROUTERS, {
        kind: 'rs',
        options: src ? { sourceLinkAddress: st.iface.mac } : {},
      });
      if (++sent < MAX_RTR_SOLICITATIONS)
        this.#schedule(`rs:${st.iface.name}`, this.#env.now() + RTR_SOLICITATION_INTERVAL, step);
    };
    step();
  }

  #stopSolicitation(st: Ipv6Interface): void {
    this.#cancel(`rs:${st.iface.name}`);
  }

  #schedule(key: string, at: Instant, fn: () => void): void {
    this.#timers.get(key)?.cancel();
    const t = this.#env.timers.timer(() => {
      this.#timers.delete(key);
      fn();
    });
    this.#timers.set(key, t);
    t.set(at);
  }

  #cancel(key: string): void {
    this.#timers.get(key)?.cancel();
    this.#timers.delete(key);
  }
}
