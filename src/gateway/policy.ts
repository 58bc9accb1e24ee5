/**
 * Which destinations a guest may reach through the gateway: an allow list and a deny list
 * of CIDR prefixes. Deny wins; an empty allow list allows everything not denied. The
 * default denies the link-local block 169.254.0.0/16 (RFC 3927), where cloud metadata
 * services (169.254.169.254) and the host's own link-local addresses live.
 */
import { type Ipv4Address, parseIpv4, prefixMask } from '../wire/address.ts';

export interface Cidr {
  readonly address: Ipv4Address;
  readonly prefix: number;
}

export const DEFAULT_DENY: readonly string[] = ['169.254.0.0/16'];

/** '10.0.0.0/8' or a bare address (/32); undefined when malformed. */
export function parseCidrText(text: string): Cidr | undefined {
  const [a, p, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const address = parseIpv4(a ?? '');
  const prefix = p === undefined ? 32 : Number(p);
  if (
    address === undefined ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > 32 ||
    (p !== undefined && !/^\d+$/.test(p))
  )
    return undefined;
  return { address: (address & prefixMask(prefix)) >>> 0, prefix };
}

function contains(c: Cidr, a: Ipv4Address): boolean {
  return (a & prefixMask(c.prefix)) >>> 0 === c.address;
}

export class DestinationPolicy {
  readonly allow: readonly Cidr[];
  readonly deny: readonly Cidr[];

  /** Throws an Error with code EINVAL for a malformed prefix. */
  constructor(opts: { allow?: readonly string[]; deny?: readonly string[] } = {}) {
    const parse = (list: readonly string[]): Cidr[] =>
      list.map((t) => {
        const c = parseCidrText(t);
        if (!c) throw Object.assign(new Error(`EINVAL: bad address prefix '${t}'`), { code: 'EINVAL' });
        return c;
      });
    this.allow = parse(opts.allow ?? []);
    this.deny = parse(opts.deny ?? DEFAULT_DENY);
  }

  /** Whether the guest may reach `a` (the destination before any rewriting). */
  permits(a: Ipv4Address): boolean {
    if (this.deny.some((c) => contains(c, a))) return false;
    return this.allow.length === 0 || this.allow.some((c) => contains(c, a));
  }
}
