/**
 * A DNS forwarder on the gateway's DNS address (UDP and TCP port 53, RFC 1035 §4.2):
 * each query is checked with the DNS codec (malformed ones dropped and counted), sent to
 * the upstream server over a host datagram socket under a fresh random ID (RFC 5452 §9.2:
 * IDs unpredictable to an off-path attacker), and the upstream's answer goes back to the
 * guest under the guest's own ID. Over TCP each length-prefixed query is forwarded the same
 * way. Outstanding queries are bounded and time out.
 */
import { parseDnsMessage } from '../dns/message.ts';
import type { Stack } from '../stack.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import type { TcpListener } from '../tcp/listen.ts';
import type { Timer } from '../time/timers.ts';
import type { UdpEndpoint } from '../udp/udp.ts';
import type { IpAddress, Ipv4Address } from '../wire/address.ts';
import type { Dialer, HostDatagram } from './dialer.ts';

export const DNS_PORT = 53;
/** Outstanding upstream queries at most (more are dropped and counted). */
const MAX_PENDING = 1024;
/** A query unanswered this long is forgotten (the guest's resolver retries). */
const QUERY_TIMEOUT_US = 5_000_000;
/** Largest DNS message over TCP (the 2-octet length). */
const TCP_MAX = 65535;

export interface DnsForwarderStats {
  queries: number;
  malformed: number;
  answered: number;
  timedOut: number;
  dropped: number;
  /** Upstream datagrams that matched no outstanding query (late, forged, or malformed). */
  unmatched: number;
}

interface Pending {
  readonly guestId: number;
  readonly expires: number;
  readonly reply: (answer: Uint8Array) => void;
}

export class DnsForwarder {
  readonly stats: DnsForwarderStats = {
    queries: 0,
    malformed: 0,
    answered: 0,
    timedOut: 0,
    dropped: 0,
    unmatched: 0,
  };
  readonly #stack: Stack;
  readonly #upstream: { host: string; port: number };
  readonly #host: HostDatagram;
  readonly #ep: UdpEndpoint;
  readonly #listener: TcpListener;
  readonly #pending = new Map<number, Pending>();
  readonly #sweep: Timer;

  constructor(stack: Stack, address: Ipv4Address, upstream: { host: string; port: number }, dialer: Dialer) {
    this.#stack = stack;
    this.#upstream = upstream;
    const local: IpAddress = { family: 4, v4: address };
    const ep = stack.udp.open();
    stack.udp.bind(ep, local, DNS_PORT);
    ep.onReadable = () => this.#drainUdp();
    this.#ep = ep;
    this.#host = dialer.openDatagram();
    this.#host.onMessage = (data, host, port) => this.#fromUpstream(data, host, port);
    this.#listener = stack.tcp.listen({ address: local, port: DNS_PORT, backlog: 16, privileged: true });
    this.#listener.onAcceptable = () => this.#acceptTcp();
    this.#sweep = stack.timers.timer((now) => this.#expire(now));
  }

  close(): void {
    this.#ep.close();
    this.#listener.close();
    this.#host.close();
    this.#sweep.cancel();
    this.#pending.clear();
  }

  #drainUdp(): void {
    const ep = this.#ep;
    for (let n = ep.queue.length; n > 0; n--) {
      const d = ep.recv();
      if (!d) break;
      const src = d.srcAddr;
      const port = d.srcPort;
      this.#query(d.data, (answer) => {
        try {
          ep.sendto(answer, src, port);
        } catch {
          // The guest's route is gone: nothing to tell.
        }
      });
    }
  }

  /** Forwards one query; `reply` gets the upstream's answer with the guest's ID. */
  #query(q: Uint8Array, reply: (answer: Uint8Array) => void): void {
    this.stats.queries++;
    const p = parseDnsMessage(q);
    if (!p.ok || p.message.qr) {
      this.stats.malformed++;
      return;
    }
    if (this.#pending.size >= MAX_PENDING) {
      this.stats.dropped++;
      return;
    }
    let id = 0;
    for (let i = 0; i < 16; i++) {
      id = this.#stack.rng.nextU32() & 0xffff;
      if (!this.#pending.has(id)) break;
    }
    if (this.#pending.has(id)) {
      this.stats.dropped++;
      return;
    }
    const now = this.#stack.clock.now();
    const expires = now + QUERY_TIMEOUT_US;
    this.#pending.set(id, { guestId: (q[0] << 8) | q[1], expires, reply });
    if (!this.#sweep.armed) this.#sweep.set(expires);
    const out = q.slice();
    out[0] = id >> 8;
    out[1] = id & 0xff;
    this.#host.send(out, this.#upstream.host, this.#upstream.port);
  }

  #fromUpstream(data: Uint8Array, host: string, port: number): void {
    if (host !== this.#upstream.host || port !== this.#upstream.port || data.length < 12) {
      this.stats.unmatched++;
      return;
    }
    const id = (data[0] << 8) | data[1];
    const p = this.#pending.get(id);
    const parsed = p ? parseDnsMessage(data) : undefined;
    if (!p || !parsed?.ok || !parsed.message.qr) {
      this.stats.unmatched++;
      return;
    }
    this.#pending.delete(id);
    this.stats.answered++;
    const out = data.slice();
    out[0] = p.guestId >> 8;
    out[1] = p.guestId & 0xff;
    p.reply(out);
  }

  #expire(now: number): void {
    let next: number | undefined;
    for (const [id, p] of this.#pending) {
      if (p.expires <= now) {
        this.#pending.delete(id);
        this.stats.timedOut++;
      } else if (next === undefined || p.expires < next) next = p.expires;
    }
    if (next !== undefined) this.#sweep.set(next);
  }

  #acceptTcp(): void {
    for (let c = this.#listener.accept(); c; c = this.#listener.accept()) this.#serveTcp(c);
  }

  /** RFC 1035 §4.2.2: each message is prefixed with a two-octet length. */
  #serveTcp(c: TcpConnection): void {
    let buf = new Uint8Array(0);
    let outstanding = 0;
    let eof = false;
    const maybeClose = (): void => {
      if (eof && outstanding === 0 && c.state !== 'CLOSED') c.close();
    };
    const pump = (): void => {
      for (let i = 0; i < 64; i++) {
        let chunk: Uint8Array | null;
        try {
          chunk = c.read(TCP_MAX + 2);
        } catch {
          return;
        }
        if (chunk === null) break;
        const b = new Uint8Array(buf.length + chunk.length);
        b.set(buf);
        b.set(chunk, buf.length);
        buf = b;
      }
      while (buf.length >= 2) {
        const len = (buf[0] << 8) | buf[1];
        if (buf.length < 2 + len) break;
        const q = buf.slice(2, 2 + len);
        buf = buf.subarray(2 + len);
        outstanding++;
        this.#query(q, (answer) => {
          outstanding--;
          const framed = new Uint8Array(2 + answer.length);
          framed[0] = answer.length >> 8;
          framed[1] = answer.length & 0xff;
          framed.set(answer, 2);
          try {
            c.write(framed);
          } catch {
            return;
          }
          maybeClose();
        });
      }
      if (c.eof) {
        eof = true;
        maybeClose();
      }
    };
    c.events = { onReadable: pump, onEnd: pump };
    pump();
  }
}
