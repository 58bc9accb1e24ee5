/**
 * ICMP error policy: when an error may be sent (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7)
 * and how fast (RFC 1812 §4.3.2.8 rate limiting with a token bucket).
 */
import type { Instant } from '../time/instant.ts';
import { seconds } from '../time/instant.ts';
import { type IpAddress, type Ipv4Address, isIpv4Multicast } from '../wire/address.ts';
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_REDIRECT,
  ICMPV4_SOURCE_QUENCH,
  ICMPV4_TIME_EXCEEDED,
} from '../wire/icmpv4.ts';
import { IP_PROTO_ICMP } from '../wire/ipv4.ts';
import type { NetInterface } from './interface.ts';

/**
 * An echo request (ICMP or ICMPv6) unicast to this stack, offered to `onEchoRequest` before
 * the stack answers it: a user-mode gateway forwards it to the real destination instead
 * (src/gateway/ping-relay.ts) and sends the reply itself (`sendEchoReply`).
 */
export interface EchoRequest {
  readonly iface: NetInterface;
  readonly src: IpAddress;
  readonly dst: IpAddress;
  readonly ident: number;
  readonly seq: number;
  /** The request's data (a copy the taker may keep). */
  readonly data: Uint8Array;
  /** TTL / hop limit it arrived with. */
  readonly ttl: number;
}

/** Returns true when it took the request (the stack then does not answer). */
export type EchoRequestHook = (req: EchoRequest) => boolean;

export interface IcmpRateConfig {
  /** Errors allowed per second on average. Default 1000 (Linux icmp_msgs_per_sec). */
  ratePerSecond: number;
  /** Bucket depth: errors that may go out back to back. Default 50 (Linux icmp_msgs_burst). */
  burst: number;
}

export const DEFAULT_ICMP_RATE: IcmpRateConfig = { ratePerSecond: 1000, burst: 50 };

/**
 * A token bucket over virtual time. RFC 1812 §4.3.2.8: "The rate limiting parameters
 * SHOULD be settable ... a router MUST be able to limit the rate at which it generates
 * ICMP error messages." Tokens are kept in micro-tokens so integer time works exactly.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokensMicro: number;
  #last: Instant;
  constructor(ratePerSecond: number, burst: number, now: Instant) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokensMicro = burst * 1_000_000;
    this.#last = now;
  }
  /** Takes one token if available. */
  take(now: Instant): boolean {
    if (now > this.#last) {
      // rate tokens per second = rate micro-tokens per microsecond.
      this.#tokensMicro = Math.min(
        this.burst * 1_000_000,
        this.#tokensMicro + (now - this.#last) * this.ratePerSecond,
      );
      this.#last = now;
    }
    if (this.#tokensMicro < 1_000_000) return false;
    this.#tokensMicro -= 1_000_000;
    return true;
  }
  get tokens(): number {
    return Math.floor(this.#tokensMicro / 1_000_000);
  }
}

/** Is this ICMP type an error message (as opposed to a query)? RFC 1122 §3.2.2. */
export function isIcmpErrorType(type: number): boolean {
  return (
    type === ICMPV4_DEST_UNREACHABLE ||
    type === ICMPV4_SOURCE_QUENCH ||
    type === ICMPV4_REDIRECT ||
    type === ICMPV4_TIME_EXCEEDED ||
    type === ICMPV4_PARAMETER_PROBLEM
  );
}

/** What we know about the datagram that provoked an error. */
export interface OffendingDatagram {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly fragmentOffset: number;
  /** The first byte of the transport payload (the ICMP type for ICMP), if present. */
  readonly firstPayloadByte: number | undefined;
  /** The datagram arrived as a link-layer broadcast/multicast. */
  readonly linkBroadcast: boolean;
  /** Its destination was a broadcast address (limited or directed) of ours. */
  readonly ipBroadcast: boolean;
}

/**
 * RFC 1122 §3.2.2: "An ICMP error message MUST NOT be sent as the result of receiving:
 * an ICMP error message, or a datagram destined to an IP broadcast or IP multicast
 * address, or a datagram sent as a link-layer broadcast, or a non-initial fragment,
 * or a datagram whose source address does not define a single host -- e.g., a zero
 * address, a loopback address, a broadcast address, a multicast address, or a Class E
 * address." Returns the reason the error is suppressed, or undefined when allowed.
 */
export function icmpErrorSuppressed(d: OffendingDatagram): string | undefined {
  if (d.protocol === IP_PROTO_ICMP && d.fragmentOffset === 0) {
    if (d.firstPayloadByte === undefined || isIcmpErrorType(d.firstPayloadByte)) return 'about-icmp-error';
  }
  if (d.ipBroadcast || d.dst === 0xffffffff || isIpv4Multicast(d.dst)) return 'broadcast';
  if (d.linkBroadcast) return 'link-broadcast';
  if (d.fragmentOffset !== 0) return 'non-initial-fragment';
  const s = d.src;
  if (s === 0 || s === 0xffffffff || isIpv4Multicast(s) || s >>> 28 === 0xf) return 'bad-source';
  return undefined;
}

/** RFC 1812 §4.3.2.3 / RFC 1122: quote as much of the datagram as fits in 576 bytes. */
export const ICMP_ERROR_MAX_LEN = 576;

/** Default reachable time for path-MTU entries learnt from fragmentation-needed (RFC 1191 §6.3: 10 minutes). */
export const PMTU_EXPIRY = seconds(600);
