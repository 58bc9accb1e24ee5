/**
 * The ping client for IPv6 (ICMPv6 echo, RFC 4443 §4): one echo request, resolved with
 * the matching reply, an ICMPv6 error quoting the request, or a timeout.
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import { buildIcmpv6, ICMPV6_ECHO_REQUEST } from '../wire/icmpv6.ts';
import { IPV6_NH_ICMPV6 } from '../wire/ipv6.ts';
import type { Ipv6Arrival } from './ipv6-icmp.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { IcmpErrorKind, ReceivedIcmpError, SendError } from './network.ts';

export type Ping6Result =
  | {
      readonly ok: true;
      /** Round-trip time in microseconds. */
      readonly rtt: number;
      /** Hop limit of the reply as received. */
      readonly ttl: number;
      /** ICMPv6 bytes in the reply (8-byte header + data). */
      readonly bytes: number;
      readonly from: Uint8Array;
      readonly seq: number;
    }
  | {
      readonly ok: false;
      readonly error: 'timeout' | IcmpErrorKind | SendError;
      readonly from?: Uint8Array;
      readonly seq: number;
    };

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

interface Waiter {
  readonly sent: Instant;
  readonly seq: number;
  resolve(r: Ping6Result): void;
  readonly timer: { cancel(): void };
}

export interface Ping6Env {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  readonly output: Ipv6Output;
}

export class Ping6Client {
  readonly #env: Ping6Env;
  readonly #pings = new Map<string, Waiter>();

  constructor(env: Ping6Env) {
    this.#env = env;
  }

  ping(dst: Uint8Array, opts: Ping6Options = {}): Promise<Ping6Result> {
    const env = this.#env;
    const ident = (opts.id ?? env.rng.below(0x10000)) & 0xffff;
    const seq = (opts.seq ?? 0) & 0xffff;
    const size = opts.size ?? 56;
    const key = `${ident}/${seq}`;
    return new Promise<Ping6Result>((resolve) => {
      const route = env.output.route(dst, opts.src, opts.ifname);
      if (typeof route === 'string') {
        resolve({ ok: false, error: route, seq });
        return;
      }
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = (i + 8) & 0xff;
      const msg = buildIcmpv6(
        { type: ICMPV6_ECHO_REQUEST, code: 0, word: ((ident << 16) | seq) >>> 0, body: data },
        route.src,
        dst,
      );
      const now = env.clock.now();
      const timer = env.timers.timer(() => {
        if (this.#pings.get(key)?.timer !== timer) return;
        this.#pings.delete(key);
        resolve({ ok: false, error: 'timeout', seq });
      });
      const prev = this.#pings.get(key);
      if (prev) {
        prev.timer.cancel();
        prev.resolve({ ok: false, error: 'timeout', seq });
      }
      this.#pings.set(key, { sent: now, seq, resolve, timer });
      timer.set(now + (opts.timeout ?? 1_000_000));
      const frame = new Uint8Array(route.headerRoom + msg.length);
      frame.set(msg, route.headerRoom);
      const err = env.output.sendInPlace(route, { protocol: IPV6_NH_ICMPV6, ttl: opts.ttl }, frame);
      if (err !== undefined && err !== 'ENOBUFS') {
        this.#pings.delete(key);
        timer.cancel();
        resolve({ ok: false, error: err, seq });
      }
    });
  }

  reply(ident: number, seq: number, a: Ipv6Arrival, bytes: number): void {
    const k = `${ident}/${seq}`;
    const w = this.#pings.get(k);
    if (!w) return;
    this.#pings.delete(k);
    w.timer.cancel();
    w.resolve({
      ok: true,
      rtt: this.#env.clock.now() - w.sent,
      ttl: a.hopLimit,
      bytes,
      from: a.src.slice(),
      seq,
    });
  }

  error(err: ReceivedIcmpError): void {
    const t = err.quoted.transport;
    const k = `${(t[4] << 8) | t[5]}/${(t[6] << 8) | t[7]}`;
    const w = this.#pings.get(k);
    if (!w) return;
    this.#pings.delete(k);
    w.timer.cancel();
    w.resolve({
      ok: false,
      error: err.kind,
      from: err.from.family === 6 ? err.from.v6 : undefined,
      seq: w.seq,
    });
  }
}
