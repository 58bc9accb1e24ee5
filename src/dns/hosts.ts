/**
 * A hosts table (/etc/hosts semantics): names map to addresses, case-insensitive,
 * consulted before DNS. The default one knows `localhost` → 127.0.0.1 and ::1.
 */
import type { ResolvedAddress } from '../socket/backend.ts';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.ts';

function norm(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

export class HostsTable {
  #map = new Map<string, ResolvedAddress[]>();

  /** A table with localhost (and ip6-localhost/ip6-loopback) in it. */
  static withDefaults(): HostsTable {
    const t = new HostsTable();
    t.add('localhost', '127.0.0.1');
    t.add('localhost', '::1');
    t.add('ip6-localhost', '::1');
    t.add('ip6-loopback', '::1');
    return t;
  }

  /** Parses /etc/hosts text: `address name [aliases...]`, `#` comments. Bad lines are skipped. */
  static parse(text: string): HostsTable {
    const t = new HostsTable();
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const [addr, ...names] = line.split(/\s+/);
      for (const n of names) {
        try {
          t.add(n, addr);
        } catch {
          // skip malformed entries, as resolvers do
        }
      }
    }
    return t;
  }

  /** Adds `address` (IPv4 or IPv6 text) for `name`. Throws RangeError for a non-address. */
  add(name: string, address: string): void {
    const v4 = parseIpv4(address);
    const v6 = v4 === undefined ? parseIpv6(address) : undefined;
    if (v4 === undefined && v6 === undefined) throw new RangeError(`not an IP address: ${address}`);
    const entry: ResolvedAddress =
      v4 !== undefined ? { family: 2, host: formatIpv4(v4) } : { family: 10, host: formatIpv6(v6!) };
    const key = norm(name);
    const list = this.#map.get(key) ?? [];
    if (!list.some((a) => a.host === entry.host)) list.push(entry);
    this.#map.set(key, list);
  }

  /** Addresses of `name` for `family` (0 = both), or undefined when the table has no such name. */
  lookup(name: string, family: 0 | 2 | 10 = 0): ResolvedAddress[] | undefined {
    const list = this.#map.get(norm(name));
    if (!list) return undefined;
    return list.filter((a) => family === 0 || a.family === family);
  }
}
