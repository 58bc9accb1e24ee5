/**
 * What the os backend's stream and datagram sockets share: address conversion between
 * `SockAddr` and Node's (host, port) pairs, and the options every OS socket records.
 */
import type { OptionValue, SockAddr } from '../socket/backend.ts';
import {
  type AddressFamily,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  SO_BROADCAST,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SOL_SOCKET,
  TCP_KEEPIDLE,
  TCP_NODELAY,
} from '../socket/constants.ts';

/** Host texts of the wildcard address. */
export const ANY_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

export function ipFamily(f: AddressFamily): 4 | 6 {
  return f === AF_INET6 ? 6 : 4;
}

export function fromNode(
  family: AddressFamily,
  address: string | undefined,
  port: number | undefined,
): SockAddr {
  if (family === AF_INET6)
    return { family: AF_INET6, host: address ?? '::', port: port ?? 0, flowinfo: 0, scopeid: 0 };
  return { family: AF_INET, host: address ?? '0.0.0.0', port: port ?? 0 };
}

export function hostOf(a: SockAddr): string {
  if (a.family === AF_UNIX) return a.path;
  return a.family === AF_INET6 && a.scopeid ? `${a.host}%${a.scopeid}` : a.host;
}

/** Options every OS socket records (the front keeps the authoritative copy for getsockopt). */
export class Opts {
  reuse = false;
  broadcast = false;
  keepalive = false;
  keepidle = 7200;
  nodelay = false;
  linger: Uint8Array | undefined;
  sndbuf = 65536;
  rcvbuf = 131072;
  v6only = false;
  /** IP_TTL (undefined: the kernel's default). */
  ttl: number | undefined;
  copy(): Opts {
    return Object.assign(new Opts(), this);
  }
  get abortive(): boolean {
    if (!this.linger) return false;
    const dv = new DataView(this.linger.buffer, this.linger.byteOffset, 8);
    return dv.getInt32(0, true) !== 0 && dv.getInt32(4, true) === 0;
  }
  set(level: number, name: number, v: OptionValue): void {
    const n = typeof v === 'number' ? v : 0;
    if (level === SOL_SOCKET) {
      if (name === SO_REUSEADDR) this.reuse = n !== 0;
      else if (name === SO_BROADCAST) this.broadcast = n !== 0;
      else if (name === SO_KEEPALIVE) this.keepalive = n !== 0;
      else if (name === SO_LINGER) this.linger = v as Uint8Array;
      else if (name === SO_SNDBUF) this.sndbuf = Math.max(4096, n);
      else if (name === SO_RCVBUF) this.rcvbuf = Math.max(4096, n);
    } else if (level === IPPROTO_TCP) {
      if (name === TCP_NODELAY) this.nodelay = n !== 0;
      else if (name === TCP_KEEPIDLE) this.keepidle = n;
    } else if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) this.v6only = n !== 0;
    else if (level === IPPROTO_IP && name === IP_TTL) this.ttl = n === -1 ? undefined : n;
  }
}
