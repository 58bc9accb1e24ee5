/**
 * getsockopt(IPPROTO_TCP, TCP_INFO) on a kernel socket. Node has no getsockopt, so, as
 * sndbuf.ts does for SO_SNDBUF, a Python one-liner is handed the socket's descriptor and
 * asks the kernel; the answer is the kernel's own `struct tcp_info` (its full size: 280
 * bytes on Linux 6.18, more or less on others). getsockopt is synchronous, so this waits
 * for the child (tens of milliseconds): TCP_INFO is for diagnostics, not a data path.
 */
import { spawnSync } from 'node:child_process';
import type * as net from 'node:net';
import { SocketError } from '../socket/errno.ts';

const SCRIPT =
  'import socket,sys\n' +
  's=socket.socket(fileno=3)\n' +
  'sys.stdout.buffer.write(s.getsockopt(socket.IPPROTO_TCP,socket.TCP_INFO,1024))\n' +
  's.detach()\n';

/** The descriptor under a Node socket or server (libuv's handle), or undefined when it has none. */
function fdOf(h: net.Socket | net.Server): number | undefined {
  const fd = (h as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The kernel's struct tcp_info for `h`, or undefined when `h` has no descriptor yet (the
 * caller answers for a socket in CLOSE). Throws EOPNOTSUPP when it cannot be read (no
 * python3, or a platform without TCP_INFO).
 */
export function kernelTcpInfo(h: net.Socket | net.Server, python = 'python3'): Uint8Array | undefined {
  const fd = fdOf(h);
  if (fd === undefined) return undefined;
  // A number, not the socket object: spawnSync takes only descriptors (a handle aborts Node 20).
  const r = spawnSync(python, ['-I', '-c', SCRIPT], {
    stdio: ['ignore', 'pipe', 'ignore', fd],
    timeout: 10_000,
  });
  if (r.status !== 0 || !r.stdout || r.stdout.length === 0)
    throw new SocketError('EOPNOTSUPP', { detail: 'TCP_INFO needs python3 to read the kernel socket' });
  return new Uint8Array(r.stdout);
}
