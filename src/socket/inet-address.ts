/**
 * IPv4 socket addresses (`SockAddr`, AF_INET) as the stack's `IpAddress`, and back.
 * The wildcard (0.0.0.0) is `undefined`: every local address.
 */
import { formatIpv4, type IpAddress, parseIpv4 } from '../wire/address.ts';
import type { SockAddr } from './backend.ts';
import { SocketError } from './errno.ts';

export function sockAddrToIp(addr: SockAddr): IpAddress | undefined {
  if (addr.family !== 2) throw new SocketError('EAFNOSUPPORT', { detail: 'the stack has IPv4 sockets only' });
  const a = parseIpv4(addr.host);
  if (a === undefined) throw new SocketError('EINVAL', { detail: `bad IPv4 address ${addr.host}` });
  return a === 0 ? undefined : { family: 4, v4: a };
}

export function ipToSockAddr(a: IpAddress | undefined, port: number): SockAddr {
  return { family: 2, host: a !== undefined && a.family === 4 ? formatIpv4(a.v4) : '0.0.0.0', port };
}
