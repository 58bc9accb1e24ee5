/**
 * ICMPv6 (RFC 4443) on a stack: echo replies, errors sent (with the rules of §2.4 (e)
 * on when not to, and rate-limited per §2.4 (f) with a token bucket), and received
 * errors mapped to the transport whose packet they quote. NDP and MLD messages are
 * handed on to src/ip/ndp.ts and src/ip/ipv6-mld.ts.
 */
import type { Clock } from '../time/clock.ts';
import { isWireError } from '../wire/error.ts';
import {
  buildIcmpv6,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ERROR_MAX_LEN,
  ICMPV6_HEADER_LEN,
  ICMPV6_MLD_QUERY,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_PARAMPROB_NEXT_HEADER,
  ICMPV6_PARAMPROB_OPTION,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_BEYOND_SCOPE,
  ICMPV6_UNREACH_NO_ROUTE,
  ICMPV6_UNREACH_PORT,
  isIcmpv6Error,
  parseIcmpv6,
  parseIcmpv6Invoking,
} from '../wire/icmpv6.ts';
import { emitIpv6, IPV6_HEADER_LEN, IPV6_NH_ICMPV6 } from '../wire/ipv6.ts';
import { isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified } from '../wire/ipv6-address.ts';
import { DEFAULT_ICMP_RATE, type EchoRequestHook, type IcmpRateConfig, TokenBucket } from './icmp.ts';
import type { NetInterface } from './interface.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';
import type { IcmpErrorKind, ReceivedIcmpError } from './network.ts';

/** What the input path knows about an arriving packet. */
export interface Ipv6Arrival {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly hopLimit: number;
  readonly iface: NetInterface;
  /** Arrived in a link-layer multicast or broadcast frame. */
  readonly linkMulticast: boolean;
  /** The whole packet (for quoting). */
  readonly packet: Uint8Array;
}

export interface Icmpv6Env {
  readonly clock: Clock;
  readonly stats: Ipv6Stats;
  readonly output: Ipv6Output;
  defaultHopLimit(): number;
  isLocal(a: Uint8Array): boolean;
  /** Neighbor Discovery messages (types 133-137). */
  ndp(arrival: Ipv6Arrival, msg: Uint8Array): void;
  /** MLD queries. */
  mldQuery(arrival: Ipv6Arrival, msg: Uint8Array): void;
  echoReply(ident: number, seq: number, arrival: Ipv6Arrival, bytes: number): void;
  /** An error quoting one of our echo requests. */
  echoError(err: ReceivedIcmpError): void;
  /** An error quoting a transport's packet; false when no transport took it. */
  transportError(err: ReceivedIcmpError): boolean;
}

/** RFC 4443 error to the transport-facing kind (Linux icmpv6_err_convert). */
export function icmpv6ErrorKind(type: number, code: number): IcmpErrorKind {
  switch (type) {
    case ICMPV6_DEST_UNREACHABLE:
      if (code === ICMPV6_UNREACH_PORT) return 'port-unreachable';
      if (code === ICMPV6_UNREACH_NO_ROUTE) return 'net-unreachable';
      if (code === ICMPV6_UNREACH_ADDRESS || code === ICMPV6_UNREACH_BEYOND_SCOPE) return 'host-unreachable';
      return 'unreachable';
    case ICMPV6_PACKET_TOO_BIG:
      return 'frag-needed';
    case ICMPV6_TIME_EXCEEDED:
      return 'time-exceeded';
    default:
      return code === ICMPV6_PARAMPROB_NEXT_HEADER ? 'proto-unreachable' : 'unreachable';
  }
}

export class Icmpv6 {
  readonly #env: Icmpv6Env;
  readonly #bucket: TokenBucket;
  /** Offered every unicast echo request before the stack answers it (icmp.ts EchoRequest). */
  onEchoRequest: EchoRequestHook | undefined = undefined;

  constructor(env: Icmpv6Env, rate: Partial<IcmpRateConfig> = {}) {
    this.#env = env;
    const r = { ...DEFAULT_ICMP_RATE, ...rate };
    this.#bucket = new TokenBucket(r.ratePerSecond, r.burst, env.clock.now());
  }

  /**
   * Sends an echo reply from `from` (any address: a gateway answers for the host it
   * pinged) to `to` with hop limit `hopLimit`; false when there is no route.
   */
  sendEchoReply(
    from: Uint8Array,
    to: Uint8Array,
    ident: number,
    seq: number,
    data: Uint8Array,
    hopLimit?: number,
  ): boolean {
    const env = this.#env;
    const route = env.output.route(to, from);
    if (typeof route === 'string') return false;
    const msg = buildIcmpv6(
      { type: ICMPV6_ECHO_REPLY, code: 0, word: ((ident << 16) | seq) >>> 0, body: data },
      route.src,
      to,
    );
    const frame = new Uint8Array(route.headerRoom + msg.length);
    frame.set(msg, route.headerRoom);
    env.stats.icmpOut++;
    env.stats.echoRepliesSent++;
    const opts = { protocol: IPV6_NH_ICMPV6, ...(hopLimit !== undefined ? { ttl: hopLimit } : {}) };
    return env.output.sendInPlace(route, opts, frame) === undefined;
  }

  /** An ICMPv6 message addressed to us. */
  input(a: Ipv6Arrival, msg: Uint8Array): void {
    const env = this.#env;
    const stats = env.stats;
    stats.icmpIn++;
    const m = parseIcmpv6(msg, a.src, a.dst);
    if (isWireError(m)) {
      if (m.wireError === 'checksum') stats.icmpBadChecksum++;
      else stats.icmpInErrors++;
      return;
    }
    switch (m.type) {
      case ICMPV6_ECHO_REQUEST: {
        // RFC 4443 §4.2: reply to the source, from the destination if it was unicast to us.
        if (isIpv6Unspecified(a.src) || isIpv6Multicast(a.src)) {
          stats.icmpInErrors++;
          return;
        }
        if (
          !isIpv6Multicast(a.dst) &&
          this.onEchoRequest?.({
            iface: a.iface,
            src: { family: 6, v6: a.src },
            dst: { family: 6, v6: a.dst },
            ident: m.word >>> 16,
            seq: m.word & 0xffff,
            data: m.body.slice(),
            ttl: a.hopLimit,
          })
        )
          return;
        const route = env.output.route(
          a.src,
          isIpv6Multicast(a.dst) ? undefined : a.dst,
          // A link-local peer is reached through the interface it came in on (its scope).
          isIpv6LinkLocal(a.src) && !a.iface.isLoopback ? a.iface.name : undefined,
        );
        if (typeof route === 'string') return;
        const reply = buildIcmpv6(
          { type: ICMPV6_ECHO_REPLY, code: 0, word: m.word, body: m.body },
          route.src,
          a.src,
        );
        this.#send(route, reply);
        stats.echoRepliesSent++;
        return;
      }
      case ICMPV6_ECHO_REPLY:
        env.echoReply(m.word >>> 16, m.word & 0xffff, a, msg.length);
        return;
      case ICMPV6_MLD_QUERY:
        env.mldQuery(a, msg);
        return;
      default:
        break;
    }
    if (m.type >= 133 && m.type <= 137) {
      env.ndp(a, msg);
      return;
    }
    if (!isIcmpv6Error(m.type)) return; // RFC 4443 §2.4 (b): unknown informational: discarded
    const inv = parseIcmpv6Invoking(m.body);
    if (isWireError(inv)) {
      stats.icmpInErrors++;
      return;
    }
    // Only errors about packets we sent: the quoted source must be ours.
    if (!env.isLocal(inv.src)) {
      stats.icmpInErrors++;
      return;
    }
    const t = inv.transport;
    const err: ReceivedIcmpError = {
      kind: icmpv6ErrorKind(m.type, m.code),
      type: m.type,
      code: m.code,
      from: { family: 6, v6: a.src.slice() },
      quoted: {
        src: { family: 6, v6: inv.src.slice() },
        dst: { family: 6, v6: inv.dst.slice() },
        protocol: inv.protocol,
        ...(t.length >= 4 ? { srcPort: (t[0] << 8) | t[1], dstPort: (t[2] << 8) | t[3] } : {}),
        transport: t,
      },
      ...(m.type === ICMPV6_PACKET_TOO_BIG ? { nextHopMtu: m.word } : {}),
    };
    if (inv.protocol === IPV6_NH_ICMPV6) {
      if (t.length >= 8 && t[0] === ICMPV6_ECHO_REQUEST) env.echoError(err);
      return;
    }
    if (!env.transportError(err)) stats.icmpInErrors++;
  }

  /**
   * Sends an error about `offending` (a whole packet we received). RFC 4443 §2.4 (e): never
   * about an ICMPv6 error or a redirect, never to a packet sent to a multicast address or
   * as a link multicast (except Packet Too Big and Parameter Problem code 2), never to a
   * source that is not one node's (unspecified, multicast). §2.4 (f): rate-limited.
   */
  sendError(
    offending: Uint8Array,
    a: Ipv6Arrival | undefined,
    type: number,
    code: number,
    word = 0,
  ): boolean {
    const env = this.#env;
    const stats = env.stats;
    if (offending.length < IPV6_HEADER_LEN) return false;
    const src = offending.subarray(8, 24);
    const dst = offending.subarray(24, 40);
    const exempt =
      type === ICMPV6_PACKET_TOO_BIG ||
      (type === ICMPV6_PARAMETER_PROBLEM && code === ICMPV6_PARAMPROB_OPTION);
    if (
      isIpv6Unspecified(src) ||
      isIpv6Multicast(src) ||
      (!exempt && (isIpv6Multicast(dst) || a?.linkMulticast === true)) ||
      this.#aboutIcmpError(offending)
    ) {
      stats.icmpErrorsSuppressed++;
      return false;
    }
    if (!this.#bucket.take(env.clock.now())) {
      stats.icmpRateLimited++;
      return false;
    }
    const to = src.slice();
    const route = env.output.route(
      to,
      env.isLocal(dst) ? dst : undefined,
      a && isIpv6LinkLocal(to) && !a.iface.isLoopback ? a.iface.name : undefined,
    );
    if (typeof route === 'string') return false;
    // RFC 4443 §2.4 (c): as much of the invoking packet as fits in the minimum MTU.
    const room = ICMPV6_ERROR_MAX_LEN - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN;
    const body = offending.subarray(0, Math.min(offending.length, room));
    const msg = buildIcmpv6({ type, code, word, body }, route.src, to);
    this.#send(route, msg);
    stats.icmpErrorsSent++;
    return true;
  }

  #aboutIcmpError(p: Uint8Array): boolean {
    // Walks no extension headers: an ICMPv6 error behind them is rare; the type check is what matters.
    if (p[6] !== IPV6_NH_ICMPV6) return false;
    if (p.length < IPV6_HEADER_LEN + 1) return true;
    const t = p[IPV6_HEADER_LEN];
    return isIcmpv6Error(t) || t === 137;
  }

  #send(route: Parameters<Ipv6Output['sendInPlace']>[0], msg: Uint8Array): void {
    const frame = new Uint8Array(route.headerRoom + msg.length);
    frame.set(msg, route.headerRoom);
    this.#env.stats.icmpOut++;
    this.#env.output.sendInPlace(route, { protocol: IPV6_NH_ICMPV6 }, frame);
  }
}

/** Builds a whole IPv6 packet around an ICMPv6 message (NDP and MLD build theirs so). */
export function icmpv6Packet(
  src: Uint8Array,
  dst: Uint8Array,
  hopLimit: number,
  msg: Uint8Array,
  hbh?: Uint8Array,
): Uint8Array {
  const ext = hbh?.length ?? 0;
  const p = new Uint8Array(IPV6_HEADER_LEN + ext + msg.length);
  emitIpv6(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: ext + msg.length,
      nextHeader: hbh ? 0 : IPV6_NH_ICMPV6,
      hopLimit,
      src,
      dst,
    },
    p,
  );
  if (hbh) p.set(hbh, IPV6_HEADER_LEN);
  p.set(msg, IPV6_HEADER_LEN + ext);
  return p;
}
