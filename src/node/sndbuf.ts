/**
 * SO_SNDBUF for a connected node socket. Node has no setsockopt, so a Python one-liner is
 * handed the socket (spawn's stdio shares its file descriptor) and sets the option there:
 * a socket option belongs to the socket, not to the descriptor, so it holds for ours.
 *
 * Why the QEMU link wants it: a unix stream socket's sender may have only SO_SNDBUF bytes
 * (net.core.wmem_default, 208 KiB) in the kernel at once, three 64 KiB frames. QEMU reads
 * them faster than a busy Node event loop refills them, and the guest then waits for
 * frames. passt sets SO_SNDBUF on its QEMU socket to the most the kernel allows
 * (INT_MAX / 2, clamped to net.core.wmem_max), so it can queue a whole window.
 */
import { spawn } from 'node:child_process';
import type * as net from 'node:net';

const SCRIPT =
  'import socket,sys\n' +
  's=socket.socket(fileno=3)\n' +
  's.setsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF,int(sys.argv[1]))\n' +
  'print(s.getsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF))\n' +
  's.detach()\n';

/**
 * Asks for `bytes` of send buffer on `sock` (the kernel clamps it to net.core.wmem_max
 * and doubles it for its bookkeeping). Resolves with the size the kernel reports, or
 * undefined when it could not be set (no python3, no descriptor): the link works as before.
 */
export function setSendBuffer(
  sock: net.Socket,
  bytes: number,
  python = 'python3',
): Promise<number | undefined> {
  return new Promise((resolve) => {
    let out = '';
    let child: ReturnType<typeof spawn>;
    const flowing = sock.readableFlowing === true;
    try {
      child = spawn(python, ['-I', '-c', SCRIPT, String(Math.max(0, Math.floor(bytes)))], {
        stdio: ['ignore', 'pipe', 'ignore', sock],
      });
    } catch {
      resolve(undefined);
      return;
    } finally {
      // spawn stops reading a socket it hands to a child as stdio (so that only the child
      // reads it); ours keeps reading as it did.
      if (flowing) sock.resume();
    }
    child.stdout?.setEncoding('ascii');
    child.stdout?.on('data', (d: string) => {
      out += d;
    });
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      const n = Number(out.trim());
      resolve(code === 0 && Number.isFinite(n) && n > 0 ? n : undefined);
    });
  });
}
