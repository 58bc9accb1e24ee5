/**
 * The ping client (ICMP echo, RFC 792): sends one echo request and resolves with the
 * matching reply, an ICMP error quoting the request, or a timeout.
 */

import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import type { Ipv4Address } from '../wire/address.ts';
import { emitIcmpv4, type Icmpv4Repr, icmpv4Length } from '../wire/icmpv4.ts';
import { IP_PROTO_ICMP } from '../wire/ipv4.ts';
import type { Icmpv4Arrival, Icmpv4Error } from './icmpv4.ts';
import type { IcmpErrorKind, SendError } from './network.ts';
import type { Ipv4Output } from './output.ts';
import type { StackStats } from './stats.ts';

/** How one echo request ended; `A` is the family's address (the IPv6 client's is ipv6-ping.ts). */
export type EchoResult<A> =
  | {
      readonly ok: true;
      /** Round-trip time in microseconds (virtual time on a simulation). */
      readonly rtt: number;
      /** TTL (IPv6: hop limit) of the reply as received. */
      readonly ttl: number;
      /** ICMP bytes in the reply (8-byte header + data), as ping(8) prints. */
      readonly bytes: number;
      readonly from: A;
      readonly seq: number;
    }
  | {
      readonly ok: false;
      /** 'timeout', an ICMP error kind, or the errno of a failed send. */
      readonly error: 'timeout' | IcmpErrorKind | SendError;
      /** Who reported the error (a router), when an ICMP error came back. */
      readonly from?: A;
      readonly seq: number;
    };

export type PingResult = EchoResult<Ipv4Address>;

export interface PingOptions {
  /** ICMP data bytes (default 56, as ping(8)). */
  size?: number;
  ttl?: number;
  /** Microseconds to wait for the reply (default 1 s). */
  timeout?: number;
  id?: number;
  seq?: number;
  /** Source address. */
  src?: Ipv4Address;
}

interface EchoWaiter<A> {
  readonly sent: Instant;
  readonly seq: number;
  resolve(r: EchoResult<A>): void;
  readonly timer: { cancel(): void };
}

/**
 * The echo requests a ping client has outstanding, by identifier and sequence number, for
 * both families: each resolves once, with its reply, an ICMP error quoting it, the errno of
 * a failed send, or a timeout; a new request with the same identifier and sequence ends
 * the older one as timed out.
 */
export class EchoRequests<A> {
  readonly #clock: Clock;
  readonly #timers: TimerQueue;
  readonly #pings = new Map<string, EchoWaiter<A>>();

  constructor(clock: Clock, timers: TimerQueue) {
    this.#clock = clock;
    this.#timers = timers;
  }

  /**
   * Waits `timeout` µs for the reply to (ident, seq); call before sending the request.
   * Returns what to call when the send fails.
   */
  start(
    ident: number,
    seq: number,
    timeout: number,
    resolve: (r: EchoResult<A>) => void,
  ): (err: SendError) => void {
    const key = `${ident}/${seq}`;
    const now = this.#clock.now();
    const timer = this.#timers.timer(() => {
      if (this.#pings.get(key)?.timer !== timer) return;
      this.#pings.delete(key);
      resolve({ ok: false, error: 'timeout', seq });
    });
    const prev = this.#pings.get(key);
    prev?.timer.cancel();
    prev?.resolve({ ok: false, error: 'timeout', seq });
    this.#pings.set(key, { sent: now, seq, resolve, timer });
    timer.set(now + timeout);
    return (error) => {
      this.#take(ident, seq);
      resolve({ ok: false, error, seq });
    };
  }

  /** An echo reply arrived: resolves the request it answers, if any. */
  reply(ident: number, seq: number, ttl: number, bytes: number, from: A): void {
    const w = this.#take(ident, seq);
    w?.resolve({ ok: true, rtt: this.#clock.now() - w.sent, ttl, bytes, from, seq });
  }

  /**
   * An ICMP error quoting an echo request (`quoted`: its ICMP header on): resolves the
   * request it is about; false when none is waiting for it.
   */
  error(quoted: Uint8Array, kind: IcmpErrorKind, from: A | undefined): boolean {
    const w = this.#take((quoted[4] << 8) | quoted[5], (quoted[6] << 8) | quoted[7]);
    w?.resolve({ ok: false, error: kind, ...(from !== undefined ? { from } : {}), seq: w.seq });
    return w !== undefined;
  }

  #take(ident: number, seq: number): EchoWaiter<A> | undefined {
    const key = `${ident}/${seq}`;
    const w = this.#pings.get(key);
    this.#pings.delete(key);
    w?.timer.cancel();
    return w;
  }
}

export interface PingEnv {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: TimerQueue;
  readonly stats: StackStats;
  readonly output: Ipv4Output;
}

export class PingClient {
  readonly #env: PingEnv;
  readonly #pings: EchoRequests<Ipv4Address>;

  constructor(env: PingEnv) {
    this.#env = env;
    this.#pings = new EchoRequests(env.clock, env.timers);
  }

  /** Sends one ICMP echo request and resolves with the reply, an ICMP error, or a timeout. */
  ping(dst: Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    const env = this.#env;
    const ident = (opts.id ?? env.rng.below(0x10000)) & 0xffff;
    const seq = (opts.seq ?? 0) & 0xffff;
    return new Promise<PingResult>((resolve) => {
      const route = env.output.route(dst, opts.src ?? 0);
      if (typeof route === 'string') {
        resolve({ ok: false, error: route, seq });
        return;
      }
      const req: Icmpv4Repr = { kind: 'echoRequest', ident, seq, data: echoData(opts.size) };
      const body = new Uint8Array(icmpv4Length(req));
      emitIcmpv4(req, body);
      const failed = this.#pings.start(ident, seq, opts.timeout ?? 1_000_000, resolve);
      env.stats.icmp.outMessages++;
      env.stats.icmp.outEchoRequests++;
      const err = env.output.send(route, { protocol: IP_PROTO_ICMP, ttl: opts.ttl }, body);
      if (err !== undefined && err !== 'ENOBUFS') failed(err);
    });
  }

  /** An echo reply arrived: resolves the ping it answers, if any. */
  reply(ident: number, seq: number, arrival: Icmpv4Arrival, bytes: number): void {
    this.#pings.reply(ident, seq, arrival.ttl, bytes, arrival.src);
  }

  /** An ICMP error quoting an echo request: resolves the ping it is about, if any. */
  error(err: Icmpv4Error): void {
    const t = err.quoted.transport;
    if (t.length < 8 || t[0] !== 8 || !this.#pings.error(t, err.kind, err.from))
      this.#env.stats.icmp.unmatchedErrors++;
  }
}

/** `size` (default 56, as ping(8)) data bytes in ping(8)'s fill pattern. */
export function echoData(size = 56): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i + 8) & 0xff;
  return data;
}
