/**
 * The parity-suite fixture for the stack backend (registered in
 * test/parity/backends.ts): one sockstack host driven in real time by a
 * StackRuntime; servers and clients meet on its loopback (127.0.0.1), like the
 * os fixture on the kernel's, and broadcast to 127.255.255.255 like Linux's lo.
 * IPv6 on ::1 (AF_INET6); no AF_UNIX (the stack has none). Unprivileged (ports < 1024 are EACCES).
 */
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { StackRuntime } from '../../src/node/runtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Socket } from '../../src/socket/socket.ts';
import { Stack } from '../../src/stack.ts';
import type { Backend } from '../parity/backends.ts';

export function makeStack(): Backend {
  const driver = new RealtimeDriver({ unref: true });
  const runtime = StackRuntime.for(driver);
  const stack = runtime.addStack(new Stack({ clock: driver.clock, rng: new CryptoRng(), name: 'parity' }));
  const backend = stack.backend;
  const sockets: Socket[] = [];
  runtime.ref();
  return {
    name: 'stack',
    backend,
    socket(family?: number, type?: number) {
      const s = new Socket(backend, family, type);
      sockets.push(s);
      runtime.kick();
      return s;
    },
    host: '127.0.0.1',
    host6: '::1',
    broadcast: '127.255.255.255',
    unix: false,
    privileged: stack.privileged,
    ephemeral: [49152, 65535],
    hostname: 'parity',
    tempDir() {
      throw new Error('the stack backend has no AF_UNIX');
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    async cleanup() {
      for (const s of sockets.splice(0)) await s.close();
      runtime.unref();
      runtime.stop();
    },
  };
}
