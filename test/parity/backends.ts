/**
 * Backends the parity suite runs every scenario against. Each scenario is written
 * once against `Backend`; adding a backend is one `registerParityBackend` call
 * here (e.g. the stack backend, over a loopback or memory network).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
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
  /** Whether binding ports below 1024 is allowed (root on the os backend, the stack's privileged flag). */
  readonly privileged: boolean;
  /** The range bind(port 0) picks from: the kernel's ip_local_port_range; 49152-65535 on the stack (RFC 6335). */
  readonly ephemeral: readonly [number, number];
  /** What gethostname() must answer (os.hostname() on os, the Stack's name on stack). */
  readonly hostname: string;
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

/** Linux's ip_local_port_range (32768-60999 by default), or that default when /proc is absent. */
function kernelEphemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch {}
  return [32768, 60999];
}

/** Whether this process may bind port 1023 on the kernel: root, or ip_unprivileged_port_start lowered. */
function kernelPrivileged(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()) <= 1023;
  } catch {
    return false;
  }
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
    privileged: kernelPrivileged(),
    ephemeral: kernelEphemeralRange(),
    hostname: hostname(),
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
