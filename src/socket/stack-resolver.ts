/**
 * Name resolution for the stack backend (`stack.backend.resolve`, hence
 * getaddrinfo/gethostbyname/create_connection on a `Stack`):
 *
 *   1. the stack's hosts tables: `stack.hosts` (IPv4 by name) and `stack.resolver.hosts`
 *      (an /etc/hosts of both families; localhost is 127.0.0.1 and ::1);
 *   2. DNS: a `StubResolver` (src/dns/resolver.ts) over the stack's own UDP sockets,
 *      asking the configured nameservers in order, with per-try timeouts and retries
 *      counted in the stack's clock (virtual time under a Simulation);
 *   3. nothing configured and not in hosts: EAI_NONAME.
 *
 *
 * An AF_UNSPEC lookup asks A and AAAA (as glibc); the answers are ordered by RFC 6724
 * (src/dns/order.ts) against the source addresses this stack's routes would use. A
 * nameserver may be an IPv6 address: its queries go over IPv6.
 *
 *   const stack = new Stack({ clock, rng, nameservers: ['10.0.2.53'] });
 *   stack.setNameservers(['10.0.2.53', '[fd00::53]:5353', 'fd00::35'], { timeoutMs: 1000 });
 */
import { HostsTable } from '../dns/hosts.ts';
import { sortDestinations } from '../dns/order.ts';
import { type DnsServer, type DnsTransport, StubResolver } from '../dns/resolver.ts';
import type { Rng } from '../rand/rng.ts';
import {
  formatIp,
  formatIpv4,
  formatIpv6,
  type IpAddress,
  type Ipv4Address,
  parseIp,
  parseIpv4,
  parseIpv6,
} from '../wire/address.ts';
import type { ResolvedAddress, SocketBackend } from './backend.ts';
import { AF_INET, AF_INET6, SOCK_DGRAM } from './constants.ts';
import { GaiError } from './errno.ts';
import { Socket } from './socket.ts';

/** The DNS port (RFC 1035 §4.2.1). */
export const DNS_PORT = 53;

export interface NameserverOptions {
  /** Per-try timeout in ms of the stack's clock (default 2000). */
  timeoutMs?: number;
  /** Tries per server (default 2, resolv.conf's attempts:2). */
  attempts?: number;
}

/** What the resolver needs of a Stack. */
export interface StackResolverHost {
  /** Host names → addresses (an IPv4 address as a number, or an IpAddress of either family). */
  readonly hosts: ReadonlyMap<string, Ipv4Address | IpAddress>;
  readonly rng: Rng;
  readonly backend: SocketBackend;
  /** The source address the host would use towards `dst` (undefined: no route). For RFC 6724 ordering. */
  sourceFor?(dst: IpAddress): IpAddress | undefined;
}

/**
 * '10.0.2.53', '10.0.2.53:5353', 'fd00::53' or '[fd00::53]:5353' → [address, port].
 * Throws TypeError for anything else.
 */
export function parseNameserver(text: string): DnsServer {
  const t = text.trim();
  const m4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(t);
  const m6 = m4
    ? null
    : (/^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(t) ?? /^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)()$/.exec(t));
  const v4 = m4 ? parseIpv4(m4[1]) : undefined;
  const v6 = m6 ? parseIpv6(m6[1]) : undefined;
  const portText = (m4 ?? m6)?.[2];
  const port = portText === undefined || portText === '' ? DNS_PORT : Number(portText);
  if ((v4 === undefined && v6 === undefined) || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new TypeError(`bad nameserver '${text}' (want an IPv4 or IPv6 address, optionally with a port)`);
  return [v4 !== undefined ? formatIpv4(v4) : formatIpv6(v6!), port];
}

export class StackResolver {
  readonly #host: StackResolverHost;
  /** Names of both families (an /etc/hosts), asked after `stack.hosts`: localhost is 127.0.0.1 and ::1. */
  readonly hosts: HostsTable = HostsTable.withDefaults();
  #servers: DnsServer[] = [];
  #stub: StubResolver | undefined;

  constructor(host: StackResolverHost, nameservers: readonly string[] = [], options: NameserverOptions = {}) {
    this.#host = host;
    this.setNameservers(nameservers, options);
  }

  /** The configured servers as 'address:port' text. */
  get nameservers(): string[] {
    return this.#servers.map(([h, p]) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`));
  }

  /** The stub resolver in use (its `stats`: queries, ignored replies, timeouts), if any server is set. */
  get stub(): StubResolver | undefined {
    return this.#stub;
  }

  /** Replaces the server list (empty: DNS off, only the hosts table answers). */
  setNameservers(nameservers: readonly string[], options: NameserverOptions = {}): void {
    const servers = nameservers.map(parseNameserver);
    this.#servers = servers;
    if (servers.length === 0) {
      this.#stub = undefined;
      return;
    }
    const host = this.#host;
    this.#stub = new StubResolver({
      servers,
      // One fresh UDP socket (fresh ephemeral port) per lookup, on this stack, of the
      // server's family (DNS over IPv6 to an IPv6 server).
      open: (server): DnsTransport =>
        new Socket(host.backend, server[0].includes(':') ? AF_INET6 : AF_INET, SOCK_DGRAM),
      scheduler: host.backend.scheduler,
      rng: host.rng,
      // The stack's own hosts table was consulted already.
      hosts: new HostsTable(),
      // (StubResolver spreads its options over the defaults: leave unset ones out.)
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
    });
  }

  /** `SocketBackend.resolve` for the stack: hosts tables, then DNS; ordered by RFC 6724. */
  async resolve(name: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> {
    return this.#order(await this.#lookup(name, family));
  }

  async #lookup(name: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> {
    const key = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
    const found: ResolvedAddress[] = [];
    const entry = this.#host.hosts.get(key);
    if (entry !== undefined) {
      const a: IpAddress = typeof entry === 'number' ? { family: 4, v4: entry } : entry;
      found.push({ family: a.family === 4 ? 2 : 10, host: formatIp(a) });
    }
    for (const a of this.hosts.lookup(key) ?? []) if (!found.some((f) => f.host === a.host)) found.push(a);
    if (found.length > 0) {
      const want = found.filter((a) => family === 0 || a.family === family);
      // glibc (files): the name is known, not with an address of that family.
      if (want.length === 0) throw new GaiError('EAI_NONAME', name);
      return want;
    }
    const stub = this.#stub;
    if (stub === undefined) throw new GaiError('EAI_NONAME', name);
    return stub.resolve(name, family);
  }

  /** RFC 6724 §6 destination ordering against this host's routes (unchanged without them). */
  #order(addrs: ResolvedAddress[]): ResolvedAddress[] {
    const sourceFor = this.#host.sourceFor?.bind(this.#host);
    if (sourceFor === undefined || addrs.length < 2) return addrs;
    return sortDestinations(
      addrs,
      (a) => parseIp(a.host) ?? { family: 4, v4: 0 },
      (d) => sourceFor(d),
    );
  }
}
