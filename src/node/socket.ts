/**
 * The Node entry point of the sockets API: Python's `socket` module, async.
 *
 *   import { socket, AF_INET, SOCK_STREAM } from 'sockstack/node';
 *   const s = socket(AF_INET, SOCK_STREAM);          // the OS kernel's TCP
 *   const t = socket(AF_INET, SOCK_STREAM, { backend: stackBackend });  // sockstack's TCP
 *
 * The default backend is the OS one (Node's net/dgram). `backend` may be a
 * SocketBackend object or a registered name ('os', later 'stack').
 */

import type { Address } from '../socket/address.ts';
import { AF_INET, SOCK_STREAM } from '../socket/constants.ts';
import { registerBackend, type SocketBackend } from '../socket/index.ts';
import {
  type AddrInfo,
  getaddrinfo as gai,
  gethostbyname as ghbn,
  gethostname as ghn,
} from '../socket/resolve.ts';
import { type CreateServerOptions, createServer as cs, socketpair as sp } from '../socket/server.ts';
import { Socket } from '../socket/socket.ts';
import { osBackend } from './os-backend.ts';

export * from '../socket/index.ts';
export { createOsBackend, osBackend, realScheduler } from './os-backend.ts';

registerBackend('os', osBackend);

export interface SocketFactoryOptions {
  /** A backend, or nothing for the OS backend. */
  backend?: SocketBackend;
  /** IPPROTO_TCP / IPPROTO_UDP / 0. */
  proto?: number;
}

/** socket(family=AF_INET, type=SOCK_STREAM): a new socket, on the OS backend unless told otherwise. */
export function socket(
  family: number = AF_INET,
  type: number = SOCK_STREAM,
  options: SocketFactoryOptions = {},
): Socket {
  return new Socket(options.backend ?? osBackend(), family, type, options.proto ?? 0);
}

/** This host's name: the machine's (os.hostname()) on the OS backend, the Stack's name on a stack backend. */
export function gethostname(options: { backend?: SocketBackend } = {}): string {
  return ghn(options.backend ?? osBackend());
}

/** getaddrinfo(host, port, family=AF_UNSPEC, type=0) → [family, type, proto, canonname, sockaddr][]. */
export function getaddrinfo(
  host: string | null,
  port: number | string | null,
  family = 0,
  type = 0,
  options: { backend?: SocketBackend } = {},
): Promise<AddrInfo[]> {
  return gai(options.backend ?? osBackend(), host, port, family, type);
}

/** The first IPv4 address of `host`. */
export function gethostbyname(host: string, options: { backend?: SocketBackend } = {}): Promise<string> {
  return ghbn(options.backend ?? osBackend(), host);
}

/** Python's socket.create_connection: resolve, try each address in turn, connect. */
export async function createConnection(
  address: readonly [string, number],
  timeout: number | null = null,
  options: { backend?: SocketBackend } = {},
): Promise<Socket> {
  const backend = options.backend ?? osBackend();
  const infos = await gai(backend, address[0], address[1], 0, SOCK_STREAM);
  let last: unknown;
  for (const [family, type, proto, , sockaddr] of infos) {
    const s = new Socket(backend, family, type, proto);
    s.settimeout(timeout);
    try {
      await s.connect(sockaddr as [string, number]);
      return s;
    } catch (e) {
      last = e;
      await s.close();
    }
  }
  throw last;
}

/** Python's socket.socketpair(): two connected sockets (over loopback; AF_INET by default). */
export function socketpair(
  family: number = AF_INET,
  type: number = SOCK_STREAM,
  proto = 0,
  options: { backend?: SocketBackend } = {},
): Promise<[Socket, Socket]> {
  return sp(options.backend ?? osBackend(), family, type, proto);
}

/** Python's socket.create_server(address): a listening TCP socket (SO_REUSEADDR, bind, listen). */
export function createServer(
  address: Address,
  options: CreateServerOptions & { backend?: SocketBackend } = {},
): Promise<Socket> {
  const { backend, ...rest } = options;
  return cs(backend ?? osBackend(), address, rest);
}
