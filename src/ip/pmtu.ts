/**
 * Path MTUs learnt from ICMP "fragmentation needed" (RFC 1191 §6.3): per destination,
 * bounded (the oldest entry goes first), each entry expiring after PMTU_EXPIRY.
 */
import type { Instant } from '../time/instant.ts';
import type { Ipv4Address } from '../wire/address.ts';
import { PMTU_EXPIRY } from './icmp.ts';

const MAX_ENTRIES = 1024;

export class PmtuCache {
  readonly #entries = new Map<Ipv4Address, { mtu: number; expires: Instant }>();

  /** The learnt path MTU to `dst` at `now`, if one is known and fresh. */
  get(dst: Ipv4Address, now: Instant): number | undefined {
    const p = this.#entries.get(dst);
    return p && p.expires > now ? p.mtu : undefined;
  }

  /** RFC 1191 §6.3: record a smaller path MTU for a destination. */
  learn(dst: Ipv4Address, mtu: number, now: Instant): void {
    // RFC 1191 §5: a router that does not fill the field (0) gets the plateau below 576... we
    // keep it simple and fall back to the minimum every link must carry (RFC 791: 68).
    const value = mtu >= 68 ? mtu : 576;
    if (this.#entries.size >= MAX_ENTRIES && !this.#entries.has(dst)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(dst, { mtu: value, expires: now + PMTU_EXPIRY });
  }
}
