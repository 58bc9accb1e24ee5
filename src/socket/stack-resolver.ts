/**
 * Name resolution for the stack backend (`stack.backend.resolve`, hence
 * getaddrinfo/gethostbyname/create_connection on a `Stack`):
 *
 *   1. the stack's hosts table (`stack.hosts`, an /etc/hosts; 'localhost' is built in);
 *   2. DNS: a `StubResolver` (src/dns/resolver.ts) over the stack's own UDP sockets,
 *      asking the configured nameservers in order, with per-try timeouts and retries
 *      counted in the stack's clock (virtual time under a Simulation);
 *   3. nothing configured and not in hosts: EAI_NONAME.
 *
 *   const stack = new Stack({ clock, rng, nameservers: ['10.0.2.53'] });
 *   stack.setNameservers(['10.0.2.53', '10.0.3.53:5353'], { timeoutMs: 1000, attempts: 3 });
 *
 * Deviation: the stack has no IPv6 yet, so an AF_UNSPEC lookup asks for A records
 * only (glibc would also ask AAAA); an explicit AF_INET6 lookup still asks AAAA.
 */
import { HostsTable } from '../dns/hosts.ts';
import { type DnsServer, type DnsTransport, StubResolver } from '../dns/resolver.ts';
import type { Rng } from '../rand/rng.ts';
import { formatIp, formatIpv4, type IpAddress, type Ipv4Address, parseIpv4 } from '../wire/address.ts';
import type { ResolvedAddress, SocketBackend } from './backend.ts';
import { AF_INET, SOCK_DGRAM } from './constants.ts';
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
}

/** '10.0.2.53' or '10.0.2.53:5353' → ['10.0.2.53', port]. Throws TypeError for anything else. */
export function parseNameserver(text: string): DnsServer {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(text.trim());
  const addr = m ? parseIpv4(m[1]) : undefined;
  const port = m?.[2] === undefined ? DNS_PORT : Number(m[2]);
  if (!m || addr === undefined || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new TypeError(`bad nameserver '${text}' (want an IPv4 address, optionally :port)`);
  return [formatIpv4(addr), port];
}

export class StackResolver {
  readonly #host: StackResolverHost;
  #servers: DnsServer[] = [];
  #stub: StubResolver | undefined;

  constructor(host: StackResolverHost, nameservers: readonly string[] = [], options: NameserverOptions = {}) {
    this.#host = host;
    this.setNameservers(nameservers, options);
  }

  /** The configured servers as 'address:port' text. */
  get nameservers(): string[] {
    return this.#servers.map(([h, p]) => `${h}:${p}`);
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
      // One fresh UDP socket (fresh ephemeral port) per lookup, on this stack.
      open: (): DnsTransport => new Socket(host.backend, AF_INET, SOCK_DGRAM),
      scheduler: host.backend.scheduler,
      rng: host.rng,
      // The stack's own hosts table was consulted already.
      hosts: new HostsTable(),
      // (StubResolver spreads its options over the defaults: leave unset ones out.)
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
    });
  }

  /** `SocketBackend.resolve` for the stack: hosts table, then DNS. */
  async resolve(name: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> {
    const key = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
    const entry = this.#host.hosts.get(key);
    if (entry !== undefined) {
      const a: IpAddress = typeof entry === 'number' ? { family: 4, v4: entry } : entry;
      const af = a.family === 4 ? 2 : 10;
      if (family !== 0 && family !== af) throw new GaiError('EAI_NONAME', name);
      return [{ family: af, host: formatIp(a) }];
    }
    const stub = this.#stub;
    if (stub === undefined) throw new GaiError('EAI_NONAME', name);
    return stub.resolve(name, family === 0 ? 2 : family);
  }
}
