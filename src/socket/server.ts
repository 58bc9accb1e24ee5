/**
 * Python's `socket.socketpair()` and `socket.create_server()`, backend-neutral (the
 * Node entry point adds versions whose backend defaults to the OS one).
 *
 *   const [a, b] = await socketpair(backend);          // two connected sockets
 *   const srv = await createServer(backend, ['', 8080]); // socket + SO_REUSEADDR + bind + listen
 *
 * socketpair() connects over loopback (as Python does where AF_UNIX socketpair is
 * missing): a listener on 127.0.0.1 (::1 for AF_INET6) port 0, a connect, an accept,
 * then the listener is closed. Deviation from Python on Linux: the default family is
 * AF_INET, not AF_UNIX, because sockstack's stack has no AF_UNIX.
 */
import type { Address } from './address.ts';
import type { SocketBackend } from './backend.ts';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_STREAM,
  SOL_SOCKET,
} from './constants.ts';
import { SocketError, ValueError } from './errno.ts';
import { Socket } from './socket.ts';

/** Two sockets connected to each other. */
export async function socketpair(
  backend: SocketBackend,
  family: number = AF_INET,
  type: number = SOCK_STREAM,
  proto = 0,
): Promise<[Socket, Socket]> {
  if (family !== AF_INET && family !== AF_INET6)
    throw new SocketError('EAFNOSUPPORT', {
      syscall: 'socketpair',
      detail: 'socketpair() makes AF_INET or AF_INET6 pairs (over loopback)',
    });
  if (type !== SOCK_STREAM)
    throw new SocketError('EOPNOTSUPP', { syscall: 'socketpair', detail: 'only SOCK_STREAM pairs' });
  const host = family === AF_INET ? '127.0.0.1' : '::1';
  const lsock = new Socket(backend, family, type, proto);
  try {
    await lsock.bind([host, 0]);
    await lsock.listen(1);
    const port = (lsock.getsockname() as [string, number])[1];
    const a = new Socket(backend, family, type, proto);
    try {
      const accepting = lsock.accept();
      await a.connect([host, port]);
      const [b] = await accepting;
      return [a, b];
    } catch (e) {
      await a.close();
      throw e;
    }
  } finally {
    await lsock.close();
  }
}

export interface CreateServerOptions {
  /** AF_INET (default) or AF_INET6. */
  family?: number;
  /** listen()'s backlog; default: listen()'s default. */
  backlog?: number;
  /** Sets SO_REUSEPORT. */
  reusePort?: boolean;
  /** AF_INET6 only: accept IPv4 too (IPV6_V6ONLY off). */
  dualstackIpv6?: boolean;
}

/**
 * A listening TCP socket bound to `address` (Python's create_server): SO_REUSEADDR on
 * (as Python does on POSIX), bind, listen. Closes the socket if any step fails.
 */
export async function createServer(
  backend: SocketBackend,
  address: Address,
  options: CreateServerOptions = {},
): Promise<Socket> {
  const family = options.family ?? AF_INET;
  if (options.dualstackIpv6 && family !== AF_INET6)
    throw new ValueError('create_server', 'dualstackIpv6 requires family AF_INET6');
  const s = new Socket(backend, family, SOCK_STREAM);
  try {
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reusePort) s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
    if (family === AF_INET6) s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, options.dualstackIpv6 ? 0 : 1);
    await s.bind(address);
    if (options.backlog === undefined) await s.listen();
    else await s.listen(options.backlog);
    return s;
  } catch (e) {
    await s.close();
    throw e;
  }
}
