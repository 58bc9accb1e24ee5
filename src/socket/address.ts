/**
 * Address tuples as the course writes them, and their conversion to the resolved
 * `SockAddr` a backend sees.
 *
 * - AF_INET:  `['host', port]`
 * - AF_INET6: `['host', port]` or `['host', port, flowinfo, scopeid]`
 * - AF_UNIX:  `'/path/to/socket'`
 *
 * Hosts: '' is the any-address (INADDR_ANY / in6addr_any), '<broadcast>' is
 * 255.255.255.255 (both as in Python), numeric addresses pass through, names go to
 * the backend's resolver. As in Python, a badly shaped address or a port that is no
 * integer raises a TypeError (`ArgumentTypeError`), and a port outside 0..65535 an
 * `OverflowError` (a RangeError); the messages say what was given.
 */

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.ts';
import type { ResolvedAddress, SockAddr, SocketBackend } from './backend.ts';
import { AF_INET, AF_INET6, AF_UNIX } from './constants.ts';
import { ArgumentTypeError, describeValue, GaiError, OverflowError, SocketError } from './errno.ts';

export type Ipv4Tuple = readonly [host: string, port: number];
export type Ipv6Tuple =
  | readonly [host: string, port: number]
  | readonly [host: string, port: number, flowinfo: number, scopeid: number];
/** What callers pass: a tuple for IP families, a path for AF_UNIX. */
export type Address = Ipv4Tuple | Ipv6Tuple | string;
/** What the API returns (getsockname, accept, recvfrom). */
export type AddressTuple = [string, number] | [string, number, number, number] | string;

/** Longest AF_UNIX path (sun_path is 108 bytes including the terminator). */
export const UNIX_PATH_MAX = 107;

export function checkPort(port: unknown, syscall: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port))
    throw new ArgumentTypeError(syscall, `port must be an integer 0-65535, got ${describeValue(port)}`);
  if (port < 0 || port > 65535) throw new OverflowError(syscall, `port must be 0-65535, got ${port}`);
  return port;
}

/** Canonical numeric text for an IPv4/IPv6 literal of the given family, else undefined. */
export function numericHost(host: string, family: 2 | 10): string | undefined {
  if (family === AF_INET) {
    const v4 = parseIpv4(host);
    return v4 === undefined ? undefined : formatIpv4(v4);
  }
  if (!host.includes(':')) return undefined;
  const v6 = parseIpv6(host);
  return v6 === undefined ? undefined : formatIpv6(v6);
}

function otherFamilyLiteral(host: string, family: 2 | 10): boolean {
  return family === AF_INET
    ? host.includes(':') && parseIpv6(host) !== undefined
    : parseIpv4(host) !== undefined;
}

/** Resolves one host for one family: the first address, like Python's setipaddr. */
export async function resolveHost(
  backend: SocketBackend,
  host: string,
  family: 2 | 10,
  syscall: string,
): Promise<string> {
  if (typeof host !== 'string')
    throw new ArgumentTypeError(syscall, `host must be a string, got ${describeValue(host)}`);
  if (host === '') return family === AF_INET ? '0.0.0.0' : '::';
  if (host === '<broadcast>') {
    if (family === AF_INET) return '255.255.255.255';
    throw new GaiError('EAI_ADDRFAMILY', host);
  }
  const lit = numericHost(host, family);
  if (lit !== undefined) return lit;
  if (otherFamilyLiteral(host, family)) throw new GaiError('EAI_ADDRFAMILY', host);
  let found: ResolvedAddress[];
  try {
    found = await backend.resolve(host, family);
  } catch (e) {
    if (e instanceof GaiError) throw e;
    const code = (e as { code?: unknown })?.code;
    throw new GaiError(code === 'EAI_AGAIN' || code === 'ETIMEOUT' ? 'EAI_AGAIN' : 'EAI_NONAME', host);
  }
  const hit = found.find((a) => a.family === family);
  if (!hit) throw new GaiError(found.length ? 'EAI_ADDRFAMILY' : 'EAI_NONAME', host);
  return hit.host;
}

/** Validates an address for `family` and resolves its host. */
export async function toSockAddr(
  backend: SocketBackend,
  family: number,
  address: unknown,
  syscall: string,
): Promise<SockAddr> {
  if (family === AF_UNIX) {
    if (typeof address !== 'string')
      throw new ArgumentTypeError(
        syscall,
        `an AF_UNIX address is a path string, got ${describeValue(address)}`,
      );
    if (address.length === 0) throw new SocketError('EINVAL', { syscall, detail: 'empty AF_UNIX path' });
    if (new TextEncoder().encode(address).length > UNIX_PATH_MAX)
      throw new SocketError('EINVAL', {
        syscall,
        detail: `AF_UNIX path too long (max ${UNIX_PATH_MAX} bytes)`,
      });
    return { family: AF_UNIX, path: address };
  }
  const want =
    family === AF_INET6
      ? 'an [host, port] or [host, port, flowinfo, scopeid] array'
      : 'an [host, port] array';
  if (!Array.isArray(address))
    throw new ArgumentTypeError(syscall, `the address must be ${want}, got ${describeValue(address)}`);
  const n = address.length;
  if (family === AF_INET ? n !== 2 : n !== 2 && n !== 4)
    throw new ArgumentTypeError(syscall, `the address must be ${want}, got ${n} items`);
  const [host, portRaw] = address as unknown[];
  if (typeof host !== 'string')
    throw new ArgumentTypeError(syscall, `host must be a string, got ${describeValue(host)}`);
  const port = checkPort(portRaw, syscall);
  if (family === AF_INET) {
    return { family: AF_INET, host: await resolveHost(backend, host, AF_INET, syscall), port };
  }
  let flowinfo = 0;
  let scopeid = 0;
  if (n === 4) {
    flowinfo = address[2] as number;
    scopeid = address[3] as number;
    if (!Number.isInteger(flowinfo))
      throw new ArgumentTypeError(syscall, `flowinfo must be an integer, got ${describeValue(flowinfo)}`);
    if (!Number.isInteger(scopeid))
      throw new ArgumentTypeError(syscall, `scopeid must be an integer, got ${describeValue(scopeid)}`);
    if (flowinfo < 0 || flowinfo > 0xfffff) throw new OverflowError(syscall, 'flowinfo must be 0-1048575');
    if (scopeid < 0 || scopeid > 0xffffffff)
      throw new OverflowError(syscall, 'scopeid must be a 32-bit unsigned integer');
  }
  let h = host;
  const pct = h.indexOf('%');
  if (pct >= 0 && parseIpv6(h) !== undefined) {
    const scope = h.slice(pct + 1);
    if (/^\d+$/.test(scope) && scopeid === 0) scopeid = Number(scope);
    h = h.slice(0, pct);
  }
  return {
    family: AF_INET6,
    host: await resolveHost(backend, h, AF_INET6, syscall),
    port,
    flowinfo,
    scopeid,
  };
}

/** The tuple (or path) the API returns for a backend address. */
export function toTuple(a: SockAddr): AddressTuple {
  if (a.family === AF_UNIX) return a.path;
  if (a.family === AF_INET) return [a.host, a.port];
  return [a.host, a.port, a.flowinfo, a.scopeid];
}

/** host and port of an address, for error messages. */
export function describeAddress(a: SockAddr): { address: string; port?: number } {
  return a.family === AF_UNIX ? { address: a.path } : { address: a.host, port: a.port };
}

/** The unbound address of a family (what getsockname shows before bind). */
export function anyAddress(family: number): SockAddr {
  if (family === AF_UNIX) return { family: AF_UNIX, path: '' };
  if (family === AF_INET6) return { family: AF_INET6, host: '::', port: 0, flowinfo: 0, scopeid: 0 };
  return { family: AF_INET, host: '0.0.0.0', port: 0 };
}

/**
 * Python's socket.inet_aton: a dotted IPv4 address as its 4 bytes in network order (what
 * struct ip_mreq and IP_MULTICAST_IF take). Throws OSError-style EINVAL for bad text.
 */
export function inet_aton(text: string): Uint8Array {
  const a = parseIpv4(text);
  if (a === undefined)
    throw new SocketError('EINVAL', {
      syscall: 'inet_aton',
      detail: 'illegal IP address string passed to inet_aton',
    });
  return Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
}

/** Python's socket.inet_pton: an address of `family` (AF_INET or AF_INET6) as bytes in network order. */
export function inet_pton(family: number, text: string): Uint8Array {
  if (family === AF_INET) return inet_aton(text);
  const a = family === AF_INET6 ? parseIpv6(text) : undefined;
  if (a === undefined)
    throw new SocketError(family === AF_INET6 ? 'EINVAL' : 'EAFNOSUPPORT', {
      syscall: 'inet_pton',
      detail: 'illegal IP address string passed to inet_pton',
    });
  return a;
}

/** Python's socket.inet_ntop: the text form of 4 or 16 address bytes. */
export function inet_ntop(family: number, bytes: Uint8Array): string {
  if (family === AF_INET && bytes.length === 4)
    return formatIpv4(((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0);
  if (family === AF_INET6 && bytes.length === 16) return formatIpv6(bytes);
  throw new SocketError('EINVAL', { syscall: 'inet_ntop', detail: 'bad address length' });
}
