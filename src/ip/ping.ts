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

export type PingResult =
  | {
      readonly ok: true;
      /** Round-trip time in microseconds (virtual time on a simulation). */
      readonly rtt: number;
      /** TTL of the reply as received. */
      readonly ttl: number;
      /** ICMP bytes in the reply (8-byte header + data), as ping(8) prints. */
      readonly bytes: number;
      readonly from: Ipv4Address;
      readonly seq: number;
    }
  | {
      readonly ok: false;
      /** 'timeout', an ICMP error kind, or the errno of a failed send. */
      readonly error: 'timeout' | IcmpErrorKind | SendError;
      /** Who reported the error (a router), when an ICMP error came back. */
      readonly from?: Ipv4Address;
      readonly seq: number;
    };

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

interface PingWaiter {
  readonly sent: Instant;
  readonly seq: number;
  resolve(r: PingResult): void;
  readonly timer: { cancel(): void };
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
  readonly #pings = new Map<string, PingWaiter>();

  constructor(env: PingEnv) {
    this.#env = env;
  }

  /** Sends one ICMP echo request and resolves with the reply, an ICMP error, or a timeout. */
  ping(dst: Ipv4Address, opts: PingOptions = {}): Promise<PingResult> {
    const env = this.#env;
    const ident = (opts.id ?? env.rng.below(0x10000)) & 0xffff;
    const seq = (opts.seq ?? 0) & 0xffff;
    const size = opts.size ?? 56;
    const key = `${ident}/${seq}`;
    return new Promise<PingResult>((resolve) => {
      const route = env.output.route(dst, opts.src ?? 0);
      if (typeof route === 'string') {
        resolve({ ok: false, error: route, seq });
        return;
      }
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = (i + 8) & 0xff; // ping(8)'s fill pattern
      const req: Icmpv4Repr = { kind: 'echoRequest', ident, seq, data };
      const body = new Uint8Array(icmpv4Length(req));
      emitIcmpv4(req, body);
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
      env.stats.icmp.outMessages++;
      env.stats.icmp.outEchoRequests++;
      const err = env.output.send(route, { protocol: IP_PROTO_ICMP, ttl: opts.ttl }, body);
      if (err !== undefined && err !== 'ENOBUFS') {
        this.#pings.delete(key);
        timer.cancel();
        resolve({ ok: false, error: err, seq });
      }
    });
  }

  /** An echo reply arrived: resolves the ping it answers, if any. */
  reply(ident: number, seq: number, arrival: Icmpv4Arrival, bytes: number): void {
    const w = this.#pings.get(`${ident}/${seq}`);
    if (!w) return;
    this.#pings.delete(`${ident}/${seq}`);
    w.timer.cancel();
    w.resolve({
      ok: true,
      rtt: this.#env.clock.now() - w.sent,
      ttl: arrival.ttl,
      bytes,
      from: arrival.src,
      seq,
    });
  }

  /** An ICMP error quoting an echo request: resolves the ping it is about, if any. */
  error(err: Icmpv4Error): void {
    const t = err.quoted.transport;
    if (t.length < 8 || t[0] !== 8) {
      this.#env.stats.icmp.unmatchedErrors++;
      return;
    }
    const ident = (t[4] << 8) | t[5];
    const seq = (t[6] << 8) | t[7];
    const w = this.#pings.get(`${ident}/${seq}`);
    if (!w) {
      this.#env.stats.icmp.unmatchedErrors++;
      return;
    }
    this.#pings.delete(`${ident}/${seq}`);
    w.timer.cancel();
    w.resolve({ ok: false, error: err.kind, from: err.from, seq: w.seq });
  }
}
