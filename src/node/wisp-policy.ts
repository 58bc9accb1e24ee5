/**
 * Where a Wisp relay (wisp-server.ts) lets clients connect: an allow-list of
 * `HOST:PORT` rules, checked against the name the client asked for and against every
 * address it resolved to (so a name cannot smuggle a forbidden address in).
 *
 * Rules: HOST is `*`, an IPv4 or IPv6 address (`[::1]` with a port), a CIDR prefix
 * (`10.0.0.0/8`, `[fd00::]/8`) or a host name (matched against the name requested,
 * case-insensitively; `*.example.com` matches its subdomains); PORT is `*`, a number
 * or a range `LO-HI`.
 *
 * With no rules, the default: every destination except those a relay must never
 * reach on a client's behalf: link-local addresses (169.254.0.0/16, where cloud
 * metadata services answer, and fe80::/10), the AWS IPv6 metadata address
 * fd00:ec2::254, the unspecified and "this network" addresses (0.0.0.0/8, ::), multicast
 * and broadcast. Loopback and private ranges are allowed by default (a relay on a
 * developer's machine is for reaching local servers); pass rules to narrow it.
 */
import { BlockList, isIP } from 'node:net';

export interface WispRule {
  /** The rule's text, for messages. */
  readonly text: string;
  matchesHost(name: string, address: string): boolean;
  matchesPort(port: number): boolean;
}

function badRule(text: string, why: string): Error {
  return Object.assign(new Error(`wisp allow rule '${text}': ${why}`), { code: 'ERR_INVALID_ARG_VALUE' });
}

function parsePorts(text: string, spec: string): (p: number) => boolean {
  if (spec === '*') return () => true;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(spec);
  if (!m) throw badRule(text, `port '${spec}' is not *, N or LO-HI`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || lo > hi) throw badRule(text, `ports ${spec} are not within 1-65535`);
  return (p) => p >= lo && p <= hi;
}

/** Parses one `HOST:PORT` rule; throws an Error with code ERR_INVALID_ARG_VALUE when it is not one. */
export function parseWispRule(text: string): WispRule {
  const m = /^(\[[^\]]+\](?:\/\d+)?|[^:[\]]+):([^:]+)$/.exec(text.trim());
  if (!m) throw badRule(text, 'expected HOST:PORT (IPv6 in brackets: [::1]:80)');
  const hostSpec = m[1]!.replace(/^\[([^\]]+)\]/, '$1');
  const ports = parsePorts(text, m[2]!);
  let matchesHost: (name: string, address: string) => boolean;
  const cidr = /^(.+)\/(\d{1,3})$/.exec(hostSpec);
  if (hostSpec === '*') matchesHost = () => true;
  else if (cidr) {
    const fam = isIP(cidr[1]!);
    const bits = Number(cidr[2]);
    if (fam === 0 || bits > (fam === 4 ? 32 : 128))
      throw badRule(text, `'${hostSpec}' is not an address prefix`);
    const list = new BlockList();
    list.addSubnet(cidr[1]!, bits, fam === 4 ? 'ipv4' : 'ipv6');
    matchesHost = (_name, address) =>
      isIP(address) !== 0 && list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  } else if (isIP(hostSpec) !== 0) {
    const list = new BlockList();
    list.addAddress(hostSpec, isIP(hostSpec) === 4 ? 'ipv4' : 'ipv6');
    matchesHost = (_name, address) =>
      isIP(address) !== 0 && list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  } else if (/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(hostSpec)) {
    const want = hostSpec.toLowerCase();
    matchesHost = want.startsWith('*.')
      ? (name) => name.toLowerCase().endsWith(want.slice(1))
      : (name) => name.toLowerCase().replace(/\.$/, '') === want;
  } else throw badRule(text, `'${hostSpec}' is not *, an address, a prefix or a host name`);
  return { text, matchesHost, matchesPort: ports };
}

const NEVER = new BlockList();
NEVER.addSubnet('0.0.0.0', 8, 'ipv4');
NEVER.addSubnet('169.254.0.0', 16, 'ipv4');
NEVER.addSubnet('224.0.0.0', 4, 'ipv4');
NEVER.addAddress('255.255.255.255', 'ipv4');
NEVER.addAddress('::', 'ipv6');
NEVER.addSubnet('fe80::', 10, 'ipv6');
NEVER.addSubnet('ff00::', 8, 'ipv6');
NEVER.addAddress('fd00:ec2::254', 'ipv6');
NEVER.addSubnet('::ffff:169.254.0.0', 112, 'ipv6');
NEVER.addSubnet('::ffff:0.0.0.0', 104, 'ipv6');

/** Whether the default policy (no rules) forbids `address`. */
export function defaultDenied(address: string): boolean {
  const fam = isIP(address);
  return fam === 0 || NEVER.check(address, fam === 4 ? 'ipv4' : 'ipv6');
}

/** A relay's destination policy. */
export class WispPolicy {
  readonly rules: readonly WispRule[];

  constructor(rules: readonly (string | WispRule)[] = []) {
    this.rules = rules.map((r) => (typeof r === 'string' ? parseWispRule(r) : r));
  }

  /**
   * Whether a stream to `name`:`port`, resolved to `address`, may be opened. With rules,
   * some rule must match both the name-or-address and the port; without, the default.
   */
  allows(name: string, address: string, port: number): boolean {
    if (this.rules.length === 0) return !defaultDenied(address);
    return this.rules.some((r) => r.matchesPort(port) && r.matchesHost(name, address));
  }

  /** One line for a log: the rules or the default. */
  describe(): string {
    return this.rules.length === 0
      ? 'any destination except link-local, metadata, unspecified, multicast and broadcast addresses'
      : `only ${this.rules.map((r) => r.text).join(', ')}`;
  }
}
