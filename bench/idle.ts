/**
 * Idle connections at scale: N established TCP connections between two stacks on a memory
 * cable, then what they cost while nothing happens.
 *
 *   node --expose-gc --import tsx bench/idle.ts [--conns 100000] [--clock-start SECONDS] [--exchange]
 *
 * Prints the heap (V8 heap + ArrayBuffers) per endpoint after a full GC, with no data
 * buffered (so this is what a connection costs beyond its buffers), and the CPU time and
 * timer events of one idle virtual minute (keepalive off, as Linux's default). The goal in
 * issue #14: at most 2 KiB per endpoint, and an idle minute costs no measurable CPU.
 * `--exchange`: every connection first carries one byte each way (read by the other side),
 * so the figure is that of a connection idle after use rather than one never used.
 * `--clock-start`: the virtual clock starts there, as in a process that has been up that
 * long (the system clock counts microseconds from the stack's start; past 2^31 µs, 36
 * minutes, times stored in a connection no longer fit a small integer and are boxed).
 * Not a test: prints numbers, never fails on speed.
 */
import { parseArgs } from 'node:util';
import { Cable } from '../src/link/memory.ts';
import { Simulation } from '../src/link/sim.ts';
import { Stack } from '../src/stack.ts';
import type { TcpConnection } from '../src/tcp/connection.ts';
import { millis, seconds } from '../src/time/instant.ts';
import type { IpAddress } from '../src/wire/address.ts';

const { values } = parseArgs({
  options: {
    conns: { type: 'string', default: '100000' },
    'clock-start': { type: 'string', default: '0' },
    exchange: { type: 'boolean', default: false },
  },
});
const total = Math.max(1, Number(values.conns) || 100_000);
const clockStart = Math.max(0, Number(values['clock-start']) || 0);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.log('bench/idle.ts: run with node --expose-gc (heap figures need a full GC)');
  process.exit(0);
}
const heap = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const sim = new Simulation({ seed: 1, start: seconds(clockStart) });
const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
sim.runUntilIdle();
const B: IpAddress = { family: 4, v4: 0x0a000002 };

// One listener port per 15,000 connections: the ephemeral range (IANA's 49152-65535,
// RFC 6335) gives 16,384 ports per destination address and port.
const PER_PORT = 15_000;
const ports = Math.ceil(total / PER_PORT);
const accepted: TcpConnection[] = [];
for (let p = 0; p < ports; p++) {
  const l = b.tcp.listen({ port: 6000 + p, backlog: 4096 });
  l.onAcceptable = () => {
    for (let c = l.accept(); c; c = l.accept()) accepted.push(c);
  };
}
const before = heap();
const clients: TcpConnection[] = [];
const t0 = cpu();
for (let i = 0; i < total; i++) {
  clients.push(a.tcp.connect({ remote: B, remotePort: 6000 + Math.floor(i / PER_PORT) }));
  if (i % 1000 === 999) sim.runFor(millis(5));
}
sim.runFor(seconds(5));
if (values.exchange) {
  // A thousand connections at a time, as the handshakes above (the stacks' receive queues
  // hold so many frames between polls), then each side reads its byte when it has come.
  const one = new Uint8Array([1]);
  const writeAll = (conns: TcpConnection[]) => {
    for (let i = 0; i < conns.length; i++) {
      conns[i]!.write(one);
      if (i % 1000 === 999) sim.runFor(millis(5));
    }
    sim.runFor(seconds(1));
  };
  const readAll = (conns: TcpConnection[]) => {
    let waiting = conns;
    for (let t = 0; t < 120 && waiting.length > 0; t++) {
      waiting = waiting.filter((c) => c.read() === null);
      if (waiting.length > 0) sim.runFor(seconds(1));
    }
    return waiting.length;
  };
  writeAll(clients);
  let unread = readAll(accepted);
  writeAll(accepted);
  unread += readAll(clients);
  if (unread > 0) console.log(`exchange: ${unread} connections never got their byte`);
  sim.runFor(seconds(5));
}
const setupMs = cpu() - t0;
const established = clients.filter((c) => c.state === 'ESTABLISHED').length;
const after = heap();
const perEndpoint = (after - before) / (2 * total);

// Idle virtual minutes: the first still sees each handshake's last timer entry come due
// once (a stopped timer's entry fires and goes away, tcb.ts clearTimer); the second is idle.
const minute = () => {
  const c0 = cpu();
  const r = sim.runFor(seconds(60));
  return { ms: cpu() - c0, steps: r.steps };
};
const first = minute();
const second = minute();

console.log(
  `bench/idle.ts — Node ${process.version}, ${new Date().toISOString()}, clock from ${clockStart} s`,
);
console.log(`connections established: ${established} of ${total} (accepted ${accepted.length})`);
console.log(
  `setup: ${setupMs.toFixed(0)} ms CPU (${((setupMs * 1000) / total).toFixed(1)} µs per connection)`,
);
console.log(`heap per endpoint, no data buffered: ${(perEndpoint / 1024).toFixed(2)} KiB (goal ≤ 2 KiB)`);
console.log(`first idle virtual minute: ${first.ms.toFixed(1)} ms CPU, ${first.steps} poll steps`);
console.log(`second idle virtual minute: ${second.ms.toFixed(1)} ms CPU, ${second.steps} poll steps`);
console.log(`timer queue entries left (both stacks): ${a.timers.size + b.timers.size}`);
