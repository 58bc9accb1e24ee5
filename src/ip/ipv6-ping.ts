/**
 * The ping client for IPv6 (ICMPv6 echo, RFC 4443 §4): one echo request, resolved with
 * the matching reply, an ICMPv6 error quoting the request, or a timeout.
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerQueue } from '../time/timers.ts';
import { buildIcmpv6, ICMPV6_ECHO_REQUEST } from '../wire/icmpv6.ts';
import { IPV6_NH_ICMPV6 } from '../wire/ipv6.ts';
import type { Ipv6Arrival } from './ipv6-icmp.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { ReceivedIcmpError } from './network.ts';
import { EchoRequests, type EchoResult, echoData } from './ping.ts';

export type Ping6Result = EchoResult<Uint8Array>;

export interface Ping6Options {
  size?: number;
  /** Hop limit. */
  ttl?: number;
  /** Microseconds to wait (default 1 s). */
  timeout?: number;
  id?: number;
  seq?: number;
  src?: Uint8Array;
  /** Outgoing interface (the scope of a link-local destination). */
  ifname?: string;
}

export interface Ping6Env {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  readonly output: Ipv6Output;
}

export class Ping6Client {
  readonly #env: Ping6Env;
  readonly #pings: EchoRequests<Uint8Array>;

  constructor(env: Ping6Env) {
    this.#env = env;
    this.#pings = new EchoRequests(env.clock, env.timers);
  }

  ping(dst: Uint8Array, opts: Ping6Options = {}): Promise<Ping6Result> {
    const env = this.#env;
    const ident = (opts.id ?? env.rng.below(0x10000)) & 0xffff;
    const seq = (opts.seq ?? 0) & 0xffff;
    return new Promise<Ping6Result>((resolve) => {
      const route = env.output.route(dst, opts.src, opts.ifname);
      if (typeof route === 'string') {
        resolve({ ok: false, error: route, seq });
        return;
      }
      const msg = buildIcmpv6(
        { type: ICMPV6_ECHO_REQUEST, code: 0, word: ((ident << 16) | seq) >>> 0, body: echoData(opts.size) },
        route.src,
        dst,
      );
      const failed = this.#pings.start(ident, seq, opts.timeout ?? 1_000_000, resolve);
      const frame = new Uint8Array(route.headerRoom + msg.length);
      frame.set(msg, route.headerRoom);
      const err = env.output.sendInPlace(route, { protocol: IPV6_NH_ICMPV6, ttl: opts.ttl }, frame);
      if (err !== undefined && err !== 'ENOBUFS') failed(err);
    });
  }

  reply(ident: number, seq: number, a: Ipv6Arrival, bytes: number): void {
    this.#pings.reply(ident, seq, a.hopLimit, bytes, a.src.slice());
  }

  error(err: ReceivedIcmpError): void {
    this.#pings.error(err.quoted.transport, err.kind, err.from.family === 6 ? err.from.v6 : undefined);
  }
}
