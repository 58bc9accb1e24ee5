/**
 * getaddrinfo / gethostbyname over a backend's resolver, with Python's shapes:
 * getaddrinfo returns `[family, type, proto, canonname, sockaddr]` entries.
 */
import { type AddressTuple, numericHost, resolveHost } from './address.ts';
import type { ResolvedAddress, SocketBackend } from './backend.ts';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SOCK_DGRAM,
  SOCK_STREAM,
} from './constants.ts';
import { GaiError, SocketError } from './errno.ts';

export type AddrInfo = [
  family: number,
  type: number,
  proto: number,
  canonname: string,
  sockaddr: AddressTuple,
];

/** Well-known service names accepted as ports (a small /etc/services). */
const SERVICES: Record<string, number> = {
  echo: 7,
  discard: 9,
  daytime: 13,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  http: 80,
  pop3: 110,
  ntp: 123,
  imap: 143,
  https: 443,
};

function toPort(port: number | string | null): number {
  if (port === null) return 0;
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SocketError('EINVAL', { syscall: 'getaddrinfo', detail: 'port must be 0-65535' });
    return port;
  }
  if (/^\d+$/.test(port)) return toPort(Number(port));
  const p = SERVICES[port];
  if (p === undefined) throw new GaiError('EAI_SERVICE', port);
  return p;
}

export async function getaddrinfo(
  backend: SocketBackend,
  host: string | null,
  port: number | string | null,
  family = AF_UNSPEC,
  type = 0,
): Promise<AddrInfo[]> {
  if (family !== AF_UNSPEC && family !== AF_INET && family !== AF_INET6) throw new GaiError('EAI_FAMILY');
  if (type !== 0 && type !== SOCK_STREAM && type !== SOCK_DGRAM) throw new GaiError('EAI_SOCKTYPE');
  const p = toPort(port);
  let addrs: ResolvedAddress[];
  // '' is no name to getaddrinfo(3) (EAI_NONAME, as Python shows on Linux); only null means "no host".
  if (host === '') throw new GaiError('EAI_NONAME', host);
  if (host === null) {
    // No host: the loopback address (AI_PASSIVE is not modelled).
    addrs = [
      { family: AF_INET6, host: '::1' },
      { family: AF_INET, host: '127.0.0.1' },
    ];
  } else {
    const v4 = numericHost(host, AF_INET);
    const v6 = v4 === undefined ? numericHost(host.split('%')[0], AF_INET6) : undefined;
    if (v4 !== undefined) addrs = [{ family: AF_INET, host: v4 }];
    else if (v6 !== undefined) addrs = [{ family: AF_INET6, host: v6 }];
    else addrs = await backend.resolve(host, family as 0 | 2 | 10);
  }
  addrs = addrs.filter((a) => family === AF_UNSPEC || a.family === family);
  if (addrs.length === 0)
    throw new GaiError(
      host && numericHost(host, family === AF_INET ? AF_INET6 : AF_INET) ? 'EAI_ADDRFAMILY' : 'EAI_NONAME',
      host ?? undefined,
    );
  const types = type === 0 ? [SOCK_STREAM, SOCK_DGRAM] : [type];
  const out: AddrInfo[] = [];
  for (const a of addrs) {
    for (const t of types) {
      const proto = t === SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
      out.push([a.family, t, proto, '', a.family === AF_INET ? [a.host, p] : [a.host, p, 0, 0]]);
    }
  }
  return out;
}

/**
 * The first IPv4 address of `host`, as text (gethostbyname). Python's rules for socket
 * addresses apply: '' is 0.0.0.0 and '<broadcast>' 255.255.255.255.
 */
export async function gethostbyname(backend: SocketBackend, host: string): Promise<string> {
  return resolveHost(backend, host, AF_INET, 'gethostbyname');
}

/** This host's name on `backend` (gethostname(2)): the machine's on os, the Stack's name on stack. */
export function gethostname(backend: SocketBackend): string {
  return backend.gethostname();
}
