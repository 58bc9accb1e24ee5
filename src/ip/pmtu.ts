/**
 * Path MTUs learnt from ICMP "fragmentation needed" (RFC 1191 §6.3): per destination,
 * bounded (the oldest entry goes first), each entry expiring after PMTU_EXPIRY. Entries
 * are made only when a transport has validated the message (RFC 5927 §4.1; see
 * NetworkLayer.learnPathMtu), never by the ICMP input path on its own.
 */
import type { Instant } from '../time/instant.ts';
import type { Ipv4Address } from '../wire/address.ts';
import { PMTU_EXPIRY } from './icmp.ts';

const MAX_ENTRIES = 1024;

/**
 * The smallest path MTU a "fragmentation needed" may set (Linux net.ipv4.route.min_pmtu,
 * 512 + 20 + 20): a smaller (or missing, 0) next-hop MTU is taken as this, so one message
 * cannot shrink segments below 512 bytes of data (RFC 5927 §4.1's concern, the class of
 * CVE-2004-0790's MTU attack).
 */
export const MIN_PMTU = 552;

export class PmtuCache {
  readonly #entries = new Map<Ipv4Address, { mtu: number; expires: Instant }>();

  /** The learnt path MTU to `dst` at `now`, if one is known and fresh. */
  get(dst: Ipv4Address, now: Instant): number | undefined {
    const p = this.#entries.get(dst);
    return p && p.expires > now ? p.mtu : undefined;
  }

  /** RFC 1191 §6.3: record a smaller path MTU for a destination. */
  learn(dst: Ipv4Address, mtu: number, now: Instant): void {
    // Clamped at MIN_PMTU (Linux __ip_rt_update_pmtu); this also covers a router that
    // does not fill the field (0, RFC 1191 §5).
    const value = Math.max(mtu, MIN_PMTU);
    if (this.#entries.size >= MAX_ENTRIES && !this.#entries.has(dst)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(dst, { mtu: value, expires: now + PMTU_EXPIRY });
  }
}
