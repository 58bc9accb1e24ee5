/**
 * The OS-kernel socket backend: the front `Socket` over Node's `net` (TCP over
 * AF_INET/AF_INET6, AF_UNIX stream paths; os-stream.ts) and `dgram` (UDP; os-dgram.ts).
 *
 * Node gives us connected sockets and servers, not the bare syscalls, so a few
 * kernel behaviours are rebuilt on top. What a Python program on Linux sees, and
 * where this backend differs:
 *
 * - bind() (TCP): Node cannot bind without listening, and listening at bind time
 *   would let clients connect before listen(). So bind() *probes*: it listens on
 *   the address, reads the port the kernel chose, and closes again; errors
 *   (EADDRINUSE, EACCES for ports < 1024 when not root, EADDRNOTAVAIL) surface at
 *   bind() as on Linux. The port is then reserved inside this process (os-ports.ts:
 *   a second bind to it fails EADDRINUSE unless both set SO_REUSEADDR, by the same
 *   rules as the stack's TCP, src/transport/bind-rules.ts) and really taken at
 *   listen()/connect(). Deviation: between bind() and listen() another *process*
 *   could take the port; listen() then fails EADDRINUSE. Node binds with
 *   SO_REUSEADDR always, so the kernel lets a bind over a TIME-WAIT connection
 *   through; the backend refuses it itself (from /proc/net/tcp) unless the new
 *   socket sets SO_REUSEADDR.
 * - bind() (AF_UNIX): fails EADDRINUSE if the path exists, as Linux; the socket
 *   file appears at listen() (Linux: at bind()), and libuv unlinks it on close
 *   (Linux leaves it).
 * - listen(backlog): the kernel queue has the backlog, but Node accepts eagerly,
 *   so established connections wait in a user-space queue without a limit.
 * - recv(): an empty Uint8Array at end of stream; ECONNRESET once after a RST,
 *   then end of stream. Returned arrays are plain Uint8Arrays (copies, never Buffers).
 * - send(): Node takes everything into its write queue; send() returns the full
 *   length until that queue holds SO_SNDBUF bytes, then blocks (or EAGAIN). After
 *   the peer has gone, the first send usually succeeds and a later one fails with
 *   EPIPE or ECONNRESET, as with the kernel.
 * - UDP: whole datagrams arrive from Node; recvfrom(n) cuts them to n bytes and
 *   drops the rest (POSIX truncation). Broadcast without SO_BROADCAST fails EACCES
 *   (the kernel's own answer). On a connected UDP socket, ICMP port-unreachable
 *   is surfaced by libuv as an 'error' (ECONNREFUSED, syscall recvmsg) and raised
 *   once by the next recv/send, as on Linux. Deviation: sendto() with an address
 *   on a connected UDP socket fails EISCONN (Node refuses; Linux would send).
 * - AF_UNIX SOCK_DGRAM is not available (Node has no unix datagram sockets): EAFNOSUPPORT.
 * - SO_REUSEPORT, TCP_MAXSEG, TCP_KEEPINTVL/KEEPCNT are recorded but not applied
 *   (Node 20 has no API for them).
 */

import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import type { ResolvedAddress, Scheduler, SocketBackend } from '../socket/backend.ts';
import {
  type AddressFamily,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  SOCK_DGRAM,
  type SocketKind,
} from '../socket/constants.ts';
import { GaiError, SocketError } from '../socket/errno.ts';
import { OsDatagram } from './os-dgram.ts';
import { OsStream } from './os-stream.ts';

const TIMEOUT_MAX = 2 ** 31 - 1;

/** Real timers; waits longer than Node's 24.8-day limit are chained. */
export const realScheduler: Scheduler = {
  schedule(fn: () => void, ms: number): unknown {
    const h: { t: ReturnType<typeof setTimeout> | undefined } = { t: undefined };
    let left = Math.max(0, ms);
    const arm = () => {
      const step = Math.min(left, TIMEOUT_MAX);
      left -= step;
      h.t = setTimeout(left > 0 ? arm : fn, step);
    };
    arm();
    return h;
  },
  cancel(handle: unknown): void {
    const h = handle as { t: ReturnType<typeof setTimeout> | undefined };
    if (h?.t !== undefined) clearTimeout(h.t);
  },
};

// ---- the backend -----------------------------------------------------------------

async function resolve(host: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> {
  try {
    const r = await lookup(host, { all: true, family: family === AF_INET ? 4 : family === AF_INET6 ? 6 : 0 });
    return r.map((a) => ({ family: a.family === 6 ? AF_INET6 : AF_INET, host: a.address }));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new GaiError(
      code === 'EAI_AGAIN' ? 'EAI_AGAIN' : code === 'EAI_FAIL' ? 'EAI_FAIL' : 'EAI_NONAME',
      host,
    );
  }
}

export function createOsBackend(): SocketBackend {
  return {
    name: 'os',
    scheduler: realScheduler,
    create(family: AddressFamily, type: SocketKind) {
      if (type === SOCK_DGRAM) {
        if (family === AF_UNIX)
          throw new SocketError('EAFNOSUPPORT', {
            syscall: 'socket',
            detail: 'the OS backend has no AF_UNIX datagram sockets (Node lacks them)',
          });
        return new OsDatagram(family);
      }
      return new OsStream(family);
    },
    resolve,
    gethostname: () => hostname(),
  };
}

let shared: SocketBackend | undefined;
/** The process-wide OS backend. */
export function osBackend(): SocketBackend {
  shared ??= createOsBackend();
  return shared;
}
