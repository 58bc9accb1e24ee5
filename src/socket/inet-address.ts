/**
 * IP socket addresses (`SockAddr`, AF_INET and AF_INET6) as the stack's `IpAddress`, and
 * back. The wildcard (0.0.0.0, ::) is `undefined`: every local address. On an AF_INET6
 * socket an IPv4-mapped address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) stands for the IPv4
 * address (traffic goes over IPv4), and IPv4 peers are shown mapped, as Linux does.
 * A link-local address carries its zone (RFC 4007 §6), sin6_scope_id: the interface index.
 */
import { formatIpv4, formatIpv6, type IpAddress, parseIpv4, parseIpv6 } from '../wire/address.ts';
import { isIpv6LinkLocal, isIpv6LinkScopeMulticast } from '../wire/ipv6-address.ts';
import type { SockAddr } from './backend.ts';
import { SocketError } from './errno.ts';

/** The host's zones for link-local addresses (its interfaces), as the socket layer checks them. */
export interface ScopeZones {
  /** Is there an interface with this index? */
  has(ifindex: number): boolean;
  /** The links IPv6 runs on (indexes of up, non-loopback interfaces). */
  links(): number[];
}

/** Does an address need a zone to mean one place (link-local unicast, link-scope multicast)? */
export function needsScope(a: Uint8Array): boolean {
  return isIpv6LinkLocal(a) || (isIpv6LinkScopeMulticast(a) && (a[1] & 0x0f) === 2);
}

export function sockAddrToIp(addr: SockAddr, v6only = false, zones?: ScopeZones): IpAddress | undefined {
  if (addr.family === 2) {
    const a = parseIpv4(addr.host);
    if (a === undefined) throw new SocketError('EINVAL', { detail: `bad IPv4 address ${addr.host}` });
    return a === 0 ? undefined : { family: 4, v4: a };
  }
  if (addr.family !== 10) throw new SocketError('EAFNOSUPPORT', { detail: 'not an IP address family' });
  const a = parseIpv6(addr.host);
  if (a === undefined) throw new SocketError('EINVAL', { detail: `bad IPv6 address ${addr.host}` });
  let mapped = a[10] === 0xff && a[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (a[i] !== 0) mapped = false;
  if (mapped) {
    // Linux: an IPV6_V6ONLY socket cannot use IPv4-mapped addresses (ENETUNREACH on connect).
    if (v6only)
      throw new SocketError('ENETUNREACH', {
        detail: `${addr.host} is IPv4-mapped on an IPV6_V6ONLY socket`,
      });
    const v4 = ((a[12] << 24) | (a[13] << 16) | (a[14] << 8) | a[15]) >>> 0;
    return v4 === 0 ? undefined : { family: 4, v4 };
  }
  if (a.every((b) => b === 0)) return undefined;
  if (zones === undefined || !needsScope(a)) return { family: 6, v6: a };
  // Linux ignores sin6_scope_id on an address of wider scope; a link-local one names its link.
  const scope = addr.scopeid;
  if (scope !== 0) {
    // Linux inet6_bind / ip6_datagram_connect: an index with no interface is ENODEV.
    if (!zones.has(scope)) throw new SocketError('ENODEV', { detail: `no interface with index ${scope}` });
    return { family: 6, v6: a, scope };
  }
  const links = zones.links();
  // Linux (tcp_v6_connect, inet6_bind): "Connect to link-local address requires an
  // interface" (EINVAL) when several links could hold it.
  // Deviation: with one link we take it as the zone (Linux asks for it even then), so a
  // single-homed host reaches fe80:: peers as ping and browsers' users expect.
  if (links.length !== 1)
    throw new SocketError('EINVAL', {
      detail: `link-local ${addr.host} needs a scope id (interface index) on a host with ${links.length} links`,
    });
  return { family: 6, v6: a, scope: links[0] };
}

export function ipToSockAddr(a: IpAddress | undefined, port: number, family: 2 | 10 = 2): SockAddr {
  if (family === 2)
    return { family: 2, host: a !== undefined && a.family === 4 ? formatIpv4(a.v4) : '0.0.0.0', port };
  const host = a === undefined ? '::' : a.family === 4 ? `::ffff:${formatIpv4(a.v4)}` : formatIpv6(a.v6);
  const scopeid = a !== undefined && a.family === 6 ? (a.scope ?? 0) : 0;
  return { family: 10, host, port, flowinfo: 0, scopeid };
}
