/**
 * Path MTUs learnt from ICMPv6 Packet Too Big (RFC 8201): per destination, bounded
 * (oldest first out), each entry expiring after 10 minutes (RFC 8201 §4 suggests
 * trying a larger MTU again after at least 5 minutes; Linux mtu_expires is 600 s).
 * A value below 1280 is taken as 1280 (RFC 8201 §4: "a node MUST NOT reduce its
 * estimate of the Path MTU below the IPv6 minimum link MTU").
 */
import type { Instant } from '../time/instant.ts';
import { IPV6_MIN_MTU } from '../wire/ipv6.ts';
import { ipv6Key } from '../wire/ipv6-address.ts';
import { PMTU_EXPIRY } from './icmp.ts';

const MAX_ENTRIES = 1024;

export class Ipv6PmtuCache {
  readonly #entries = new Map<string, { mtu: number; expires: Instant }>();

  get(dst: Uint8Array, now: Instant): number | undefined {
    const p = this.#entries.get(ipv6Key(dst));
    return p && p.expires > now ? p.mtu : undefined;
  }

  learn(dst: Uint8Array, mtu: number, now: Instant): void {
    const k = ipv6Key(dst);
    if (this.#entries.size >= MAX_ENTRIES && !this.#entries.has(k)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(k, { mtu: Math.max(mtu, IPV6_MIN_MTU), expires: now + PMTU_EXPIRY });
  }
}
