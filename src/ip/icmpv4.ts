/**
 * ICMP for IPv4 (RFC 792): errors sent about datagrams we drop (with the suppression
 * rules of RFC 1122 §3.2.2 and the rate limit of RFC 1812 §4.3.2.8), echo requests
 * answered, and received errors and echo replies handed on: errors to the transport
 * whose datagram they quote (a "fragmentation needed" reaches the path-MTU cache only
 * through the transport, once it has validated the quote: RFC 5927 §4.1), replies and
 * errors about echo requests to the ping client.
 */
import type { Clock } from '../time/clock.ts';
import type { Ipv4Address } from '../wire/address.ts';
import { isWireError } from '../wire/error.ts';
import {
  emitIcmpv4,
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_UNREACH_FRAG_NEEDED,
  ICMPV4_UNREACH_HOST,
  ICMPV4_UNREACH_NET,
  ICMPV4_UNREACH_PORT,
  ICMPV4_UNREACH_PROTOCOL,
  type Icmpv4Invoking,
  type Icmpv4Repr,
  icmpv4Length,
  parseIcmpv4,
  parseIcmpv4Invoking,
} from '../wire/icmpv4.ts';
import { IP_PROTO_ICMP, IPV4_MIN_HEADER_LEN, Ipv4View } from '../wire/ipv4.ts';
import {
  DEFAULT_ICMP_RATE,
  type EchoRequestHook,
  ICMP_ERROR_MAX_LEN,
  type IcmpRateConfig,
  icmpErrorSuppressed,
  TokenBucket,
} from './icmp.ts';
import type { NetInterface } from './interface.ts';
import type { InterfaceTable } from './interfaces.ts';
import type { IcmpErrorKind } from './network.ts';
import { echoReplyOptions } from './options.ts';
import type { Ipv4Output } from './output.ts';
import type { StackStats } from './stats.ts';

/** How a datagram arrived, for the ICMP rules that depend on it. */
export interface ArrivalMeta {
  readonly iface: NetInterface;
  /** Sent to a broadcast address of ours. */
  readonly broadcast: boolean;
  /** Arrived as a link-layer broadcast/multicast frame. */
  readonly linkBroadcast: boolean;
}

/** An ICMP message delivered to us, with its IPv4 header's facts. */
export interface Icmpv4Arrival extends ArrivalMeta {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly ttl: number;
  /** The datagram's IP options (validated), when it had any. */
  readonly options?: Uint8Array;
}

/** A received ICMPv4 error about a datagram we sent (IPv4's numbers; the transports get IpAddress). */
export interface Icmpv4Error {
  readonly kind: IcmpErrorKind;
  readonly type: number;
  readonly code: number;
  /** Who sent the error (a router, or the destination host). */
  readonly from: Ipv4Address;
  readonly quoted: Icmpv4Invoking;
  /** Next-hop MTU for 'frag-needed' (RFC 1191), when the router gave one. */
  readonly nextHopMtu?: number;
}

export interface Icmpv4Env {
  readonly clock: Clock;
  readonly stats: StackStats;
  readonly interfaces: InterfaceTable;
  readonly output: Ipv4Output;
  /** Answer echo requests sent to a broadcast address. */
  echoBroadcast(): boolean;
  /** An echo reply arrived (the ping client matches it). */
  echoReply(ident: number, seq: number, arrival: Icmpv4Arrival, bytes: number): void;
  /** An error quoting an echo request of ours (the ping client matches it). */
  echoError(err: Icmpv4Error): void;
  /** An error quoting a datagram of `protocol`; false when no transport takes it. */
  transportError(err: Icmpv4Error): boolean;
}

/** RFC 791 timestamp: milliseconds since midnight UT (of the stack's clock, microseconds). */
function timestampMs(now: number): number {
  return Math.floor(now / 1000) % 86_400_000;
}

/** The kind name for an ICMP error type/code (what transports are told). */
export function icmpErrorKind(type: number, code: number): IcmpErrorKind | undefined {
  if (type === ICMPV4_TIME_EXCEEDED) return 'time-exceeded';
  if (type !== ICMPV4_DEST_UNREACHABLE) return undefined;
  switch (code) {
    case ICMPV4_UNREACH_NET:
    case 6: // network unknown
    case 9: // network administratively prohibited
    case 11: // network unreachable for TOS
      return 'net-unreachable';
    case ICMPV4_UNREACH_HOST:
    case 7: // host unknown
    case 10: // host administratively prohibited
    case 12: // host unreachable for TOS
      return 'host-unreachable';
    case ICMPV4_UNREACH_PROTOCOL:
      return 'proto-unreachable';
    case ICMPV4_UNREACH_PORT:
      return 'port-unreachable';
    case ICMPV4_UNREACH_FRAG_NEEDED:
      return 'frag-needed';
    default:
      return 'unreachable';
  }
}

/**
 * The header of a datagram an ICMP error may quote: a valid IPv4 header (version, IHL, Total
 * Length not below it) with its first 8 data bytes present (RFC 792) or the whole datagram.
 * Unlike Ipv4View.check, the buffer may end before Total Length (a cut quote).
 */
function quotableHeader(offending: Uint8Array): Ipv4View | undefined {
  if (offending.length < IPV4_MIN_HEADER_LEN) return undefined;
  const v = new Ipv4View(offending);
  const hl = v.headerLength;
  if (v.version !== 4 || hl < IPV4_MIN_HEADER_LEN || v.totalLength < hl) return undefined;
  if (offending.length < Math.min(v.totalLength, hl + 8)) return undefined;
  return v;
}

export class Icmpv4 {
  readonly #env: Icmpv4Env;
  readonly #bucket: TokenBucket;
  /** Offered every unicast echo request before the stack answers it (icmp.ts EchoRequest). */
  onEchoRequest: EchoRequestHook | undefined = undefined;

  constructor(env: Icmpv4Env, rateConfig?: Partial<IcmpRateConfig>) {
    this.#env = env;
    const rate = { ...DEFAULT_ICMP_RATE, ...rateConfig };
    this.#bucket = new TokenBucket(rate.ratePerSecond, rate.burst, env.clock.now());
  }

  /**
   * Sends an ICMP error about `offending` (a whole IP datagram, or its header and at least
   * its first 8 data bytes: a quote may be shorter than its Total Length says). `meta`
   * describes how it arrived (undefined: it was ours or is being dropped on output).
   * Applies RFC 1122 §3.2.2 suppression rules and the RFC 1812 §4.3.2.8 rate limit.
   * `nextHopMtu`: for fragmentation needed; `pointer`: for parameter problem, the offset of
   * the bad octet. Returns whether it was sent.
   */
  sendError(
    offending: Uint8Array,
    meta: ArrivalMeta | undefined,
    type: number,
    code: number,
    nextHopMtu = 0,
    pointer = 0,
  ): boolean {
    const env = this.#env;
    const icmp = env.stats.icmp;
    const v = quotableHeader(offending);
    if (v === undefined) return false;
    const hl = v.headerLength;
    const why = icmpErrorSuppressed({
      src: v.src,
      dst: v.dst,
      protocol: v.protocol,
      fragmentOffset: v.fragmentOffset,
      firstPayloadByte: offending.length > hl ? offending[hl] : undefined,
      linkBroadcast: meta?.linkBroadcast ?? false,
      ipBroadcast: meta?.broadcast ?? env.interfaces.isBroadcastAddress(v.dst),
    });
    if (why !== undefined) {
      icmp.suppressed++;
      return false;
    }
    if (!this.#bucket.take(env.clock.now())) {
      icmp.rateLimited++;
      return false;
    }
    // RFC 1812 §4.3.2.3: quote as much of the original as fits in 576 bytes.
    const quote = offending.subarray(
      0,
      Math.min(v.totalLength, offending.length, ICMP_ERROR_MAX_LEN - 20 - 8),
    );
    const repr: Icmpv4Repr =
      type === ICMPV4_DEST_UNREACHABLE
        ? { kind: 'destUnreachable', code, nextHopMtu, invoking: quote }
        : type === ICMPV4_PARAMETER_PROBLEM
          ? { kind: 'parameterProblem', code, pointer, invoking: quote }
          : { kind: 'timeExceeded', code, invoking: quote };
    // Source: the address the offending datagram was sent to if it is ours (so the
    // sender sees the answer come from where it sent), else the outgoing interface's.
    const src = env.interfaces.isLocalAddress(v.dst) ? v.dst : 0;
    const route = env.output.route(v.src, src);
    if (typeof route === 'string') return false;
    const body = new Uint8Array(icmpv4Length(repr));
    emitIcmpv4(repr, body);
    icmp.outMessages++;
    if (type === ICMPV4_DEST_UNREACHABLE) icmp.outDestUnreachable++;
    else if (type === ICMPV4_TIME_EXCEEDED) icmp.outTimeExceeded++;
    else if (type === ICMPV4_PARAMETER_PROBLEM) icmp.outParamProblems++;
    env.output.send(route, { protocol: IP_PROTO_ICMP }, body);
    return true;
  }

  /**
   * Sends an echo reply from `from` (any address: a gateway answers for the host it
   * pinged) to `to` with hop count `ttl`; false when there is no route.
   */
  sendEchoReply(
    from: Ipv4Address,
    to: Ipv4Address,
    ident: number,
    seq: number,
    data: Uint8Array,
    ttl?: number,
  ): boolean {
    const env = this.#env;
    const route = env.output.route(to, from);
    if (typeof route === 'string') return false;
    const reply: Icmpv4Repr = { kind: 'echoReply', ident, seq, data };
    const body = new Uint8Array(icmpv4Length(reply));
    emitIcmpv4(reply, body);
    env.stats.icmp.outMessages++;
    env.stats.icmp.outEchoReplies++;
    return (
      env.output.send(route, { protocol: IP_PROTO_ICMP, ...(ttl !== undefined ? { ttl } : {}) }, body) ===
      undefined
    );
  }

  /** An ICMP message addressed to us. */
  input(info: Icmpv4Arrival, payload: Uint8Array): void {
    const env = this.#env;
    const icmp = env.stats.icmp;
    icmp.inMessages++;
    const p = parseIcmpv4(payload);
    if (isWireError(p)) {
      if (p.wireError === 'checksum') icmp.badChecksum++;
      else icmp.malformed++;
      return;
    }
    const m = p.repr;
    switch (m.kind) {
      case 'echoRequest': {
        icmp.inEchoRequests++;
        if (info.broadcast && !env.echoBroadcast()) {
          icmp.suppressed++;
          return;
        }
        if (
          !info.broadcast &&
          this.onEchoRequest?.({
            iface: info.iface,
            src: { family: 4, v4: info.src },
            dst: { family: 4, v4: info.dst },
            ident: m.ident,
            seq: m.seq,
            data: m.data.slice(),
            ttl: info.ttl,
          })
        )
          return;
        // RFC 1122 §3.2.2.6: the reply carries the request's identifier, sequence and data.
        const route = env.output.route(info.src, info.broadcast ? 0 : info.dst);
        if (typeof route === 'string') return;
        const reply: Icmpv4Repr = { kind: 'echoReply', ident: m.ident, seq: m.seq, data: m.data };
        const body = new Uint8Array(icmpv4Length(reply));
        emitIcmpv4(reply, body);
        icmp.outMessages++;
        icmp.outEchoReplies++;
        // RFC 1122 §3.2.2.6: and its Record Route and Timestamp options, with this host added.
        const options = info.options?.length
          ? echoReplyOptions(
              info.options,
              info.broadcast ? route.src : info.dst,
              route.src,
              timestampMs(env.clock.now()),
              (a) => env.interfaces.isLocalAddress(a),
            )
          : undefined;
        env.output.send(route, { protocol: IP_PROTO_ICMP }, body, options);
        return;
      }
      case 'echoReply': {
        icmp.inEchoReplies++;
        env.echoReply(m.ident, m.seq, info, payload.length);
        return;
      }
      case 'destUnreachable':
      case 'timeExceeded': {
        icmp.inErrors++;
        if (m.kind === 'destUnreachable') icmp.inDestUnreachable++;
        else icmp.inTimeExceeded++;
        const inv = parseIcmpv4Invoking(m.invoking);
        if (isWireError(inv)) {
          icmp.malformed++;
          return;
        }
        const kind = icmpErrorKind(
          m.kind === 'destUnreachable' ? ICMPV4_DEST_UNREACHABLE : ICMPV4_TIME_EXCEEDED,
          m.code,
        );
        // Only errors about datagrams we sent matter (RFC 1122 §3.2.2: passed to the transport).
        if (kind === undefined || !env.interfaces.isLocalAddress(inv.src)) {
          icmp.unmatchedErrors++;
          return;
        }
        const err: Icmpv4Error = {
          kind,
          type: m.kind === 'destUnreachable' ? ICMPV4_DEST_UNREACHABLE : ICMPV4_TIME_EXCEEDED,
          code: m.code,
          from: info.src,
          quoted: inv,
          ...(kind === 'frag-needed' ? { nextHopMtu: m.kind === 'destUnreachable' ? m.nextHopMtu : 0 } : {}),
        };
        // RFC 5927 §4.1: a "fragmentation needed" is not acted on here. The transport checks
        // that the quoted datagram is one it has in flight (TCP: the sequence number) and then
        // tells the network layer (NetworkLayer.learnPathMtu), as Linux does: icmp_unreach
        // hands the MTU to the protocol's err_handler, which updates the route.
        if (inv.protocol === IP_PROTO_ICMP) {
          env.echoError(err);
          return;
        }
        if (!env.transportError(err)) icmp.unmatchedErrors++;
        return;
      }
      default:
        // Redirects, parameter problems and other types: counted, not acted on.
        return;
    }
  }
}
