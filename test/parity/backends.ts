/**
 * Backends the parity suite runs every scenario against. Each scenario is written
 * once against `Backend`; adding a backend is one `registerParityBackend` call
 * here (e.g. the stack backend, over a loopback or memory network).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { osBackend } from '../../src/node/os-backend.ts';
import type { SocketBackend } from '../../src/socket/backend.ts';
import { Socket } from '../../src/socket/socket.ts';

export interface Backend {
  readonly name: string;
  readonly backend: SocketBackend;
  /** A new socket on this backend. */
  socket(family?: number, type?: number): Socket;
  /** The IPv4 address servers bind and clients connect to (loopback for os). */
  readonly host: string;
  /** An IPv6 address to use, or undefined when the backend has no IPv6 yet. */
  readonly host6: string | undefined;
  /** A broadcast address reachable from `host` (127.255.255.255 on Linux's lo). */
  readonly broadcast: string | undefined;
  /** Whether AF_UNIX sockets exist (only the kernel has them; sockstack is TCP/IP). */
  readonly unix: boolean;
  /** A fresh temporary directory for AF_UNIX paths (removed by cleanup). */
  tempDir(): string;
  /** Lets `ms` of the backend's time pass (real time on os, virtual on stack). */
  sleep(ms: number): Promise<void>;
  /** Frees everything the fixture made. */
  cleanup(): Promise<void>;
}

export type BackendFactory = () => Backend | Promise<Backend>;

export const parityBackends = new Map<string, BackendFactory>();

export function registerParityBackend(name: string, factory: BackendFactory): void {
  parityBackends.set(name, factory);
}

function makeOs(): Backend {
  const backend = osBackend();
  const dirs: string[] = [];
  return {
    name: 'os',
    backend,
    socket: (family?: number, type?: number) => new Socket(backend, family, type),
    host: '127.0.0.1',
    host6: '::1',
    broadcast: '127.255.255.255',
    unix: true,
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), 'sockstack-parity-'));
      dirs.push(d);
      return d;
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    async cleanup() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

registerParityBackend('os', makeOs);
registerParityBackend('stack', () => import('../socket/stack-stream-fixture.ts').then((m) => m.makeStack()));
