/**
 * A router's half of Neighbor Discovery (RFC 4861 §6.2): the Router Advertisements of an
 * interface with prefixes to advertise, periodic and in answer to Router Solicitations.
 * Only a router stack (forwarding on) advertises; ndp.ts does the rest of ND for hosts
 * and routers alike. dist/browser/stack.js, a host's stack without forwarding, builds
 * without this file (src/ip/forward-absent.ts).
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import { millis, seconds } from '../time/instant.ts';
import { IPV6_ALL_NODES } from '../wire/ipv6-address.ts';
import type { NdpRepr } from '../wire/ndp.ts';
import type { NetInterface } from './interface.ts';
import type { Ipv6Interface } from './ipv6-iface.ts';

/** RFC 4861 §10 router constants: the first RAs go out at most this far apart, then every 200-600 s. */
export const MAX_INITIAL_RTR_ADVERT_INTERVAL = seconds(16);
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
export const MIN_DELAY_BETWEEN_RAS = seconds(3);
export const MIN_RTR_ADV_INTERVAL = seconds(200);
export const MAX_RTR_ADV_INTERVAL = seconds(600);

/** What the advertiser uses of Ndp. */
export interface RouterAdvertiserEnv {
  now(): Instant;
  readonly rng: Rng;
  /** A router stack (forwarding on). */
  isRouter(): boolean;
  /** Router Lifetime to advertise, seconds (NdpConfig.routerLifetime). */
  routerLifetime(): number;
  /** Runs `fn` at `at`, replacing what was scheduled under `key`. */
  schedule(key: string, at: Instant, fn: () => void): void;
  send(st: Ipv6Interface, src: Uint8Array, dst: Uint8Array, m: NdpRepr): void;
}

export class RouterAdvertiser {
  readonly #env: RouterAdvertiserEnv;
  readonly #lastRa = new Map<NetInterface, Instant>();

  constructor(env: RouterAdvertiserEnv) {
    this.#env = env;
  }

  /** Starts periodic RAs (RFC 4861 §6.2.4) for an interface with prefixes to advertise. */
  start(st: Ipv6Interface): void {
    const env = this.#env;
    let n = 0;
    const step = () => {
      if (!env.isRouter() || st.advertise.length === 0) return;
      this.send(st);
      n++;
      const rnd = env.rng.nextFloat();
      const gap =
        n < MAX_INITIAL_RTR_ADVERTISEMENTS
          ? Math.round(MAX_INITIAL_RTR_ADVERT_INTERVAL * (0.5 + rnd / 2))
          : MIN_RTR_ADV_INTERVAL + Math.round((MAX_RTR_ADV_INTERVAL - MIN_RTR_ADV_INTERVAL) * rnd);
      env.schedule(`ra:${st.iface.name}`, env.now() + gap, step);
    };
    env.schedule(`ra:${st.iface.name}`, env.now() + millis(1), step);
  }

  /**
   * A valid Router Solicitation arrived from `srcKey` (its ipv6Key; `slla`: its source
   * link-layer address, learnt): an advertising interface answers, no sooner than
   * MIN_DELAY_BETWEEN_RAS after its last RA (RFC 4861 §6.2.6).
   */
  solicited(st: Ipv6Interface, srcKey: string, slla: Uint8Array | undefined): void {
    if (!this.#env.isRouter() || st.advertise.length === 0) return;
    if (slla !== undefined) st.ndp!.learn(srcKey, slla, true, false);
    const now = this.#env.now();
    const last = this.#lastRa.get(st.iface);
    const at = last === undefined ? now : Math.max(now, last + MIN_DELAY_BETWEEN_RAS);
    this.#env.schedule(`rs-answer:${st.iface.name}`, at, () => this.send(st));
  }

  /** Sends one RA to all nodes from the interface's link-local address (RFC 4861 §6.2.3). */
  send(st: Ipv6Interface): void {
    const src = st.linkLocal;
    if (src === undefined) return;
    this.#lastRa.set(st.iface, this.#env.now());
    this.#env.send(st, src, IPV6_ALL_NODES, {
      kind: 'ra',
      curHopLimit: 64,
      managed: false,
      other: false,
      routerLifetime: this.#env.routerLifetime(),
      reachableTime: 0,
      retransTimer: 0,
      options: {
        sourceLinkAddress: st.iface.mac,
        mtu: st.mtu,
        prefixes: st.advertise.map((p) => ({
          prefixLength: p.length,
          onLink: true,
          autonomous: p.length === 64,
          validLifetime: 86400,
          preferredLifetime: 14400,
          prefix: p.prefix,
        })),
      },
    });
  }
}
